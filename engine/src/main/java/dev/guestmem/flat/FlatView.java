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
 * same share one instance.
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

    /** @return the dispatch table built for this view */
    public AddressSpaceDispatch dispatch() {
        return dispatch;
    }
}
