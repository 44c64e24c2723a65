package dev.guestmem.scenario;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;

import dev.guestmem.region.MemoryRegionOps;

/**
 * A one-level IOMMU page table in guest memory: u64 PTE per 4 KiB IOVA page at {@code ptBase}
 * (bit 0 read, bit 1 write, bits 12.. physical page). The driver writes a PTE and then the IOVA's
 * page number to the invalidation register (caching mode, as VT-d under vfio): the model tells the
 * notifiers UNMAP, then MAP if the PTE is valid.
 */
final class PtIommu implements IommuOps {
    final AddressSpace memory;
    final long ptBase;
    final long entries;
    IommuRegion region;
    final IoRegion regs;
    int translateCalls;

    PtIommu(MemorySystem sys, AddressSpace memory, long ptBase, long iovaSize) {
        this.memory = memory;
        this.ptBase = ptBase;
        this.entries = iovaSize >>> 12;
        this.regs = new IoRegion(sys, this, MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, data, s) -> invalidate(data << 12))
                .valid(8, 8, false)
                .impl(8, 8, false)
                .build(), "iommu-regs", 0x100);
    }

    IommuRegion attach(MemorySystem sys, long size) {
        region = new IommuRegion(sys, this, "pt-iommu", size, this);
        return region;
    }

    @Override
    public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
        translateCalls++;
        out.iova = addr & ~0xfffL;
        out.addrMask = 0xfff;
        out.targetAs = null;
        out.perm = IommuTlbEntry.NONE;
        long pfn = addr >>> 12;
        if (Long.compareUnsigned(pfn, entries) >= 0) {
            return;
        }
        long pte = memory.ldqLe(ptBase + pfn * 8);
        if ((pte & 3) != 0) {
            out.targetAs = memory;
            out.translatedAddr = pte & ~0xfffL;
            out.perm = (int) (pte & 3);
        }
    }

    void invalidate(long iova) {
        IommuTlbEntry e = new IommuTlbEntry(memory, iova, 0, 0xfff, IommuTlbEntry.NONE);
        region.notifiers().notify(0, IommuNotifier.UNMAP, e);
        IommuTlbEntry now = new IommuTlbEntry();
        translate(iova, IommuTlbEntry.NONE, 0, now);
        if (now.perm != IommuTlbEntry.NONE) {
            region.notifiers().notify(0, IommuNotifier.MAP, now);
        }
    }

    @Override
    public void replay(IommuRegion iommu, IommuNotifier notifier) {
        IommuTlbEntry e = new IommuTlbEntry();
        for (long pfn = 0; pfn < entries; pfn++) {
            long pte = memory.ldqLe(ptBase + pfn * 8);
            if ((pte & 3) != 0) {
                translate(pfn << 12, IommuTlbEntry.NONE, 0, e);
                notifier.notifyOne(IommuNotifier.MAP, e);
            }
        }
    }

}
