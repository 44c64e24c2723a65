package dev.guestmem;

import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.listener.TopologyDiff;
import dev.guestmem.region.MemoryRegion;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The body of a {@link MemorySystem}'s effective commit, in two steps: {@link #render()}
 * ({@code flatviews_reset}: one view per distinct flat-view root of every address space, from the
 * {@link ViewCache}), then {@link #publish} ({@code begin} on every listener; per address space in
 * creation order the topology diff and the view's publication ({@code address_space_set_flatview})
 * and the eventfd update; {@code commit}; the new views become the cache). Between the two the
 * system clears its pending flags: a change a callback makes while listeners are told is pending
 * again. What invalidation listeners throw while views are published is kept for the commit's end.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
final class TopologyUpdate {
    private final ReentrantLock lock;
    private final AddressSpaceList spaces;
    private final ViewCache views;
    private final SpaceIoeventfds eventfds;
    /** Every registered listener: the system's list. */
    private final ListenerList globalListeners;
    /** What invalidation listeners threw while views were published; taken at the commit's end. */
    private Throwable invalidationFailure;

    /** The views an update computed: {@code next} keyed by flat-view root, {@code keys[i]} the i-th space's root. */
    record Rendered(Map<MemoryRegion, FlatView> next, MemoryRegion[] keys) {
    }

    TopologyUpdate(ReentrantLock lock, AddressSpaceList spaces, ViewCache views, SpaceIoeventfds eventfds,
                   ListenerList globalListeners) {
        this.lock = lock;
        this.spaces = spaces;
        this.views = views;
        this.eventfds = eventfds;
        this.globalListeners = globalListeners;
    }

    /**
     * Topology lock held: {@code flatviews_reset}, one view per distinct flat-view root of every
     * address space (cached, patched or rendered; see {@link ViewCache#viewFor}).
     *
     * @return the views, for {@link #publish}
     */
    Rendered render() {
        assert lock.isHeldByCurrentThread();
        Map<MemoryRegion, FlatView> next = views.nextGeneration(spaces.size());
        MemoryRegion[] keys = new MemoryRegion[spaces.size()];
        for (int i = 0; i < spaces.size(); i++) {
            MemoryRegion key = FlatViewRoots.of(spaces.get(i).as.root());
            keys[i] = key;
            if (!next.containsKey(key)) {
                next.put(key, views.viewFor(key));
            }
        }
        return new Rendered(next, keys);
    }

    /**
     * Topology lock held: tells the listeners and publishes what {@link #render()} computed, then
     * makes it the view cache.
     *
     * @param rendered the views, for the spaces there were when they were rendered
     */
    void publish(Rendered rendered) {
        assert lock.isHeldByCurrentThread();
        Map<MemoryRegion, FlatView> next = rendered.next();
        MemoryRegion[] keys = rendered.keys();
        views.clearStale();
        // A space a callback creates from here on takes its view from next (or renders one into it).
        views.publishing(next);
        // The spaces as they were when the views were computed: a callback may create one meanwhile
        // (destruction waits until the update is over).
        SpaceEntry[] updating = spaces.toArray();
        globalListeners.forward(MemoryListener::begin);
        for (int i = 0; i < updating.length; i++) {
            setFlatview(updating[i], next.get(keys[i]));
            eventfds.update(updating[i]);
        }
        globalListeners.forward(MemoryListener::commit);
        views.retain(next);
    }

    /** QEMU's {@code address_space_set_flatview}: tell the listeners, then publish. */
    private void setFlatview(SpaceEntry e, FlatView view) {
        FlatView old = e.as.currentMap();
        if (old == view && view == views.emptyView()) {
            return;
        }
        if (!e.listeners.isEmpty()) {
            TopologyDiff.update(e.listeners, old, view);
        }
        // Release; pairs with the acquire in AddressSpace.currentMap().
        try {
            e.as.publish(view);
        } catch (RuntimeException | Error t) { // published; a dependent's invalidation listener threw
            invalidationFailure = ListenerList.merge(invalidationFailure, t);
        }
    }

    /**
     * Topology lock held: what invalidation listeners threw while updates published views, taken.
     *
     * @return the first throw (later ones suppressed in it), or null
     */
    Throwable takeInvalidationFailure() {
        assert lock.isHeldByCurrentThread();
        Throwable failed = invalidationFailure;
        invalidationFailure = null;
        return failed;
    }
}
