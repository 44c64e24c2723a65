package dev.guestmem.scenario6;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.util.Map;
import java.util.TreeMap;

/**
 * A device behind a VT-d-like vIOMMU: its DMA space holds the IOMMU region ({@code dmar}), a second
 * window onto the same IOMMU at another offset, and the pass-through alias of system memory
 * ({@code nodmar}) that VT-d enables instead of the IOMMU when translation is off. The model's page
 * table maps 4 KiB and 2 MiB pages and tells notifiers of each map and unmap, as a guest's
 * invalidations make VT-d do.
 */
final class ViommuMachine {
    static final long MIB = 1 << 20;
    static final long HI_BASE = 0x1_0000_0000L;
    static final long HI_OFFSET = 0x100000;
    static final long HI_SIZE = 0x200000;

    /** One page table entry: {@code len} bytes of iova onto guest-physical {@code gpa}. */
    record Pte(long iova, long len, long gpa, int perm) {
    }

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * MIB);
    final AddressSpace memory;
    final TreeMap<Long, Pte> table = new TreeMap<>(Long::compareUnsigned);
    final IommuRegion dmar;
    final AliasRegion dmarHigh;
    final AliasRegion nodmar;
    final ContainerRegion pciRoot = new ContainerRegion(sys, null, "vfio-dev-root", MemoryRegion.SIZE_2_64);
    final AddressSpace devAs;

    ViommuMachine() {
        system.addSubregion(0, ram);
        memory = sys.addressSpace(system, "memory");
        dmar = new IommuRegion(sys, null, "dmar", 1L << 32, new Model());
        dmarHigh = new AliasRegion(sys, null, "dmar-hi", dmar, HI_OFFSET, HI_SIZE);
        nodmar = new AliasRegion(sys, null, "nodmar", system, 0, 1L << 32);
        nodmar.setEnabled(false);
        pciRoot.addSubregionOverlap(0, dmar, 1);
        pciRoot.addSubregion(HI_BASE, dmarHigh);
        pciRoot.addSubregionOverlap(0, nodmar, 1);
        devAs = sys.addressSpace(pciRoot, "vfio-dev");
    }

    private final class Model implements IommuOps {
        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            Pte p = lookup(addr);
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            if (p != null) {
                out.iova = p.iova();
                out.addrMask = p.len() - 1;
                out.targetAs = memory;
                out.translatedAddr = p.gpa();
                out.perm = p.perm();
            }
        }

        /** VT-d's own replay: the present entries in the notifier's range, none of the holes. */
        @Override
        public void replay(IommuRegion iommu, IommuNotifier n) {
            for (Pte p : table.values()) {
                if (Long.compareUnsigned(p.iova() + p.len() - 1, n.start()) >= 0
                        && Long.compareUnsigned(p.iova(), n.end()) <= 0) {
                    n.notifyOne(IommuNotifier.MAP, entry(p));
                }
            }
        }
    }

    Pte lookup(long iova) {
        Map.Entry<Long, Pte> e = table.floorEntry(iova);
        return e != null && Long.compareUnsigned(iova - e.getKey(), e.getValue().len()) < 0 ? e.getValue() : null;
    }

    IommuTlbEntry entry(Pte p) {
        return new IommuTlbEntry(memory, p.iova(), p.gpa(), p.len() - 1, p.perm());
    }

    /** The guest maps a page and invalidates: the model tells the notifiers. */
    void map(Pte p) {
        table.put(p.iova(), p);
        dmar.notifiers().notify(0, IommuNotifier.MAP, entry(p));
    }

    /** The guest unmaps {@code [iova, iova + len)} (whole entries) with one invalidation. */
    void unmap(long iova, long len) {
        table.subMap(iova, true, iova + len - 1, true).clear();
        dmar.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(memory, iova, 0, len - 1, IommuTlbEntry.NONE));
    }

    /** VT-d's {@code vtd_switch_address_space}: translation on (dmar) or off (nodmar). */
    void switchTranslation(boolean on) {
        sys.transactionBegin();
        try {
            dmar.setEnabled(on);
            nodmar.setEnabled(!on);
        } finally {
            sys.transactionCommit();
        }
    }

    /** What the container must map for the IOMMU range {@code fr} of the device's space. */
    void expected(FlatRange fr, TreeMap<Long, String> out) {
        long lo = fr.offsetInRegion();
        long hi = lo + fr.size();
        for (Pte p : table.values()) {
            for (long page = p.iova(); page < p.iova() + p.len(); page += HostIommu.PAGE) {
                if (page >= lo && page < hi) {
                    long host = ram.ramSegment().address() + p.gpa() + (page - p.iova());
                    out.put(fr.start() + (page - lo), HostIommu.describe(host, p.perm() == IommuTlbEntry.RO));
                }
            }
        }
    }
}
