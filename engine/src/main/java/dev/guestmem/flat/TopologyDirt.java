package dev.guestmem.flat;

import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What changed since the last commit, so that a commit re-renders only stale views, and within a
 * stale view only the changed windows. QEMU has no counterpart: it re-renders every view on every
 * effective commit.
 *
 * <p>A change is recorded as a window {@code [start, end)} in the changed region's own coordinates and
 * propagated upwards: to the container (shifted by the region's offset, clipped to the container's
 * size) and to every alias whose target the region is (shifted by minus the alias offset, clipped to
 * the alias window), recursively. A view is stale when its flat-view root received a window.
 * Propagation is a superset: changes under disabled ancestors are recorded too; re-rendering them is
 * harmless.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
public final class TopologyDirt {
    /** Past this many windows a region is simply marked dirty as a whole. */
    private static final int MAX_WINDOWS = 16;

    /**
     * A changed window in some region's coordinates.
     *
     * @param start first changed offset
     * @param end end (exclusive)
     */
    public record Window(Int128 start, Int128 end) {
    }

    private final Map<MemoryRegion, List<Window>> windows = new IdentityHashMap<>();
    /**
     * Regions marked dirty as a whole, each with the end (its size) the mark was sent up for: a region
     * that grows afterwards sends up its new part too.
     */
    private final Map<MemoryRegion, Int128> whole = new IdentityHashMap<>();
    private final Set<MemoryRegion> rootMoved = Collections.newSetFromMap(new IdentityHashMap<>());
    /** Where each region with windows was (container, offset) when they were propagated to its container. */
    private final Map<MemoryRegion, Placement> placements = new IdentityHashMap<>();
    private boolean all;

    /** A region's place: its container (identity) and offset there. */
    private record Placement(MemoryRegion container, long addr) {
    }

    /** Creates an empty record. */
    public TopologyDirt() {
    }

    /**
     * Records that {@code [start, end)} of {@code region} (region-local) may render differently.
     *
     * @param region the region
     * @param start first offset
     * @param end end offset (exclusive)
     */
    public void mark(MemoryRegion region, Int128 start, Int128 end) {
        if (all) {
            return;
        }
        Placement now = new Placement(region.container(), region.addr());
        Placement was = placements.put(region, now);
        if (was != null && !was.equals(now)) {
            // It moved since its windows went up to its container: "covered" below would stop a
            // change there from reaching the container at the new place (a region moved while empty,
            // then grown, in one transaction). Send them up again from where it is now.
            propagateToContainer(region, whole.containsKey(region)
                    ? List.of(new Window(Int128.ZERO, region.size128())) : windows.getOrDefault(region, List.of()));
        }
        Int128 s = Int128.max(start, Int128.ZERO);
        Int128 e = Int128.min(end, region.size128());
        if (s.compareTo(e) >= 0) {
            return;
        }
        Int128 wholeEnd = whole.get(region);
        if (wholeEnd != null) {
            if (e.compareTo(wholeEnd) <= 0) {
                return; // inside what its whole mark covered, and already propagated
            }
            // It grew since it was marked whole: mark (and send up) its new extent.
            whole.put(region, region.size128());
            propagate(region, wholeEnd, region.size128());
            return;
        }
        List<Window> list = windows.computeIfAbsent(region, k -> new ArrayList<>(2));
        for (Window w : list) {
            if (w.start.compareTo(s) <= 0 && w.end.compareTo(e) >= 0) {
                return; // already covered, and already propagated
            }
        }
        if (list.size() >= MAX_WINDOWS) {
            windows.remove(region);
            whole.put(region, region.size128());
            s = Int128.ZERO;
            e = region.size128();
        } else {
            list.add(new Window(s, e));
        }
        propagate(region, s, e);
    }

    /** Sends {@code [s, e)} of {@code region} up to its container and to the aliases of it. */
    private void propagate(MemoryRegion region, Int128 s, Int128 e) {
        MemoryRegion c = region.container();
        if (c != null) {
            mark(c, s.addUnsigned(region.addr()), e.addUnsigned(region.addr()));
        }
        for (AliasRegion a : region.aliasReferrers()) {
            mark(a, s.subUnsigned(a.aliasOffset()), e.subUnsigned(a.aliasOffset()));
        }
    }

    private void propagateToContainer(MemoryRegion region, List<Window> list) {
        MemoryRegion c = region.container();
        if (c != null) {
            for (Window w : List.copyOf(list)) {
                mark(c, w.start.addUnsigned(region.addr()), w.end.addUnsigned(region.addr()));
            }
        }
    }

    /**
     * Records that views rendered from {@code region} itself must be rebuilt entirely (it moved, so
     * everything it renders shifts).
     *
     * @param region the region
     */
    public void markRootMoved(MemoryRegion region) {
        rootMoved.add(region);
    }

    /** Records that every view must be rebuilt (global dirty logging changed). */
    public void markAll() {
        all = true;
        windows.clear();
        whole.clear();
        rootMoved.clear();
        placements.clear();
    }

    /**
     * @param root a flat-view root
     * @return whether its view must be rebuilt or patched
     */
    public boolean isDirty(MemoryRegion root) {
        return all || rootMoved.contains(root) || whole.containsKey(root) || windows.containsKey(root);
    }

    /**
     * The changed windows of a flat-view root, in address-space coordinates, sorted and merged.
     *
     * @param root a flat-view root
     * @return the windows, or null if the view must be rebuilt entirely
     */
    public List<Window> addressWindows(MemoryRegion root) {
        if (all || rootMoved.contains(root) || whole.containsKey(root)) {
            return null;
        }
        List<Window> list = windows.get(root);
        if (list == null) {
            return List.of();
        }
        // The view renders root at base 0 + root.addr: shift, then clip to [0, 2^64).
        List<Window> shifted = new ArrayList<>(list.size());
        for (Window w : list) {
            Int128 s = Int128.max(w.start.addUnsigned(root.addr()), Int128.ZERO);
            Int128 e = Int128.min(w.end.addUnsigned(root.addr()), Int128.TWO_64);
            if (s.compareTo(e) < 0) {
                shifted.add(new Window(s, e));
            }
        }
        shifted.sort((a, b) -> a.start.compareTo(b.start));
        List<Window> merged = new ArrayList<>(shifted.size());
        for (Window w : shifted) {
            if (!merged.isEmpty() && merged.getLast().end.compareTo(w.start) >= 0) {
                Window last = merged.removeLast();
                merged.add(new Window(last.start, Int128.max(last.end, w.end)));
            } else {
                merged.add(w);
            }
        }
        return merged;
    }

    /** @return whether nothing was recorded */
    public boolean isEmpty() {
        return !all && windows.isEmpty() && whole.isEmpty() && rootMoved.isEmpty();
    }

    /** Forgets everything (after a commit rebuilt the views). */
    public void clear() {
        all = false;
        windows.clear();
        whole.clear();
        rootMoved.clear();
        placements.clear();
    }
}
