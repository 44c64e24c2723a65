package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
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
}
