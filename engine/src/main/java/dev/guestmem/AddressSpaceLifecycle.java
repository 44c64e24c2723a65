package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatView;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.ForeignRegionException;
import dev.guestmem.region.MemoryRegion;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link MemorySystem}'s address-space lifecycle: creation ({@code address_space_init}: render,
 * publish, the replay to the listeners of every address space, the rollback when they throw) and
 * destruction ({@code address_space_destroy}: the checks, the removal replay, the detach to the
 * empty view), each at once or, from a listener callback, as a call waiting in
 * {@link DeferredCalls}. The public methods of {@link MemorySystem} with the same names delegate
 * here and document the behaviour.
 *
 * <p><b>Thread safety.</b> {@link #create} and {@link #destroyAddressSpace} take the system's
 * topology lock; the rest needs it held.
 */
final class AddressSpaceLifecycle {
    private final MemorySystem system;
    private final ReentrantLock lock;
    private final AddressSpaceList spaces;
    private final ViewCache views;
    private final SpaceIoeventfds eventfds;
    private final ListenerRegistry listeners;
    private final DeferredCalls deferredCalls;
    private final Notifications notifications;
    private final Transactions transactions;

    AddressSpaceLifecycle(MemorySystem system, AddressSpaceList spaces, ViewCache views, SpaceIoeventfds eventfds,
                          ListenerRegistry listeners, DeferredCalls deferredCalls, Notifications notifications,
                          Transactions transactions) {
        this.system = system;
        this.lock = system.lock();
        this.spaces = spaces;
        this.views = views;
        this.eventfds = eventfds;
        this.listeners = listeners;
        this.deferredCalls = deferredCalls;
        this.notifications = notifications;
        this.transactions = transactions;
    }

    /** See {@link MemorySystem#addressSpace}. */
    AddressSpace create(MemoryRegion root, String name) {
        Objects.requireNonNull(root, "root");
        lock.lock();
        try {
            if (root.system() != system) {
                throw new ForeignRegionException(root, root);
            }
            AddressSpace as = new AddressSpace(system, root, name == null ? "anonymous" : name);
            root.ref();
            SpaceEntry e = spaces.add(as);
            FlatView view = views.cachedOrRendered(root);
            if (notifications.mustDefer()) {
                // A listener callback: the space serves accesses at once, but its listeners hear it
                // appear when the notification is over (a replay now would nest in the one under way).
                as.publish(view);
                transactions.defer(DeferredCalls.Kind.ANNOUNCE, null, as);
                return as;
            }
            Throwable failed = listeners.announce(e, view);
            as.publish(view);
            failed = notifications.takeListenerFailures(ListenerList.merge(failed, transactions.runDeferred()));
            if (failed != null) {
                // The caller gets the throw, not the handle: take the space down again.
                failed = ListenerList.merge(failed, rollBack(as));
            }
            notifications.rethrowListenerFailures(failed);
            return as;
        } finally {
            lock.unlock();
        }
    }

    /** See {@link MemorySystem#destroyAddressSpace}. */
    void destroyAddressSpace(AddressSpace as) {
        lock.lock();
        try {
            liveEntry(as);
            for (MemoryListener l : spaces.entry(as).listeners.snapshot()) {
                if (deferredCalls.willBeRegisteredFor(l, as, listeners.registrations())) {
                    throw new IllegalStateException("address space '" + as.name() + "' still has listener " + l);
                }
            }
            List<MemoryListener> waiting = deferredCalls.waitingFor(as, listeners.registrations());
            if (!waiting.isEmpty()) {
                throw new IllegalStateException("address space '" + as.name() + "' has listener " + waiting.get(0)
                        + " waiting to be registered to it");
            }
            if (notifications.mustDefer()) {
                transactions.defer(DeferredCalls.Kind.DESTROY, null, as);
                return;
            }
            // Destroyed all the same.
            notifications.rethrowListenerFailures(ListenerList.merge(destroy(as), transactions.runDeferred()));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Topology lock held, outside any notification: the body of {@link #destroyAddressSpace} (also
     * run as a call deferred from a callback).
     *
     * @param as one of the system's address spaces
     * @return what listeners threw, or null
     */
    Throwable destroy(AddressSpace as) {
        assert lock.isHeldByCurrentThread();
        SpaceEntry e = spaces.entry(as);
        // Listeners of every address space lose this one as if they unregistered from it
        // (listener_del_address_space), so their region_add and region_del stay paired.
        FlatView last = as.currentMap();
        Throwable failed = null;
        notifications.enter();
        try {
            for (MemoryListener l : e.listeners.snapshot()) {
                failed = ListenerList.merge(failed, ListenerCalls.replayDel(l, last, eventfds.known(e)));
            }
        } finally {
            notifications.exit();
        }
        spaces.remove(e);
        // QEMU's address_space_detach re-renders the space with no root: it shows nothing from
        // now on, and translations through it (an IOMMU of another space) are dropped.
        try {
            as.publish(views.emptyView());
        } catch (RuntimeException | Error t) { // published; a dependent's invalidation listener threw
            failed = ListenerList.merge(failed, t);
        }
        views.retainShown(spaces);
        as.runDestroyHooks();
        as.root().unref();
        return failed;
    }

    /**
     * Undoes a {@link #create} whose listeners threw: removes the listeners registered to the
     * space meanwhile (from callbacks), then destroys it; they and the listeners of every address
     * space hear it go.
     *
     * @return what that threw, or null
     */
    private Throwable rollBack(AddressSpace as) {
        Throwable failed = ListenerCalls.tell(null, () -> system.removeListeners(as));
        return ListenerCalls.tell(failed, () -> destroyAddressSpace(as));
    }

    /**
     * Topology lock held: {@link AddressSpaceList#entry}, refusing a space whose destruction is
     * waiting too.
     *
     * @param as an address space
     * @return its entry
     * @throws IllegalStateException if it is not one of the system's, or is waiting to be destroyed
     */
    SpaceEntry liveEntry(AddressSpace as) {
        assert lock.isHeldByCurrentThread();
        SpaceEntry e = spaces.entry(as);
        if (deferredCalls.willBeDestroyed(as)) {
            throw new IllegalStateException("address space " + as + " is waiting to be destroyed");
        }
        return e;
    }
}
