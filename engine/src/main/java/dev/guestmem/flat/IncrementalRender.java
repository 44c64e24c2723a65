package dev.guestmem.flat;

import dev.guestmem.region.MemoryRegion;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Patches a view by re-rendering only the address windows a commit changed, then splicing them into
 * the old ranges and merging at the seams.
 *
 * <p>Why the result equals a full render: {@link FlatViewRenderer#renderWindow} yields exactly the
 * full render's pieces intersected with the window; outside the windows nothing changed (every change
 * was propagated up to the root as a window, see {@link TopologyDirt}); and {@code flatview_simplify}'s
 * result is the canonical maximal merge of mergeable neighbours, so cutting mergeable ranges at window
 * edges and merging again changes nothing. The old ranges between windows are already maximally merged,
 * so merging is only checked inside the fresh pieces and at the seams. Unmergeable ranges are the
 * exception (a cut would stay visible), so when one straddles or touches a window edge this gives up
 * and the caller renders in full.
 *
 * <p>The patch also reports how many ranges each region gained or lost ({@link Result#refDelta}), so
 * that per-range region references move without touching the unchanged ranges.
 *
 * <p><b>Thread safety.</b> Stateless; topology lock held.
 */
public final class IncrementalRender {
    private IncrementalRender() {
    }

    /**
     * A patched view's ranges and the change in ranges per region.
     *
     * @param rangeArray the new simplified ranges, exactly sized (handed over, not copied, to the view)
     * @param refDelta per region, new range count minus old range count (zero entries omitted or kept)
     */
    public record Result(FlatRange[] rangeArray, Map<MemoryRegion, Integer> refDelta) {
        /** @return the new ranges as an unmodifiable list */
        public List<FlatRange> ranges() {
            return Collections.unmodifiableList(Arrays.asList(rangeArray));
        }
    }

    /** A growable array of ranges (the list operations {@link Out} needs, bulk copies included). */
    private static final class RangeBuffer {
        FlatRange[] a;
        int size;

        RangeBuffer(int capacity) {
            a = new FlatRange[Math.max(capacity, 4)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        FlatRange getLast() {
            return a[size - 1];
        }

        FlatRange removeLast() {
            FlatRange r = a[--size];
            a[size] = null;
            return r;
        }

        void add(FlatRange r) {
            if (size == a.length) {
                a = Arrays.copyOf(a, size * 2);
            }
            a[size++] = r;
        }

        void addAll(FlatRange[] from, int start, int count) {
            if (size + count > a.length) {
                a = Arrays.copyOf(a, Math.max(size + count, size * 2));
            }
            System.arraycopy(from, start, a, size, count);
            size += count;
        }

        FlatRange[] toArray() {
            return size == a.length ? a : Arrays.copyOf(a, size);
        }
    }

    /** Output list with merge-at-append and reference bookkeeping. */
    private static final class Out {
        final RangeBuffer list;
        final Map<MemoryRegion, Integer> delta = new IdentityHashMap<>();
        /** Whether the last element is a verbatim old range (then an old successor needs no merge test). */
        boolean lastIsOld;

        Out(int capacity) {
            this.list = new RangeBuffer(capacity);
        }

        /**
         * Appends old ranges {@code [from, to)} verbatim after one old range was appended: they are
         * maximally merged among themselves and with it, so no merge test is needed.
         */
        void addOldRun(FlatView old, int from, int to) {
            if (to > from) {
                list.addAll(old.rangeArray(), from, to - from);
                lastIsOld = true;
            }
        }

        void count(FlatRange r, int d) {
            delta.merge(r.region(), d, Integer::sum);
        }

        /** Appends an old range as it was (already counted in the old view). */
        void addOld(FlatRange r) {
            if (!lastIsOld && !list.isEmpty() && FlatViewRenderer.canMerge(list.getLast(), r)) {
                FlatRange prev = list.removeLast();
                count(prev, -1);
                count(r, -1);
                FlatRange m = FlatViewRenderer.merge(prev, r);
                count(m, 1);
                list.add(m);
                lastIsOld = false;
                return;
            }
            list.add(r);
            lastIsOld = true;
        }

        /** Appends a range that is not in the old view. */
        void addNew(FlatRange r) {
            count(r, 1);
            if (!list.isEmpty() && FlatViewRenderer.canMerge(list.getLast(), r)) {
                FlatRange prev = list.removeLast();
                count(prev, -1);
                count(r, -1);
                r = FlatViewRenderer.merge(prev, r);
                count(r, 1);
            }
            list.add(r);
            lastIsOld = false;
        }
    }

    /**
     * Re-renders {@code root} inside {@code windows} and splices the result into {@code old}.
     *
     * @param old the view rendered from {@code root} before the changes
     * @param root the flat-view root
     * @param windows sorted, disjoint, non-adjacent address windows inside {@code [0, 2^64)}
     * @return the new ranges and reference deltas, or null if a full render is needed
     */
    public static Result patch(FlatView old, MemoryRegion root, List<TopologyDirt.Window> windows) {
        int n = old.rangeCount();
        Out out = new Out(n + 4 * windows.size() + 4);
        int i = 0;
        FlatRange tail = null; // trimmed remainder of old range i, replacing it
        for (TopologyDirt.Window w : windows) {
            long ws = w.start().lo();
            long wl = w.end().subUnsigned(1).lo(); // last address inside the window
            if (i < n && Long.compareUnsigned(cur(old, i, tail).last(), ws) < 0) {
                emit(out, old, i, tail);
                tail = null;
                i++;
                // Old ranges wholly before the window: one bulk copy (they need no merge test).
                int j = firstEndingAtOrAfter(old, ws, i);
                out.addOldRun(old, i, j);
                i = j;
            }
            if (i < n && Long.compareUnsigned(cur(old, i, tail).start(), ws) < 0) {
                FlatRange r = cur(old, i, tail);
                if (r.unmergeable()) {
                    return null;
                }
                out.addNew(trim(r, r.start(), ws - 1));
                // r itself is consumed below (inside or straddling the window end)
            }
            while (i < n && Long.compareUnsigned(cur(old, i, tail).last(), wl) <= 0) {
                if (tail == null) {
                    out.count(old.range(i), -1);
                } else {
                    out.count(tail, -1);
                }
                tail = null;
                i++;
            }
            List<FlatRange> fresh = FlatViewRenderer.renderWindow(root, w.start(), w.end(), false);
            if (!fresh.isEmpty()) {
                FlatRange first = fresh.getFirst();
                FlatRange last = fresh.getLast();
                if ((first.unmergeable() && first.start() == ws) || (last.unmergeable() && last.last() == wl)) {
                    return null;
                }
            }
            for (FlatRange f : fresh) {
                out.addNew(f);
            }
            if (i < n && Long.compareUnsigned(cur(old, i, tail).start(), wl) <= 0) {
                FlatRange r = cur(old, i, tail);
                if (r.unmergeable()) {
                    return null;
                }
                out.count(r, -1);
                tail = trim(r, wl + 1, r.last());
                out.count(tail, 1);
            }
        }
        if (i < n) {
            emit(out, old, i, tail);
            out.addOldRun(old, i + 1, n);
        }
        return new Result(out.list.toArray(), out.delta);
    }

    /** The first index {@code >= from} of an old range whose last address is {@code >= addr}. */
    private static int firstEndingAtOrAfter(FlatView old, long addr, int from) {
        int lo = from;
        int hi = old.rangeCount();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(old.range(mid).last(), addr) < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static FlatRange cur(FlatView old, int i, FlatRange tail) {
        return tail != null ? tail : old.range(i);
    }

    private static void emit(Out out, FlatView old, int i, FlatRange tail) {
        if (tail == null) {
            out.addOld(old.range(i));
        } else {
            // the tail was counted when it was made; append it as if it were old
            out.addOld(tail);
        }
    }

    private static FlatRange trim(FlatRange r, long start, long last) {
        return new FlatRange(start, last, r.region(), r.offsetInRegion() + (start - r.start()), r.readonly(),
                r.nonvolatile(), r.romdMode(), r.unmergeable(), r.dirtyLogMask());
    }
}
