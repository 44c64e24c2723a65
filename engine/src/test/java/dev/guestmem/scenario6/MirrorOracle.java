package dev.guestmem.scenario6;

import static dev.guestmem.scenario6.HostIommu.PAGE;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.discard.DiscardedRam;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.region.MemoryRegion;
import java.util.TreeMap;

/**
 * What a VFIO container must hold for the current flat view of an address space, computed from
 * the flat ranges alone (not from listener events): every whole host page of a RAM range whose
 * address and region offset agree below the page size, minus what a RamDiscardManager has
 * discarded, at the host address of its RAM; IOMMU ranges are asked of {@link IommuModel}.
 */
final class MirrorOracle {
    /** The guest IOMMU's current mappings, as the model knows them. */
    interface IommuModel {
        /** Adds the pages the IOMMU range {@code fr} maps, at their container iovas. */
        void expected(FlatRange fr, TreeMap<Long, String> out);
    }

    private MirrorOracle() {
    }

    static TreeMap<Long, String> expected(AddressSpace as, IommuModel iommu) {
        TreeMap<Long, String> out = new TreeMap<>(Long::compareUnsigned);
        for (FlatRange fr : as.currentMap().ranges()) {
            MemoryRegion mr = fr.region();
            if ((!mr.isRam() && !mr.isIommu()) || (fr.start() & (1L << 63)) != 0
                    || ((fr.start() ^ fr.offsetInRegion()) & (PAGE - 1)) != 0) {
                continue;
            }
            if (mr.isIommu()) {
                iommu.expected(fr, out);
                continue;
            }
            long first = (fr.start() + PAGE - 1) & -PAGE;
            long end = (fr.last() + 1) & -PAGE;
            for (long iova = first; Long.compareUnsigned(iova, end) < 0; iova += PAGE) {
                long off = fr.offsetInRegion() + (iova - fr.start());
                if (mr.hasRamDiscardManager() && DiscardedRam.isDiscarded(mr, off, PAGE)) {
                    continue;
                }
                out.put(iova, HostIommu.describe(mr.ramSegment().address() + off, fr.readonly()));
            }
        }
        return out;
    }
}
