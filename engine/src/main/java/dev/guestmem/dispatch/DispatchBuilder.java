package dev.guestmem.dispatch;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import java.util.Arrays;

/**
 * Builds {@link AddressSpaceDispatch} tables: in full, as QEMU's {@code flatview_add_to_dispatch} per
 * range, or derived from the previous view's table when a commit changed only a few address windows.
 *
 * <h2>Incremental build</h2>
 * QEMU builds a new table for every new view. Here, when the new view differs from the old one only
 * inside some windows (what {@code IncrementalRender} produces), the new table starts from the old
 * table's uncompacted radix tree (edited in place: it belongs to the writer, see {@link RadixTree}) and
 * sections array (shared, new sections appended in a copy); then for each window:
 * <ol>
 *   <li>the window is widened to the hull of every old and new range that intersects or touches it
 *       (ranges merged or trimmed at a window's seams differ from their old selves), then to whole
 *       pages: the <em>span</em>;</li>
 *   <li>the span's pages are unmapped;</li>
 *   <li>every new range intersecting the span is added again exactly as a full build adds it, keeping
 *       only the pieces (leading subpage, whole-page block, trailing subpage) inside the span. Ranges
 *       that only reach into the span's first or last page contribute subpage pieces only; a whole-page
 *       block that would straddle the span's edge means the windows were wrong, and the build falls
 *       back to a full one.</li>
 * </ol>
 * Sections of unchanged ranges keep their index (and object); new sections are appended. Pages
 * outside the spans therefore resolve to exactly what they resolved to before, which is what a full
 * build of the new view gives them because their ranges are unchanged. Then the changed nodes are
 * compacted ({@code address_space_dispatch_compact}) into new nodes of the lineage's pool; the
 * unchanged ones are shared with the old table. Unreachable sections and raw nodes accumulate until
 * they exceed a quarter of the last full build's, and then a full build starts a new lineage.
 *
 * <p>The tree's shape can differ from a full build's (an emptied node stays, leaves may sit one level
 * lower); every lookup ({@code phys_page_find} with its covers check, subpage resolution) answers the
 * same section contents. {@code IncrementalDispatchProperties} checks this against full builds.
 *
 * <p><b>Thread safety.</b> One builder per build, topology lock held; the old table is only read.
 */
final class DispatchBuilder {
    private static final long PAGE_OFFSET_MASK = PhysPageMap.PAGE_SIZE - 1;

    /** Signals that the windows do not describe the change; the caller builds in full. */
    private static final class WindowMismatch extends RuntimeException {
        private static final long serialVersionUID = 1L;

        WindowMismatch() {
            super(null, null, false, false);
        }
    }

    final RadixTree map;
    /** The sections of the table derived from (section 0 included), shared and never written. */
    private final PhysSection[] inherited;
    /** Sections added by this build, numbered from {@code inherited.length}. */
    private PhysSection[] added = new PhysSection[16];
    private int addedCount;
    private final int baseSections;

    /** A builder for a full build (a new lineage, replacing {@code predecessor}'s if not null). */
    DispatchBuilder(RadixTree predecessor) {
        map = predecessor == null ? new RadixTree() : new RadixTree(predecessor);
        inherited = new PhysSection[] {PhysSection.unassigned()};
        baseSections = -1;
    }

    private DispatchBuilder(AddressSpaceDispatch old) {
        map = old.pageMap().tree();
        map.beginDerive();
        inherited = old.sectionArray();
        baseSections = old.pageMap().baseSections;
    }

    private int count() {
        return inherited.length + addedCount;
    }

    private PhysSection section(int i) {
        return i < inherited.length ? inherited[i] : added[i - inherited.length];
    }

    /** @return the sections built so far (one exactly sized copy) */
    PhysSection[] sections() {
        PhysSection[] out = Arrays.copyOf(inherited, count());
        System.arraycopy(added, 0, out, inherited.length, addedCount);
        return out;
    }

    /**
     * Full build of a view: {@code flatview_add_to_dispatch} per range, then compaction.
     *
     * @param view the view (may be null when built from bare ranges)
     * @param ranges its ranges in address order
     * @return the table
     */
    static AddressSpaceDispatch full(FlatView view, FlatRange[] ranges) {
        return full(view, ranges, null);
    }

