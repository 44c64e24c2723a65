package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.listener.MemoryListener;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link MemorySystem}'s transactions: the depth ({@code memory_region_transaction_depth}), the
 * pending update ({@code memory_region_update_pending}; the eventfd one is in
 * {@link SpaceIoeventfds}), and when changes reach listeners: the commit, and the loop that runs
 * the pending update and the calls waiting in {@link DeferredCalls} again while listener callbacks
 * ask for more, at most {@link MemorySystem#MAX_CHAINED_UPDATES} rounds. The public methods of
 * {@link MemorySystem} with the same names delegate here and document the behaviour (see
 * <a href="MemorySystem.html#tx">transactions</a> and
 * <a href="MemorySystem.html#nested">topology changes from listener callbacks</a>).
 *
 * <p><b>Thread safety.</b> {@link #begin()} takes the topology lock and {@link #commit()} releases
 * it; everything else needs it held (the depth is read without it only by a thread that checked it
 * holds the lock, or as a diagnostic).
 */
final class Transactions {
    private final ReentrantLock lock;
    private final Notifications notifications;
    private final DeferredCalls deferredCalls;
    private final TopologyUpdate topologyUpdate;
    private final ViewCache views;
    private final SpaceIoeventfds eventfds;
    private final AddressSpaceList spaces;
    private int depth;
    private boolean updatePending;

    Transactions(ReentrantLock lock, Notifications notifications, DeferredCalls deferredCalls,
                 TopologyUpdate topologyUpdate, ViewCache views, SpaceIoeventfds eventfds, AddressSpaceList spaces) {
        this.lock = lock;
        this.notifications = notifications;
        this.deferredCalls = deferredCalls;
        this.topologyUpdate = topologyUpdate;
        this.views = views;
        this.eventfds = eventfds;
        this.spaces = spaces;
    }

    /** @return the current transaction depth */
    int depth() {
        return depth;
    }

    /** See {@link MemorySystem#transactionBegin()}: takes the lock and deepens the transaction. */
    void begin() {
        lock.lock();
        depth++;
    }

    /** See {@link MemorySystem#transactionCommit()}: releases the lock taken by the matching begin. */
    void commit() {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("transactionCommit without the topology lock (no transactionBegin)");
        }
        if (depth == 0) {
            throw new IllegalStateException("transactionCommit without transactionBegin");
        }
        try {
            depth--;
            if (depth > 0 || notifications.underWay()) {
                // Inside a notification (a listener callback changed the topology) the views being
                // published were computed before this change: it stays pending, and the outermost
                // notification runs it once every listener has heard the current one.
                return;
            }
            Throwable chained = runPendingUpdates();
            notifications.rethrowListenerFailures(chained); // the change is whole: every listener heard it
        } finally {
            lock.unlock();
        }
    }

    /** Topology lock held: a change that needs new views happened. */
    void markUpdatePending() {
        assert lock.isHeldByCurrentThread();
        updatePending = true;
    }

    /** Topology lock held: every view must be re-rendered at the next effective commit. */
    void markAllStale() {
        assert lock.isHeldByCurrentThread();
        views.markAllStale();
        updatePending = true;
    }

    /**
     * Topology lock held: called when a notification other than a commit's ended; runs the calls
     * and updates its listeners asked for meanwhile, unless it was itself inside a notification
     * (which then runs them); inside an open transaction only the calls, the updates wait for the
     * commit.
     *
     * @return what {@link #runPendingUpdates()} or {@link #runDeferredCalls()} reports, or null
     */
    Throwable runDeferred() {
        assert lock.isHeldByCurrentThread();
        if (notifications.underWay()) {
            return null;
        }
        return depth > 0 ? runDeferredCalls() : runPendingUpdates();
    }

    /**
     * Topology lock held: queues a call a listener callback asked for (or one behind calls
     * waiting); outside notifications, runs the queue (and, outside transactions, what it asks for)
     * now, and throws what listeners threw.
     *
     * @param kind what the call does
     * @param listener its listener, or null
     * @param as its address space, or null
     */
    void defer(DeferredCalls.Kind kind, MemoryListener listener, AddressSpace as) {
        assert lock.isHeldByCurrentThread();
        deferredCalls.add(kind, listener, as);
        notifications.rethrowListenerFailures(runDeferred());
    }

    /**
     * Topology lock held: from a listener callback (or behind calls waiting), queues a global
     * dirty-log start or stop to run in call order once the notification is over.
     *
     * @param start a start (else a stop)
     * @param flags its {@code GLOBAL_DIRTY_*} flags
     * @return whether it was queued; if not, the caller runs it now
     */
    boolean deferGlobalDirtyLog(boolean start, int flags) {
        assert lock.isHeldByCurrentThread();
        if (!notifications.mustDefer()) {
            return false;
        }
        deferredCalls.addGlobalDirtyLog(start, flags);
        notifications.rethrowListenerFailures(runDeferred());
        return true;
    }

    /**
     * Topology lock held: re-renders every view, for a global dirty-log start or stop: inside an
     * open transaction at its commit; else now, also when the start or stop is a call deferred from
     * a callback (running between notifications: a stop's {@code logGlobalStop} must follow the
     * update, as QEMU's).
     *
     * @return what the update reports (outside notifications, with what its listeners threw), or null
     */
    Throwable rerenderForGlobalDirtyLog() {
        markAllStale();
        if (depth > 0) {
            return null;
        }
        if (notifications.underWay()) { // a deferred call, run by runPendingUpdates: it takes what listeners threw
            updateTopology();
            return null;
        }
        return notifications.takeListenerFailures(runPendingUpdates());
    }

    /**
     * Runs the pending update, then again while listener callbacks asked for another meanwhile
     * (each one a whole {@code begin}..{@code commit} of its own), at most
     * {@link MemorySystem#MAX_CHAINED_UPDATES} times. Depth 0, no notification under way, topology
     * lock held.
     *
     * @return null, or the failure to report: what deferred registration replays threw, or, when
     *     listeners kept changing the topology, an {@link IllegalStateException} (the last change is
     *     left pending, the views are those of the update before it)
     */
    private Throwable runPendingUpdates() {
        notifications.enter();
        try {
            Throwable failed = null;
            for (int round = 0; updatePending || eventfds.isUpdatePending() || !deferredCalls.isEmpty();
                    round++) {
                if (round == MemorySystem.MAX_CHAINED_UPDATES) {
                    return ListenerList.merge(tooManyRounds(), failed);
                }
                // Deferred calls first (registrations, removals, destructions), in call order, each
                // replaying the view published now; then the update, which new listeners hear as a
                // diff like everyone else.
                failed = ListenerList.merge(failed, notifications.applyDeferredCalls());
                if (updatePending) {
                    updateTopology();
                } else {
                    eventfds.clearUpdatePending();
                    for (SpaceEntry e : spaces) {
                        eventfds.update(e);
                    }
                }
            }
            return failed;
        } finally {
            notifications.exit();
        }
    }

    /**
     * The deferred calls alone, inside an open transaction: they wait for the notification, not for
     * the commit (a direct call in the transaction runs at once, replaying the view published now);
     * the updates wait for the commit. Again while their replays ask for more, at most
     * {@link MemorySystem#MAX_CHAINED_UPDATES} rounds. No notification under way, topology lock held.
     *
     * @return what their replays threw, or null
     */
    private Throwable runDeferredCalls() {
        notifications.enter();
        try {
            Throwable failed = null;
            for (int round = 0; !deferredCalls.isEmpty(); round++) {
                if (round == MemorySystem.MAX_CHAINED_UPDATES) {
                    return ListenerList.merge(tooManyRounds(), failed);
                }
                failed = ListenerList.merge(failed, notifications.applyDeferredCalls());
            }
            return failed;
        } finally {
            notifications.exit();
        }
    }

    private static IllegalStateException tooManyRounds() {
        return new IllegalStateException("listener callbacks changed the topology or the listeners during each of "
                + MemorySystem.MAX_CHAINED_UPDATES + " updates in a row (a listener that changes it on every"
                + " commit?); the last change is left pending and not published");
    }

    /** The body of an effective commit (depth 0, update pending). */
    private void updateTopology() {
        TopologyUpdate.Rendered next = topologyUpdate.render();
        // A change a callback makes while listeners hear this one is pending again.
        updatePending = false;
        eventfds.clearUpdatePending();
        topologyUpdate.publish(next);
    }
}
