package dev.guestmem.flat;

import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.List;

/**
 * Patches a view by re-rendering only the address windows a commit changed, then splicing them into
 * the old ranges and merging again.
 *
 * <p>Why the result equals a full render: {@link FlatViewRenderer#renderWindow} yields exactly the
 * full render's pieces intersected with the window; outside the windows nothing changed (every change
 * was propagated up to the root as a window, see {@link TopologyDirt}); and {@code flatview_simplify}'s
 * result is the canonical maximal merge of mergeable neighbours, so cutting mergeable ranges at window
 * edges and merging again changes nothing. Unmergeable ranges are the exception (a cut would stay
 * visible), so when one straddles or touches a window edge this gives up and the caller renders in full.
 *
 * <p><b>Thread safety.</b> Stateless; topology lock held.
 */
public final class IncrementalRender {
    private IncrementalRender() {
    }

    /**
     * Re-renders {@code root} inside {@code windows} and splices the result into {@code old}.
     *
     * @param old the view rendered from {@code root} before the changes
     * @param root the flat-view root
     * @param windows sorted, disjoint, non-adjacent address windows inside {@code [0, 2^64)}
     * @return the new simplified ranges, or null if a full render is needed
     */
    public static List<FlatRange> patch(FlatView old, MemoryRegion root, List<TopologyDirt.Window> windows) {
        int n = old.rangeCount();
        List<FlatRange> src = new ArrayList<>(old.ranges());
        List<FlatRange> out = new ArrayList<>(n + 4 * windows.size() + 4);
        int i = 0;
        for (TopologyDirt.Window w : windows) {
            long ws = w.start().lo();
            long wl = w.end().subUnsigned(1).lo(); // last address inside the window
            while (i < n && Long.compareUnsigned(src.get(i).last(), ws) < 0) {
                out.add(src.get(i++));
            }
            if (i < n && Long.compareUnsigned(src.get(i).start(), ws) < 0) {
                FlatRange r = src.get(i);
                if (r.unmergeable()) {
                    return null;
                }
                out.add(trim(r, r.start(), ws - 1));
            }
            while (i < n && Long.compareUnsigned(src.get(i).last(), wl) <= 0) {
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
            out.addAll(fresh);
            if (i < n && Long.compareUnsigned(src.get(i).start(), wl) <= 0) {
                FlatRange r = src.get(i);
                if (r.unmergeable()) {
                    return null;
                }
                // Keep the tail for the next window (which may cut it again) or the final copy.
                src.set(i, trim(r, wl + 1, r.last()));
            }
        }
        while (i < n) {
            out.add(src.get(i++));
        }
        return FlatViewRenderer.simplify(out);
    }

    private static FlatRange trim(FlatRange r, long start, long last) {
        return new FlatRange(start, last, r.region(), r.offsetInRegion() + (start - r.start()), r.readonly(),
                r.nonvolatile(), r.romdMode(), r.unmergeable(), r.dirtyLogMask());
    }

}