    private static AddressSpaceDispatch full(FlatView view, FlatRange[] ranges, RadixTree predecessor) {
        DispatchBuilder b = new DispatchBuilder(predecessor);
        for (FlatRange r : ranges) {
            b.add(r, 0, -1L);
        }
        return new AddressSpaceDispatch(view, b.map.publish(b.count(), false), b.sections());
    }

    /**
     * Derives the table of {@code view} from {@code old}, the table of the view it was patched from.
     *
     * @param old the previous view's table (its view must be set)
     * @param view the new view
     * @param windowStart first address of each changed window, ascending
     * @param windowLast last address of each window (inclusive); windows are disjoint and ranges of
     *     either view that neither intersect nor touch a window are present unchanged in the other view
     * @return the table, built incrementally or (when that would not pay or the windows do not match)
     *     in full
     */
    static AddressSpaceDispatch incremental(AddressSpaceDispatch old, FlatView view, long[] windowStart,
                                            long[] windowLast) {
        FlatView oldView = old.view();
        PhysPageMap oldMap = old.pageMap();
        // Garbage bound: a quarter more than live keeps the copies small and full rebuilds rare. A
        // table whose lineage has moved on (its tree was edited for another table) is rebuilt too.
        if (oldView == null || old.sectionCount() > oldMap.baseSections + (oldMap.baseSections >> 2) + 256
                || !oldMap.tree().derivable(oldMap)) {
            return full(view, rangesOf(view), oldMap.tree());
        }
        long[] spans = spans(oldView, view, windowStart, windowLast);
        DispatchBuilder b = new DispatchBuilder(old);
        try {
            for (int k = 0; k < spans.length; k += 2) {
                long lo = spans[k];
                long hi = spans[k + 1];
                long pagesMinus1 = (hi - lo) >>> PhysPageMap.PAGE_BITS;
                b.map.clear(lo >>> PhysPageMap.PAGE_BITS, pagesMinus1 + 1);
            }
            for (int k = 0; k < spans.length; k += 2) {
                long lo = spans[k];
                long hi = spans[k + 1];
                for (int i = firstIntersecting(view, lo); i < view.rangeCount()
                        && Long.compareUnsigned(view.range(i).start(), hi) <= 0; i++) {
                    b.add(view.range(i), lo, hi);
                }
            }
        } catch (WindowMismatch e) {
            // The tree was edited in place and now matches no table: beginDerive made the lineage
            // underivable, and the full build starts a new one.
            return full(view, rangesOf(view), oldMap.tree());
        }
        return new AddressSpaceDispatch(view, b.map.publish(b.baseSections, true), b.sections());
    }

    private static FlatRange[] rangesOf(FlatView view) {
        FlatRange[] r = new FlatRange[view.rangeCount()];
        for (int i = 0; i < r.length; i++) {
            r[i] = view.range(i);
        }
        return r;
    }

    /** Index of the first range of {@code v} whose last address is at or above {@code addr}. */
    private static int firstIntersecting(FlatView v, long addr) {
        int i = v.lookup(addr);
        return i >= 0 ? i : -i - 1;
    }

    /**
     * The page-aligned spans to rebuild: each window widened to the ranges of both views that
     * intersect or touch it, rounded out to pages, and overlapping or adjacent spans joined.
     *
     * @return {@code [lo0, hi0, lo1, hi1, ...]}, inclusive, ascending
     */
    private static long[] spans(FlatView oldView, FlatView view, long[] windowStart, long[] windowLast) {
        long[] out = new long[2 * windowStart.length];
        int n = 0;
        for (int k = 0; k < windowStart.length; k++) {
            long lo = windowStart[k];
            long hi = windowLast[k];
            long nlo = lo == 0 ? 0 : lo - 1;
            long nhi = hi == -1L ? -1L : hi + 1;
            long[] hull = {lo, hi};
            widen(oldView, nlo, nhi, hull);
            widen(view, nlo, nhi, hull);
            lo = hull[0] & ~PAGE_OFFSET_MASK;
            hi = hull[1] | PAGE_OFFSET_MASK;
            if (n > 0 && (out[n - 1] == -1L || Long.compareUnsigned(lo, out[n - 1] + 1) <= 0)) {
                if (Long.compareUnsigned(hi, out[n - 1]) > 0) {
                    out[n - 1] = hi;
                }
            } else {
                out[n++] = lo;
                out[n++] = hi;
            }
        }
        return Arrays.copyOf(out, n);
    }

