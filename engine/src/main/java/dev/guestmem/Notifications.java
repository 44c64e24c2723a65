package dev.guestmem;

import dev.guestmem.listener.ListenerList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * A {@link MemorySystem}'s listener notifications as a whole: how many are under way (on the thread
 * holding the topology lock), whether a call made now must wait for them to end in the system's
 * {@link DeferredCalls}, running the calls waiting there, and what listeners threw meanwhile (the
 * lists keep a throw instead of stopping a change half-way; the outermost call rethrows it). When
 * the waiting calls run (at a notification's end, or at a commit) is {@link Transactions}'s to
 * decide; see <a href="MemorySystem.html#nested">topology changes from listener callbacks</a>.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held (the counter is read without it only
 * by a thread that checked it holds the lock).
 */
final class Notifications {
    private final ReentrantLock lock;
    private final DeferredCalls deferredCalls;
    private final ListenerRegistry listeners;
    private final TopologyUpdate topologyUpdate;
    /** Runs one waiting call (its body, outside any notification); returns what its replays threw. */
    private final Function<DeferredCalls.Change, Throwable> apply;
    /**
     * How many listener notifications are under way (lock held, so on this thread): a listener
     * that nests a commit must not be handed what the others threw; the outermost rethrows it.
     */
    private int notifying;

    Notifications(ReentrantLock lock, DeferredCalls deferredCalls, ListenerRegistry listeners,
                  TopologyUpdate topologyUpdate, Function<DeferredCalls.Change, Throwable> apply) {
        this.lock = lock;
        this.deferredCalls = deferredCalls;
        this.listeners = listeners;
        this.topologyUpdate = topologyUpdate;
        this.apply = apply;
    }

    /** Topology lock held: a listener notification begins; pair with {@link #exit()}. */
    void enter() {
        assert lock.isHeldByCurrentThread();
        notifying++;
    }

    /** Topology lock held: the notification begun by {@link #enter()} is over. */
    void exit() {
        assert lock.isHeldByCurrentThread();
        notifying--;
    }

    /** @return whether a listener notification is under way (meaningful with the topology lock held) */
    boolean underWay() {
        return notifying > 0;
    }

    /**
     * Topology lock held: whether a call must wait in the deferred calls: inside a notification, or
     * behind calls already waiting (they run in call order).
     */
    boolean mustDefer() {
        assert lock.isHeldByCurrentThread();
        return notifying > 0 || !deferredCalls.isEmpty();
    }

    /**
     * Topology lock held: runs the calls asked for so far, in call order; what their replays ask for
     * waits for the next round.
     *
     * @return what their replays threw, or null
     */
    Throwable applyDeferredCalls() {
        assert lock.isHeldByCurrentThread();
        // Before each call, what the walks so far kept: it came first, and a destruction takes its
        // space's list (and what it kept) away, also what a global start or stop's re-render just
        // kept there. Only an outermost loop gets here, so this is the outer call's to take.
        Throwable failed = null;
        for (int n = deferredCalls.size(); n > 0; n--) {
            failed = ListenerList.merge(failed, takeKeptFailures());
            failed = ListenerList.merge(failed, applyOne(deferredCalls.poll()));
        }
        return failed;
    }

    /** Runs a call a listener callback asked for; returns what its replays threw. */
    private Throwable applyOne(DeferredCalls.Change c) {
        try {
            return apply.apply(c);
        } catch (RuntimeException | Error t) { // no longer valid (checked at the call, though)
            return t;
        }
    }

    /**
     * Topology lock held: rethrows what listeners threw while being told of a change (the first;
     * the others suppressed in it). The lists keep a throw instead of stopping the change half-way
     * (QEMU's listeners cannot fail): views published, every listener told. Inside another
     * notification (a listener's nested change) only {@code first} is thrown: the outer one
     * rethrows the rest.
     *
     * @param first thrown ahead of (with suppressed) what listeners threw, or null
     */
    void rethrowListenerFailures(Throwable first) {
        ListenerList.rethrow(takeListenerFailures(first));
    }

    /**
     * Topology lock held: what {@link #rethrowListenerFailures} would throw, taken without throwing it.
     *
     * @param first the failure so far, or null
     * @return {@code first} with the kept failures suppressed in it (outside notifications), or null
     */
    Throwable takeListenerFailures(Throwable first) {
        assert lock.isHeldByCurrentThread();
        return notifying == 0 ? ListenerList.merge(first, takeKeptFailures()) : first;
    }

    /** @return what the lists kept of the throws of the walks so far (and invalidation's), taken; or null */
    private Throwable takeKeptFailures() {
        return listeners.takeFailures(topologyUpdate.takeInvalidationFailure());
    }
}
