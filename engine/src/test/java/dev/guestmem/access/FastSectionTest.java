package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The per-space fast RAM section never outlives the view it came from: after a topology change,
 * the same address answers from the new map (other RAM, MMIO, or nothing), for loads and stores.
 */
class FastSectionTest {
    private static final long BASE = 0x10000;

    @Test
    void fastSectionFollowsEveryPublication() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        try (RamBlock a = RamBlock.anonymous("a", 0x2000); RamBlock b = RamBlock.anonymous("b", 0x2000)) {
            a.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x11111111);
            b.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x22222222);
            RamRegion ra = new RamRegion(sys, null, "a", a, false, false);
            RamRegion rb = new RamRegion(sys, null, "b", b, false, false);
            root.addSubregion(BASE, ra);
            AddressSpace as = sys.addressSpace(root, "memory");
            MemTxResultHolder r = new MemTxResultHolder();

            assertEquals(0x11111111, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r)); // slow, then cached
            assertEquals(0x11111111, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r)); // fast
            assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x14, 7));
            assertEquals(7, a.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));

            // another block at the same address
            root.delSubregion(ra);
            root.addSubregion(BASE, rb);
            assertEquals(0x22222222, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x14, 9));
            assertEquals(9, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));
            assertEquals(7, a.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));

            // MMIO at the same address
            root.delSubregion(rb);
            root.addSubregion(BASE, new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((addr, size) -> 0x5A5A0000L | addr).write((addr, v, size) -> { }).build(), "io", 0x2000));
            assertEquals(0x5A5A0010, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.OK, r.get());

            // nothing at the address
            root.delSubregion(root.subregions().get(0));
            assertEquals(0, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.DECODE_ERROR, r.get());
            assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(BASE + 0x14, 1));
            assertEquals(9, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));
        }
    }

    /**
     * A dirty-logged store that takes the fast window marks the right ram_addr: the block is the
     * second of the system (ram_addr not 0) and the window belongs to an alias into its middle, so
     * both the block offset and the section's offset in the block count.
     */
    @Test
    void loggedFastStoresMarkTheirOwnRamAddr() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        try (RamBlock first = RamBlock.anonymous("first", 0x10000); RamBlock second = RamBlock.anonymous("second", 0x10000)) {
            RamRegion r1 = new RamRegion(sys, null, "first", first, false, false);
            RamRegion r2 = new RamRegion(sys, null, "second", second, false, false);
            root.addSubregion(0, r1);
            root.addSubregion(0x100000, new AliasRegion(sys, null, "window", r2, 0x3000, 0x4000));
            AddressSpace as = sys.addressSpace(root, "memory");
            sys.globalDirtyLogStart();
            DirtyMemory dirty = sys.dirtyMemory();
            dirty.clearDirtyRange(0, dirty.sizeBytes());
            long page = DirtyMemory.TARGET_PAGE_SIZE;
            for (int i = 0; i < 3; i++) { // the first store fills the fast window, the others take it
                assertEquals(MemTxResult.OK, as.stlLe(0x100000 + 0x1010 + i * 4, 0x40 + i));
            }
            long expected = second.offset() + 0x3000 + 0x1000; // page of window offset 0x1010
            assertTrue(second.offset() > 0, "the second block is not at ram_addr 0");
            for (long p = 0; p < dirty.sizeBytes(); p += page) {
                assertEquals(p == expected, dirty.getDirty(p, page, DirtyMemory.DIRTY_MEMORY_MIGRATION),
                        "ram_addr page 0x" + Long.toHexString(p));
            }
            assertEquals(0x42, second.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x3000 + 0x1018));
            // a store after the clear is logged again, also on the fast path
            dirty.clearDirtyRange(0, dirty.sizeBytes());
            assertEquals(MemTxResult.OK, as.stlLe(0x100000 + 0x2000, 1));
            assertTrue(dirty.getDirty(second.offset() + 0x5000, page, DirtyMemory.DIRTY_MEMORY_MIGRATION));
            assertFalse(dirty.getDirty(expected, page, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        }
    }
}