    /** Widens {@code hull} to every range of {@code v} intersecting {@code [lo, hi]}. */
    private static void widen(FlatView v, long lo, long hi, long[] hull) {
        for (int i = firstIntersecting(v, lo); i < v.rangeCount()
                && Long.compareUnsigned(v.range(i).start(), hi) <= 0; i++) {
            FlatRange r = v.range(i);
            if (Long.compareUnsigned(r.start(), hull[0]) < 0) {
                hull[0] = r.start();
            }
            if (Long.compareUnsigned(r.last(), hull[1]) > 0) {
                hull[1] = r.last();
            }
        }
    }

    private int addSection(PhysSection s) {
        if (addedCount == added.length) {
            added = Arrays.copyOf(added, addedCount * 2);
        }
        added[addedCount++] = s;
        if (count() > PhysPageMap.NIL) {
            throw new IllegalStateException("more than " + PhysPageMap.NIL + " sections in one view");
        }
        return count() - 1;
    }

    /** Whether the piece {@code [first, last]} lies in the span {@code [lo, hi]}; straddling is a mismatch. */
    private static boolean inSpan(long first, long last, long lo, long hi) {
        boolean startIn = Long.compareUnsigned(first, lo) >= 0 && Long.compareUnsigned(first, hi) <= 0;
        boolean lastIn = Long.compareUnsigned(last, lo) >= 0 && Long.compareUnsigned(last, hi) <= 0;
        if (startIn != lastIn) {
            throw new WindowMismatch();
        }
        return startIn;
    }

    /**
     * {@code flatview_add_to_dispatch}, keeping only the pieces inside {@code [lo, hi]} (a page-aligned
     * span; {@code [0, 2^64 - 1]} for a full build).
     */
    void add(FlatRange r, long lo, long hi) {
        long s = r.start();
        long l = r.last();
        if ((s & PAGE_OFFSET_MASK) != 0) {
            long pageLast = s | PAGE_OFFSET_MASK;
            long e = Long.compareUnsigned(pageLast, l) < 0 ? pageLast : l;
            if (inSpan(s, e, lo, hi)) {
                registerSubpage(r, s, e);
            }
            if (e == l) {
                return;
            }
            s = e + 1;
        }
        long sizeMinus1 = l - s;
        // whole pages in [s, l]; sizeMinus1 = 2^64 - 1 gives 2^52 pages without overflow.
        long pages = (sizeMinus1 >>> PhysPageMap.PAGE_BITS) + ((sizeMinus1 & PAGE_OFFSET_MASK) == PAGE_OFFSET_MASK ? 1 : 0);
        if (pages != 0) {
            long wholeLast = s + (pages << PhysPageMap.PAGE_BITS) - 1;
            if (inSpan(s, wholeLast, lo, hi)) {
                int idx = addSection(PhysSection.of(r, s, wholeLast));
                map.set(s >>> PhysPageMap.PAGE_BITS, pages, idx);
            }
            if (wholeLast == l) {
                return;
            }
            s = wholeLast + 1;
        }
        if (inSpan(s, l, lo, hi)) {
            registerSubpage(r, s, l);
        }
    }

    /** {@code register_subpage}. */
    private void registerSubpage(FlatRange r, long first, long last) {
        long base = first & ~PAGE_OFFSET_MASK;
        PhysSection existing = section(map.find(base));
        if (!existing.covers(base)) {
            existing = section(0);
        }
        Subpage sp = existing.subpage();
        if (sp == null) {
            if (!existing.isUnassigned()) {
                throw new IllegalStateException("page 0x" + Long.toHexString(base) + " already mapped by "
                        + existing + " while adding " + r);
            }
            sp = new Subpage(base);
            int idx = addSection(PhysSection.forSubpage(base, PhysPageMap.PAGE_SIZE, sp));
            map.set(base >>> PhysPageMap.PAGE_BITS, 1, idx);
        }
        int idx = addSection(PhysSection.of(r, first, last));
        sp.register((int) (first & PAGE_OFFSET_MASK), (int) (last & PAGE_OFFSET_MASK), idx);
    }
}
