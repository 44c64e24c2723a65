package dev.guestmem.discard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import org.junit.jupiter.api.Test;

/** {@link DiscardSections}: QEMU's {@code memory_region_section_intersect_range}, with ends at 2^64. */
class DiscardSectionsTest {
    private final MemorySystem sys = new MemorySystem();
    private final MemoryRegion big = new ContainerRegion(sys, null, "big", MemoryRegion.SIZE_2_64);

    private MemoryRegionSection sec(long off, long size, long addr) {
        return new MemoryRegionSection(big, null, off, size, addr, true, false, true);
    }

    @Test
    void intersectCutsOffsetsAndMovesTheAddressByAsMuch() {
        MemoryRegionSection s = sec(0x1000, 0x4000, 0x9000_0000L);
        MemoryRegionSection cut = DiscardSections.intersect(s, 0x2000, 0x1800);
        assertEquals(sec(0x2000, 0x1800, 0x9000_1000L), cut);
        assertTrue(cut.readonly() && cut.unmergeable(), "flags kept");
        assertEquals(sec(0x1000, 0x800, 0x9000_0000L), DiscardSections.intersect(s, 0, 0x1800));
        assertEquals(sec(0x4800, 0x800, 0x9000_3800L), DiscardSections.intersect(s, 0x4800, 0x10000));
        assertSame(s, DiscardSections.intersect(s, 0, 0x10000), "covered: the section itself");
        assertNull(DiscardSections.intersect(s, 0x5000, 0x1000), "touching the end");
        assertNull(DiscardSections.intersect(s, 0, 0x1000), "touching the start");
        assertNull(DiscardSections.intersect(s, 0x2000, 0), "empty range");
        assertThrows(IllegalArgumentException.class, () -> DiscardSections.intersect(MemoryRegionSection.empty(), 0, 1));
    }

    @Test
    void endsAt2To64AreNotWrapped() {
        // a section whose region range ends exactly at 2^64, mapped so its address range ends at 2^64 too
        MemoryRegionSection top = sec(-0x2000L, 0x2000, -0x2000L);
        assertEquals(Int128.TWO_64, DiscardSections.regionEnd(top));
        assertEquals(sec(-0x1000L, 0x1000, -0x1000L), DiscardSections.intersect(top, -0x1000L, 0x1000));
        // a range that would wrap past 2^64 in 64 bits: [2^64 - 0x1000, 2^64 + 0x1000)
        assertEquals(sec(-0x1000L, 0x1000, -0x1000L), DiscardSections.intersect(top, -0x1000L, 0x2000));
        assertNull(DiscardSections.intersect(top, 0, 0x1000), "low range does not meet the top");
        // the whole-space section (size 0 = 2^64)
        MemoryRegionSection all = sec(0, 0, 0);
        assertEquals(Int128.TWO_64, DiscardSections.sizeOf(all));
        assertEquals(sec(Long.MIN_VALUE, 0x1000, Long.MIN_VALUE), DiscardSections.intersect(all, Long.MIN_VALUE, 0x1000),
                "2^63 is an ordinary unsigned offset");
        assertEquals(sec(-1L, 1, -1L), DiscardSections.intersect(all, -1L, 1));
        assertEquals(-1L, DiscardSections.intersect(all, 0, -1L).size());
        // an address that wraps: region offset 0 shown at 2^64 - 0x1000 (addresses are mod 2^64)
        MemoryRegionSection wrap = sec(0, 0x1000, -0x1000L);
        assertEquals(sec(0x800, 0x800, -0x800L), DiscardSections.intersect(wrap, 0x800, 0x800));
        assertTrue(DiscardSections.within(sec(0x1000, 0x1000, 0), 0x2000));
        assertTrue(!DiscardSections.within(top, -1L), "ends at 2^64, past 2^64 - 1");
    }

    @Test
    void ofRegionIsASectionOutsideAnyView() {
        MemoryRegionSection s = DiscardSections.ofRegion(big, 0x3000, 0x1000);
        assertEquals(new MemoryRegionSection(big, null, 0x3000, 0x1000, 0, false, false, false), s);
        assertThrows(IllegalArgumentException.class, () -> DiscardSections.ofRegion(big, 0, 0));
    }
}
