package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** {@code flatview_do_translate}'s IOMMU loop through an address space: loads, stores, buffers, translate. */
class IommuTranslateTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);

    /**
     * The IOMMU loop's contract (issue 4, Dispatch): permission bit {@code 1 << isWrite}, address
     * composition with addr_mask, plen clamped to the IOMMU page, lookup in the target space.
     */
    @Test
    void iommuLoopFollowsPermissionsMasksAndTheTargetSpace() {
        RamBlock blk = RamBlock.anonymous("target", 0x10000);
        ContainerRegion tgtRoot = new ContainerRegion(sys, null, "tgt-root", -1L);
        tgtRoot.addSubregion(0, new RamRegion(sys, null, "target", blk, false, false));
        AddressSpace target = sys.addressSpace(tgtRoot, "target");
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x10000);
        // page n -> target 0xf000 - n*0x1000 (reversed, so crossing a page is visible);
        // pages 8.. are read-only
        iommu.setIommuOps((addr, flag, idx, out) -> {
            long page = addr >>> 12;
            out.targetAs = target;
            out.translatedAddr = 0xF000 - page * 0x1000;
            out.addrMask = 0xFFF;
            out.perm = page < 8 ? IommuTlbEntry.RW : IommuTlbEntry.RO;
        });
        root.addSubregion(0x100000, iommu);
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(MemTxResult.OK, as.stlLe(0x100010, 0xA1B2C3D4));
        assertEquals(0xA1B2C3D4, blk.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0xF010));
        assertEquals(0xA1B2C3D4, as.ldlLe(0x100010));
        // plen clamped to the end of the IOMMU page
        Translation t = new Translation();
        as.translate(0x100FF0, 0x100, false, U, t);
        assertEquals(0x10, t.plen());
        assertEquals(0xFFF0, t.xlat());
        // a buffer write across two IOMMU pages lands in two non-contiguous target pages
        assertEquals(MemTxResult.OK, as.write(0x100FFE, U, new byte[] {1, 2, 3, 4}, 0, 4));
        assertEquals(0x0201, Short.toUnsignedInt(blk.segment().get(ValueLayout.JAVA_SHORT_UNALIGNED, 0xFFFE)));
        assertEquals(0x0403, Short.toUnsignedInt(blk.segment().get(ValueLayout.JAVA_SHORT_UNALIGNED, 0xE000)));
        byte[] back = new byte[4];
        assertEquals(MemTxResult.OK, as.read(0x100FFE, U, back, 0, 4));
        assertArrayEquals(new byte[] {1, 2, 3, 4}, back);
        // write to a read-only IOMMU page: unassigned section -> DECODE_ERROR, target unchanged
        blk.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x7000, 0x55);
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0x108000, 0x66));
        assertEquals(0x55, blk.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x7000));
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0x55, as.ldlLe(0x108000, U, r), "reads are permitted");
        assertEquals(MemTxResult.OK, r.get());
    }


    /**
     * {@code address_space_map} sizes a bounce buffer from the translated length, which an IOMMU
     * clamps to the end of its page: a DMA map that would cross the page gets the rest of the page.
     */
    @Test
    void aBounceBufferBehindAnIommuStopsAtTheIommuPage() {
        ContainerRegion tgtRoot = new ContainerRegion(sys, null, "tgt-root", -1L);
        tgtRoot.addSubregion(0, new IoRegion(sys, null, MemoryRegionOps.builder().read((a, sz) -> 0x5A).build(),
                "dev", 0x10000));
        AddressSpace target = sys.addressSpace(tgtRoot, "target");
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x10000);
        iommu.setIommuOps((addr, flag, idx, out) -> {
            out.targetAs = target;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        });
        root.addSubregion(0x100000, iommu);
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping m = as.map(0x100F00, 0x200, false, U);
        assertEquals(true, m.isBounce());
        assertEquals(0x100, m.length(), "clamped to the IOMMU page, not the 0x200 asked");
        assertEquals(0x5A, m.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0xFC), "prefilled by 4-byte host-order reads of the device");
        m.unmap(0);
    }
}
