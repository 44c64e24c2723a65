package dev.guestmem.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code IOMMUTLBEntry.pasid} and the permission bits above RW ({@code IOMMU_EXEC}, {@code _PRIV},
 * {@code _GLOBAL}, {@code _UNTRANSLATED_ONLY}), as QEMU: {@code address_space_translate_iommu}
 * checks only {@code perm & (1 << is_write)}, and notifiers get the entry as the model gave it.
 */
class IommuPasidAndPermBitsTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private final MemorySystem sys = new MemorySystem();
    private final RamBlock ram = RamBlock.anonymous("dram", 0x100000);
    private final ContainerRegion memRoot = new ContainerRegion(sys, null, "mem-root", -1L);
    private final AddressSpace memory;
    private final ContainerRegion pciRoot = new ContainerRegion(sys, null, "pci-root", -1L);
    private final AddressSpace pci;

    IommuPasidAndPermBitsTest() {
        memRoot.addSubregion(0, new RamRegion(sys, null, "dram", ram, false, false));
        memory = sys.addressSpace(memRoot, "memory");
        pci = sys.addressSpace(pciRoot, "pci");
    }

    /** Identity into {@code memory}, 4 KiB pages, with the given permission bits. */
    private IommuOps identityWith(int perm) {
        return (addr, flag, idx, out) -> {
            out.targetAs = memory;
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = perm;
        };
    }

    @Test
    void theBitsHaveQemusValues() {
        assertEquals(4, IommuTlbEntry.EXEC);
        assertEquals(8, IommuTlbEntry.PRIV);
        assertEquals(16, IommuTlbEntry.GLOBAL);
        assertEquals(32, IommuTlbEntry.UNTRANSLATED_ONLY);
        assertEquals(IommuTlbEntry.RW, IommuTlbEntry.accessFlag(true, true));
        assertEquals(IommuTlbEntry.WO, IommuTlbEntry.accessFlag(false, true));
        assertEquals(IommuTlbEntry.RO | IommuTlbEntry.EXEC | IommuTlbEntry.GLOBAL,
                IommuTlbEntry.accessFlagFull(true, false, true, false, true, false));
        assertEquals(0x3F, IommuTlbEntry.accessFlagFull(true, true, true, true, true, true));
    }

    @Test
    void theTranslatePathChecksOnlyTheReadOrWriteBit() {
        int roPlus = IommuTlbEntry.RO | IommuTlbEntry.EXEC | IommuTlbEntry.PRIV | IommuTlbEntry.GLOBAL;
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityWith(roPlus));
        pciRoot.addSubregion(0, iommu);
        assertEquals(MemTxResult.OK, memory.stl(0x2000, 0x1234_5678, U));
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0x1234_5678, pci.ldl(0x2000, U, res));
        assertEquals(MemTxResult.OK, res.get(), "RO with the other bits reads");
        assertTrue(pci.stl(0x2000, 1, U) != MemTxResult.OK, "no WO bit: the write is unassigned");

        iommu.setIommuOps(identityWith(IommuTlbEntry.EXEC | IommuTlbEntry.PRIV | IommuTlbEntry.GLOBAL));
        pci.ldl(0x2000, U, res);
        assertTrue(res.get() != MemTxResult.OK, "EXEC is not read permission (1 << is_write)");

        iommu.setIommuOps(identityWith(IommuTlbEntry.WO | IommuTlbEntry.UNTRANSLATED_ONLY));
        assertEquals(MemTxResult.OK, pci.stl(0x2000, 0x55, U),
                "UNTRANSLATED_ONLY concerns ATS requests, not the untranslated access path");
        assertEquals(0x55, memory.ldl(0x2000, U, res));
    }

    @Test
    void theJitFastPathKeepsOnlyReadAndWrite() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000,
                identityWith(IommuTlbEntry.RO | IommuTlbEntry.EXEC | IommuTlbEntry.GLOBAL));
        pciRoot.addSubregion(0, iommu);
        TlbEntry page = new TlbEntry();
        assertTrue(GuestTlb.fill(pci, 0x3000, page));
        assertTrue(page.readDirect(), "readable through RO|EXEC|GLOBAL");
        assertFalse(page.writeDirect(), "and not writable");
    }

    @Test
    void notifiersGetPasidAndEveryBitAsTheModelGaveThem() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityWith(IommuTlbEntry.RW));
        pciRoot.addSubregion(0, iommu);
        List<IommuTlbEntry> seen = new ArrayList<>();
        // a range that crops the event: the cropped copy keeps pasid and perm
        iommu.notifiers().register(new IommuNotifier((n, e) -> seen.add(e), IommuNotifier.MAP
                | IommuNotifier.DEVIOTLB_UNMAP, 0x1000, 0x1FFF, 0));
        int perm = IommuTlbEntry.accessFlagFull(true, true, false, true, true, true);
        IommuTlbEntry e = new IommuTlbEntry(memory, 0, 0x40000, 0x3FFF, perm, 7);
        iommu.notifiers().notify(0, IommuNotifier.MAP, e);
        assertEquals(1, seen.size());
        assertEquals(perm, seen.get(0).perm);
        assertEquals(7, seen.get(0).pasid);
        assertEquals(0x1000, seen.get(0).iova, "cropped to the notifier's range");

        IommuTlbEntry dev = new IommuTlbEntry(memory, 0x1000, 0, 0xFFF, IommuTlbEntry.NONE, 0xFFFFF);
        iommu.notifiers().notify(0, IommuNotifier.DEVIOTLB_UNMAP, dev);
        assertEquals(0xFFFFF, seen.get(1).pasid, "a 20-bit PCIe PASID reaches the notifier");
    }

    @Test
    void anUnmapEventWithAnyPermissionBitIsRefusedAsQemuAsserts() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityWith(IommuTlbEntry.RW));
        // memory_region_notify_iommu_one: assert(entry->perm == IOMMU_NONE) for UNMAP
        IommuTlbEntry e = new IommuTlbEntry(memory, 0, 0, 0xFFF, IommuTlbEntry.GLOBAL, 1);
        assertThrows(IommuException.class, () -> iommu.notifiers().notify(0, IommuNotifier.UNMAP, e));
    }

    @Test
    void copyKeepsPasid() {
        IommuTlbEntry e = new IommuTlbEntry(memory, 0x1000, 0x2000, 0xFFF, IommuTlbEntry.RO | IommuTlbEntry.PRIV, 42);
        IommuTlbEntry c = e.copy();
        assertEquals(42, c.pasid);
        assertEquals(e.perm, c.perm);
        assertEquals(0, new IommuTlbEntry(memory, 0, 0, 0xFFF, IommuTlbEntry.RW).pasid,
                "the five-argument constructor leaves pasid 0, as a C initializer that omits it");
    }

    /**
     * QEMU's replay asks {@code translate} for a fresh entry per page, so a page whose translation
     * does not set pasid reports 0. guestmem reuses one entry for the walk: pasid must be reset
     * before each call as targetAs and perm are, or one page's PASID leaks into the next.
     */
    @Test
    void theReplayWalkDoesNotCarryOnePagesPasidIntoTheNext() {
        IommuOps ops = (addr, flag, idx, out) -> {
            out.targetAs = memory;
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
            if (addr == 0) {
                out.pasid = 9;
            }
        };
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x2000, ops);
        List<Integer> pasids = new ArrayList<>();
        IommuNotifier n = new IommuNotifier((x, e) -> pasids.add(e.pasid), IommuNotifier.MAP, 0, 0x1FFF, 0);
        iommu.notifiers().register(n);
        iommu.notifiers().replay(n);
        assertEquals(List.of(9, 0), pasids);
    }

    /** {@code address_space_get_iotlb_entry} builds its entry with {@code .perm = IOMMU_RW} and no pasid. */
    @Test
    void iotlbEntryIsReadWriteWithPasidZero() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000,
                (addr, flag, idx, out) -> {
                    identityWith(IommuTlbEntry.RW | IommuTlbEntry.EXEC).translate(addr, flag, idx, out);
                    out.pasid = 5;
                });
        pciRoot.addSubregion(0, iommu);
        IommuTlbEntry e = pci.iotlbEntry(0x3000, false, U);
        assertEquals(IommuTlbEntry.RW, e.perm);
        assertEquals(0, e.pasid);
    }
}
