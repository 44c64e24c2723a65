package dev.guestmem;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.flat.IncrementalRender;
import dev.guestmem.flat.TopologyDirt;
import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link MemorySystem}'s cache of shared flat views, QEMU's {@code flat_views}: one view per
 * {@linkplain FlatViewRoots flat-view root} (the null root: the system's permanent empty view), what
 * changed under each root since the last update ({@link TopologyDirt}), and the region references
 * the cached views hold. An update renders the next views ({@link #viewFor}: the cached one if
 * nothing under its root changed, else patched in the changed windows, else rendered in full), then
 * installs them ({@link #retain}); a patched view remembers its origin until then, so it inherits the
 * origin's references adjusted by the patch's delta instead of taking them all again.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held (the render counters excepted: plain
 * reads for diagnostics).
 */
final class ViewCache {
    private final ReentrantLock lock;
    /** The permanent empty view shared by every address space whose root resolves to nothing. */
    private final FlatView emptyView = new FlatView(null, List.of());
    /** {@code flat_views}: flat-view root to its current view (null key: {@link #emptyView}). */
    private Map<MemoryRegion, FlatView> flatViews = new IdentityHashMap<>();
    private final TopologyDirt dirt = new TopologyDirt();
    /**
     * The views of the update being published ({@link #publishing(Map)}), null otherwise: until
     * {@link #retain} the cache still holds the views from before it, stale where it changed the tree.
     */
    private Map<MemoryRegion, FlatView> publishing;
    /** Views patched from an old view during the current update, with their reference deltas. */
    private final Map<FlatView, Derivation> derived = new IdentityHashMap<>();
    private long fullRenders;
    private long windowRenders;

    /** A patched view's origin: its ranges' region references move by {@code delta} from {@code from}. */
    private record Derivation(FlatView from, Map<MemoryRegion, Integer> delta) {
    }

    /** @param lock the system's topology lock, which every change here needs */
    ViewCache(ReentrantLock lock) {
        this.lock = lock;
        flatViews.put(null, emptyView);
    }

    /** @return the permanent empty view */
    FlatView emptyView() {
        return emptyView;
    }

    /**
     * Topology lock held: the view of a new address space's root, cached and referenced at once (it
     * is shown before any update): the cached one, or a full render added to the cache.
     *
     * @param root the address space's root region
     * @return its view
     */
    FlatView cachedOrRendered(MemoryRegion root) {
        assert lock.isHeldByCurrentThread();
        MemoryRegion key = FlatViewRoots.of(root);
        if (publishing != null) {
            // A listener callback while an update is published: the cache's view may predate the
            // update (whose record of changes is gone). Take the update's view, or a render now,
            // which the update installs and references (retain).
            FlatView view = publishing.get(key);
            if (view == null) {
                view = newView(key, FlatViewRenderer.render(key));
                publishing.put(key, view);
                fullRenders++;
            }
            return view;
        }
        FlatView view = flatViews.get(key);
        if (view == null) {
            view = newView(key, FlatViewRenderer.render(key));
            flatViews.put(key, view);
            refRegions(view, 1);
            fullRenders++;
        }
        return view;
    }

    /**
     * Topology lock held: a map for the next generation of the cache ({@code flatviews_reset}),
     * holding the empty view alone.
     *
     * @param roots how many roots it will hold besides
     * @return the map, to fill with {@link #viewFor} and pass to {@link #retain}
     */
    Map<MemoryRegion, FlatView> nextGeneration(int roots) {
        assert lock.isHeldByCurrentThread();
        Map<MemoryRegion, FlatView> next = new IdentityHashMap<>(roots + 1);
        next.put(null, emptyView);
        return next;
    }

    /**
     * Topology lock held: the view for a flat-view root in the update under way: the cached one if
     * nothing under it changed, else patched or rebuilt.
     *
     * @param key a flat-view root, or null
     * @return its view
     */
    FlatView viewFor(MemoryRegion key) {
        assert lock.isHeldByCurrentThread();
        FlatView old = flatViews.get(key);
        if (old != null && !dirt.isDirty(key)) {
            return old;
        }
        if (old != null) {
            List<TopologyDirt.Window> windows = dirt.addressWindows(key);
            if (windows != null) {
                IncrementalRender.Result patched = IncrementalRender.patch(old, key, windows);
                if (patched != null) {
                    windowRenders++;
                    FlatView v = key == null ? emptyView : FlatView.patched(key, patched.rangeArray(), old, windows);
                    derived.put(v, new Derivation(old, patched.refDelta()));
                    return v;
                }
            }
        }
        fullRenders++;
        return newView(key, FlatViewRenderer.render(key));
    }

    private FlatView newView(MemoryRegion key, List<FlatRange> ranges) {
        return key == null ? emptyView : new FlatView(key, ranges);
    }

    /**
     * Topology lock held: keeps the views {@code spaces} show and drops the rest (an address space
     * went away).
     *
     * @param spaces every address space of the system
     */
    void retainShown(AddressSpaceList spaces) {
        assert lock.isHeldByCurrentThread();
        Map<MemoryRegion, FlatView> m = nextGeneration(spaces.size());
        for (SpaceEntry e : spaces) {
            FlatView v = e.as.currentMap();
            m.put(v.root(), v);
        }
        retain(m);
    }

    /**
     * Topology lock held: the views of an update are about to be published; until {@link #retain}
     * installs them, a new address space takes its view from them ({@link #cachedOrRendered}).
     *
     * @param next the update's views, keyed by flat-view root (a render for a new space is added)
     */
    void publishing(Map<MemoryRegion, FlatView> next) {
        assert lock.isHeldByCurrentThread();
        publishing = next;
    }

    /**
     * Topology lock held: makes {@code next} the view cache. As in QEMU, every range of a live view
     * holds a reference on its region: new views take theirs, dropped views give theirs back, and a
     * patched view inherits its origin's references adjusted by the patch's delta (so a small change
     * costs little).
     *
     * <p>Both maps are keyed by flat-view root and a view's key is its root, so "was cached" and "stays
     * cached" are one lookup by key each, and a patched view can only inherit from the view its key
     * had (no identity sets, no pass over anything but the two small maps).
     *
     * @param next flat-view root to view, the empty view under null
     */
    void retain(Map<MemoryRegion, FlatView> next) {
        assert lock.isHeldByCurrentThread();
        // Take new references before dropping old ones so nothing reaches zero in between.
        next.forEach((key, v) -> {
            FlatView had = flatViews.get(key);
            if (had == v) {
                return;
            }
            Derivation d = derived.get(v);
            if (d != null && d.from() == had) {
                d.delta().forEach((mr, delta) -> {
                    for (int k = 0; k < delta; k++) {
                        mr.ref();
                    }
                });
            } else {
                refRegions(v, 1);
            }
        });
        next.forEach((key, v) -> {
            FlatView had = flatViews.get(key);
            Derivation d = had == v ? null : derived.get(v);
            if (d != null && d.from() == had) {
                d.delta().forEach((mr, delta) -> {
                    for (int k = 0; k > delta; k--) {
                        mr.unref();
                    }
                });
            }
        });
        flatViews.forEach((key, had) -> {
            FlatView v = next.get(key);
            if (v == had) {
                return;
            }
            Derivation d = v == null ? null : derived.get(v);
            if (d == null || d.from() != had) {
                refRegions(had, -1); // dropped, not inherited
            }
        });
        derived.clear();
        flatViews = next;
        publishing = null;
    }

    private static void refRegions(FlatView v, int delta) {
        for (int i = 0; i < v.rangeCount(); i++) {
            MemoryRegion mr = v.range(i).region();
            if (delta > 0) {
                mr.ref();
            } else {
                mr.unref();
            }
        }
    }

    /** Topology lock held: every view must be re-rendered at the next update. */
    void markAllStale() {
        assert lock.isHeldByCurrentThread();
        dirt.markAll();
    }

    /**
     * Topology lock held: the window {@code [start, end)} of {@code region} (region-local) may render
     * differently.
     */
    void invalidate(MemoryRegion region, Int128 start, Int128 end) {
        assert lock.isHeldByCurrentThread();
        dirt.mark(region, start, end);
    }

    /** Topology lock held: views rendered from {@code region} itself must be rebuilt (it moved). */
    void invalidateRootOnly(MemoryRegion region) {
        assert lock.isHeldByCurrentThread();
        dirt.markRootMoved(region);
    }

    /** Topology lock held: the update under way has taken what changed (its views are computed). */
    void clearStale() {
        assert lock.isHeldByCurrentThread();
        dirt.clear();
    }

    /** @return how many views were rendered in full */
    long fullRenderCount() {
        return fullRenders;
    }

    /** @return how many views were patched by re-rendering only changed windows */
    long windowRenderCount() {
        return windowRenders;
    }
}
