package dev.guestmem.scenario6;

import static dev.guestmem.scenario6.HostIommu.PAGE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.NavigableSet;
import java.util.TreeSet;

/**
 * An assigned device: it writes guest memory through the host IOMMU only (the engine does not see
 * these writes) and keeps the per-iova dirty bitmap that VFIO's device dirty tracking reports.
 */
final class FakeDevice {
    private final HostIommu container;
    private final NavigableSet<Long> dirty = new TreeSet<>(Long::compareUnsigned);

    FakeDevice(HostIommu container) {
        this.container = container;
    }

    /** @return whether the IOMMU let the write through (false: an IOMMU fault, nothing written) */
    boolean dmaWrite(long iova, long value) {
        long host = container.translate(iova);
        if (host == -1 || container.translate(iova + 7) != host + 7) {
            return false;
        }
        MemorySegment.ofAddress(host).reinterpret(8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
        dirty.add(iova & -PAGE);
        return true;
    }

    /** {@code VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT}: the dirty pages in {@code [start, end)}, cleared. */
    List<Long> queryAndClearDirty(long start, long end) {
        NavigableSet<Long> in = dirty.subSet(start, true, end, false);
        List<Long> out = List.copyOf(in);
        in.clear();
        return out;
    }

    int pendingDirty() {
        return dirty.size();
    }
}
