package dev.guestmem.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** {@link PhysSection#segmentOffsetOf}: the host byte behind a translation, through an alias. */
class SegmentOffsetOfTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    private final RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x100000);
    private final AddressSpace as;

    SegmentOffsetOfTest() {
        root.addSubregion(0, ram);
        // 16 KiB of ram from its offset 0x30000, at guest 0x200000 (its section starts 0x1000 into
        // the alias: the first page is covered by a device of higher priority)
        root.addSubregion(0x200000, new AliasRegion(sys, null, "window", ram, 0x30000, 0x4000));
        root.addSubregionOverlap(0x200000, new IoRegion(sys, null,
                MemoryRegionOps.builder().read((a, s) -> 0).build(), "dev", 0x1000), 1);
        as = sys.addressSpace(root, "memory");
        for (long i = 0; i < 0x100000; i += 8) {
            ram.ramBlock().segment().set(ValueLayout.JAVA_LONG_UNALIGNED, i, i);
        }
    }

    @Test
    void anAliasedByteIsFoundWhereTheGuestReadsIt() {
        Translation out = new Translation();
        for (long guest : new long[] {0x201000, 0x202008, 0x203ff8}) {
            PhysSection s = as.translate(guest, 8, false, MemTxAttrs.UNSPECIFIED, out);
            long host = s.segmentOffsetOf(out.xlat());
            assertEquals(0x30000 + (guest - 0x200000), host);
            assertEquals(as.ldq(guest), s.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, host));
        }
    }

    @Test
    void anOffsetOutsideTheSectionIsRefused() {
        Translation out = new Translation();
        PhysSection s = as.translate(0x201000, 8, false, MemTxAttrs.UNSPECIFIED, out);
        assertThrows(IllegalArgumentException.class, () -> s.segmentOffsetOf(0x30000)); // the device's page
        assertThrows(IllegalArgumentException.class, () -> s.segmentOffsetOf(0x34000)); // past the alias
        assertThrows(IllegalArgumentException.class, () -> s.segmentOffsetOf(-1L));
        assertEquals(0x33fff, s.segmentOffsetOf(0x33fff));
    }

    @Test
    void mmioAndHolesHaveNoHostMemory() {
        Translation out = new Translation();
        PhysSection dev = as.translate(0x200000, 4, false, MemTxAttrs.UNSPECIFIED, out);
        assertThrows(IllegalStateException.class, () -> dev.segmentOffsetOf(out.xlat()));
        PhysSection hole = as.translate(0x900000, 4, false, MemTxAttrs.UNSPECIFIED, out);
        assertThrows(IllegalStateException.class, () -> hole.segmentOffsetOf(out.xlat()));
    }
}
