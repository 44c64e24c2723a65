package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatView;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.listener.MemoryListener;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where a {@link MemorySystem}'s listeners are registered: QEMU's {@code memory_listeners} (every
 * listener), the listeners of every address space (an extension: new spaces get them too), and each
 * listener's address space (the lists per address space are in {@link SpaceEntry}), with the bodies
 * of a registration and an unregistration, which replay the current views to the listener. When they
 * may run (not inside a notification: calls from callbacks wait) is the system's to decide; the
 * public methods of {@link MemorySystem} check and document that.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
final class ListenerRegistry {
    private final MemorySystem system;
    private final ReentrantLock lock;
    private final AddressSpaceList spaces;
    private final SpaceIoeventfds eventfds;
    /** Every registered listener ({@code memory_listeners}). */
    private final ListenerList globalListeners = new ListenerList();
    /** Listeners registered for every address space; new address spaces get them too. */
    private final ListenerList allSpacesListeners = new ListenerList();
    /** Where each listener is registered: an address space, or null for all. */
    private final Map<MemoryListener, AddressSpace> registrations = new IdentityHashMap<>();
    /** What {@link #registrations()} hands out: the live map, read-only. */
    private final Map<MemoryListener, AddressSpace> readOnlyRegistrations = Collections.unmodifiableMap(registrations);

    ListenerRegistry(MemorySystem system, AddressSpaceList spaces, SpaceIoeventfds eventfds) {
        this.system = system;
        this.lock = system.lock();
        this.spaces = spaces;
        this.eventfds = eventfds;
    }

    /** @return every registered listener, in priority order ({@code memory_listeners}) */
    ListenerList globalListeners() {
        return globalListeners;
    }

    /** @return where each listener is registered now (an address space, or null for all); live, read-only */
    Map<MemoryListener, AddressSpace> registrations() {
        return readOnlyRegistrations;
    }

    /**
     * Topology lock held, outside any notification: the body of
     * {@link MemorySystem#registerListener}, which adds the listener and replays.
     *
     * @param listener a listener not registered
     * @param as one of the system's address spaces, or null for all
     * @return what the replay threw, or null
     */
    Throwable register(MemoryListener listener, AddressSpace as) {
        assert lock.isHeldByCurrentThread();
        List<SpaceEntry> targets = as == null ? spaces.announced() : List.of(spaces.entry(as));
        registrations.put(listener, as);
        globalListeners.add(listener);
        if (as == null) {
            allSpacesListeners.add(listener);
        }
        for (SpaceEntry e : targets) {
            e.listeners.add(listener);
        }
        // One logGlobalStart however many address spaces it covers, so that it pairs with the
        // one logGlobalStop it will hear.
        boolean globalStart = system.isGlobalDirtyTracking();
        Throwable failed = null;
        system.enterNotification();
        try {
            for (SpaceEntry e : targets) {
                failed = ListenerList.merge(failed, ListenerCalls.replayAdd(listener, e.as.currentMap(), globalStart,
                        eventfds.known(e)));
                globalStart = false;
            }
            if (globalStart) { // no address space yet
                failed = ListenerCalls.tell(failed, listener::begin);
                failed = ListenerCalls.tell(failed, listener::logGlobalStart);
                failed = ListenerCalls.tell(failed, listener::commit);
            }
        } finally {
            system.exitNotification();
        }
        return failed;
    }

    /**
     * Topology lock held, outside any notification: the body of
     * {@link MemorySystem#unregisterListener}, which removes and replays.
     *
     * @param listener a registered listener
     * @return what the replay threw, or null
     */
    Throwable unregister(MemoryListener listener) {
        assert lock.isHeldByCurrentThread();
        registrations.remove(listener);
        globalListeners.remove(listener);
        allSpacesListeners.remove(listener);
        Throwable failed = null;
        system.enterNotification();
        try {
            for (SpaceEntry e : spaces) {
                if (e.listeners.remove(listener)) {
                    failed = ListenerList.merge(failed, ListenerCalls.replayDel(listener, e.as.currentMap(),
                            eventfds.known(e)));
                    if (e.listeners.isEmpty()) {
                        e.ioeventfds = null;
                    }
                }
            }
        } finally {
            system.exitNotification();
        }
        return failed;
    }

    /**
     * Topology lock held, outside any notification: gives a new address space the listeners of every
     * address space and replays {@code view} to them, as if they registered to it now
     * ({@code listener_add_address_space}), global start excepted: they heard that once already.
     *
     * @param e the new space
     * @param view its view (published, or about to be)
     * @return what the replays threw, or null
     */
    Throwable announce(SpaceEntry e, FlatView view) {
        assert lock.isHeldByCurrentThread();
        e.announced = true;
        for (MemoryListener l : allSpacesListeners.snapshot()) {
            e.listeners.add(l);
        }
        if (!e.listeners.isEmpty()) {
            e.ioeventfds = eventfds.collect(view);
        }
        Throwable failed = null;
        system.enterNotification();
        try {
            for (MemoryListener l : e.listeners.snapshot()) {
                failed = ListenerList.merge(failed, ListenerCalls.replayAdd(l, view, false, e.ioeventfds));
            }
        } finally {
            system.exitNotification();
        }
        return failed;
    }

    /**
     * Topology lock held: what the lists kept of their walks' throws so far (the global list's
     * first, then each address space's in creation order), taken.
     *
     * @param first the failure so far, or null
     * @return {@code first} with the kept throws suppressed in it, or null
     */
    Throwable takeFailures(Throwable first) {
        assert lock.isHeldByCurrentThread();
        Throwable failed = ListenerList.merge(first, globalListeners.takeFailure());
        for (SpaceEntry e : spaces) {
            failed = ListenerList.merge(failed, e.listeners.takeFailure());
        }
        return failed;
    }
}
