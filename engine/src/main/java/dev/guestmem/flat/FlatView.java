package dev.guestmem.flat;

import dev.guestmem.dispatch.AddressSpaceDispatch;
import dev.guestmem.region.MemoryRegion;
import java.util.List;

/**
 * The rendered form of a region tree: sorted, non-overlapping {@link FlatRange}s plus the dispatch
 * table built from them. As QEMU's {@code FlatView}.
 *
 * <p><b>Thread safety.</b> Immutable once constructed and safely published by
 * {@code AddressSpace}'s release store; any thread may read it. Address spaces whose roots render the
 * same share one instance (see {@link FlatViewRoots}).
 */
public final class FlatView {
    private final MemoryRegion root;
    private final FlatRange[] ranges;
    private final AddressSpaceDispatch dispatch;

    /**
     * Creates a view and builds its dispatch table.
     *
     * @param root the flat-view root it was rendered from (null for the shared empty view)
     * @param ranges sorted, non-overlapping ranges
     */
    public FlatView(MemoryRegion root, List<FlatRange> ranges) {
        this.root = root;
        this.ranges = ranges.toArray(new FlatRange[0]);
        this.dispatch = AddressSpaceDispatch.build(this);
    }

    private FlatView(MemoryRegion root, FlatRange[] ranges, FlatView from, long[] windowStart, long[] windowLast) {
        this.root = root;
        this.ranges = ranges;
        this.dispatch = AddressSpaceDispatch.buildIncremental(from.dispatch, this, windowStart, windowLast);
    }

    /**
     * Internal, for the commit path: a view patched from {@code from} by {@link IncrementalRender},
     * whose dispatch table is derived from {@code from}'s by rebuilding only the changed windows
     * (lookups answer as a full build would).
     *
     * @param root the flat-view root
     * @param ranges the patched ranges (sorted, non-overlapping); the view keeps this array, so the
     *     caller must not change it afterwards
     * @param from the view they were patched from
     * @param windows the windows that were re-rendered (address-space coordinates, sorted, disjoint);
     *     ranges of either view that neither intersect nor touch a window are in both views
     * @return the view
     */
    public static FlatView patched(MemoryRegion root, FlatRange[] ranges, FlatView from,
                                   List<TopologyDirt.Window> windows) {
        long[] ws = new long[windows.size()];
        long[] wl = new long[windows.size()];
        for (int i = 0; i < ws.length; i++) {
            TopologyDirt.Window w = windows.get(i);
            ws[i] = w.start().lo();
            wl[i] = w.end().subUnsigned(1).lo();
        }
        return new FlatView(root, ranges, from, ws, wl);
    }

    /** The ranges array itself (package-internal, read only: {@link IncrementalRender} copies runs of it). */
    FlatRange[] rangeArray() {
        return ranges;
    }

    /** @return the region this view was rendered from, or null for the empty view */
    public MemoryRegion root() {
        return root;
    }

    /** @return the number of ranges */
    public int rangeCount() {
        return ranges.length;
    }

    /**
     * @param i index in {@code [0, rangeCount())}
     * @return the i-th range in address order
     */
    public FlatRange range(int i) {
        return ranges[i];
    }

    /** @return the ranges in address order (a copy) */
    public List<FlatRange> ranges() {
        return List.of(ranges);
    }

    /** Callback of {@link #forEachRange}: QEMU's {@code flatview_cb}. */
    @FunctionalInterface
    public interface RangeCallback {
        /**
         * Visits one range.
         *
         * @param start first address of the range
         * @param size size (0 = 2^64)
         * @param range the range
         * @return true to stop the iteration
         */
        boolean visit(long start, long size, FlatRange range);
    }

    /**
     * QEMU's {@code flatview_for_each_range}: visits the ranges in address order until the callback
     * returns true.
     *
     * @param cb the callback
     */
    public void forEachRange(RangeCallback cb) {
        for (FlatRange r : ranges) {
            if (cb.visit(r.start(), r.size(), r)) {
                break;
            }
        }
    }

    /**
     * Finds the range containing an address (binary search; not the access hot path, which uses the
     * dispatch table).
     *
     * @param addr an address (unsigned)
     * @return the index of the range containing it, or {@code -(insertion point) - 1}
     */
    public int lookup(long addr) {
        int lo = 0;
        int hi = ranges.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            FlatRange r = ranges[mid];
            if (Long.compareUnsigned(r.last(), addr) < 0) {
                lo = mid + 1;
            } else if (Long.compareUnsigned(r.start(), addr) > 0) {
                hi = mid - 1;
            } else {
                return mid;
            }
        }
        return -lo - 1;
    }

    /**
     * The first range intersecting {@code [addr, addr + size)}.
     *
     * @param addr first address (unsigned)
     * @param size length, at least 1 (unsigned; the window is clipped at 2^64)
     * @return its index, or -1 if none
     */
    public int firstIntersecting(long addr, long size) {
        int i = lookup(addr);
        if (i >= 0) {
            return i;
        }
        i = -i - 1;
        if (i >= ranges.length) {
            return -1;
        }
        long lastAddr = addr + size - 1;
        if (Long.compareUnsigned(lastAddr, addr) < 0) {
            lastAddr = -1L; // window passes 2^64: clip
        }
        return Long.compareUnsigned(ranges[i].start(), lastAddr) <= 0 ? i : -1;
    }

    /** @return the dispatch table built for this view */
    public AddressSpaceDispatch dispatch() {
        return dispatch;
    }
}
