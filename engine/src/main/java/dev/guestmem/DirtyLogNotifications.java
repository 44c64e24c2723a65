package dev.guestmem;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The dirty-log half of a {@link MemorySystem}'s listener notifications: global dirty-tracking
 * state and its start and stop, and the calls that reach listeners per logging range
 * ({@code logSync}, {@code logClear}) or once each ({@code logSyncGlobal},
 * {@code logGlobalAfterSync}). Each runs as one notification of its system (see
 * {@link MemorySystem}, <a href="MemorySystem.html#nested">topology changes from listener
 * callbacks</a>): what callbacks ask for waits until it is over. The public methods of
 * {@link MemorySystem} with the same names delegate here and document the behaviour.
 *
 * <p><b>Thread safety.</b> Each operation takes the system's topology lock.
 */
final class DirtyLogNotifications {
    private final MemorySystem system;
    private final ReentrantLock lock;
    /** Every registered listener, in priority order: the system's list. */
    private final ListenerList globalListeners;
    /**
     * The system's address spaces, creation order (the live list, not a copy). A callback may create
     * one during a notification, which appends it; destruction waits until the notification is over.
     * So a walk that stops at the size it began with visits the spaces there were when it began,
     * with no copy.
     */
    private final AddressSpaceList spaces;
    /** QEMU's {@code global_dirty_tracking}: {@code GLOBAL_DIRTY_*} flags. */
    private int globalDirtyTracking;

    DirtyLogNotifications(MemorySystem system, ListenerList globalListeners, AddressSpaceList spaces) {
        this.system = system;
        this.lock = system.lock();
        this.globalListeners = globalListeners;
        this.spaces = spaces;
    }

    /** @return the global dirty-tracking flags */
    int globalDirtyTrackingFlags() {
        return globalDirtyTracking;
    }

    /** See {@link MemorySystem#globalDirtyLogStart(int)}. */
    void globalDirtyLogStart(int flags) {
        checkDirtyFlags(flags);
        lock.lock();
        try {
            system.checkOpen("globalDirtyLogStart");
            if (!system.deferGlobalDirtyLog(true, flags)) {
                system.rethrowListenerFailures(start(flags));
            }
        } finally {
            lock.unlock();
        }
    }

    /** See {@link MemorySystem#globalDirtyLogStop(int)}. */
    void globalDirtyLogStop(int flags) {
        checkDirtyFlags(flags);
        lock.lock();
        try {
            system.checkOpen("globalDirtyLogStop");
            int willBe = system.globalDirtyFlagsOnceDeferredRun(globalDirtyTracking); // a callback's waits
            if ((willBe & flags) != flags) {
                throw new IllegalStateException("global dirty flags 0x" + Integer.toHexString(flags)
                        + " not all set (" + (willBe == globalDirtyTracking ? "current 0x"
                                : "0x" + Integer.toHexString(globalDirtyTracking) + " now, once the calls waiting"
                                        + " from listener callbacks have run 0x")
                        + Integer.toHexString(willBe) + ")");
            }
            if (!system.deferGlobalDirtyLog(false, flags)) {
                system.rethrowListenerFailures(stop(flags));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The body of a start ({@code memory_global_dirty_log_start}): on the first flag,
     * {@code logGlobalStart} on every listener, then every view re-rendered (ranges gain MIGRATION).
     * Outside any notification, or as a call deferred from a callback. Lock held.
     *
     * @return what listeners threw, or null
     */
    Throwable start(int flags) {
        int old = globalDirtyTracking;
        globalDirtyTracking |= flags;
        if (old != 0 || globalDirtyTracking == 0) {
            return null;
        }
        Throwable failed = tellGlobal(MemoryListener::logGlobalStart, true);
        return ListenerList.merge(failed, system.rerenderForGlobalDirtyLog());
    }

    /**
     * The body of a stop ({@code memory_global_dirty_log_stop}): when the last flag goes, every view
     * re-rendered (ranges lose MIGRATION), then {@code logGlobalStop} on every listener, even if the
     * re-render's listeners threw (the flags are off: listeners must hear it). Outside any
     * notification, or as a call deferred from a callback. Lock held; the flags are set.
     *
     * @return what listeners threw, or null
     */
    Throwable stop(int flags) {
        globalDirtyTracking &= ~flags;
        if (globalDirtyTracking != 0) {
            return null;
        }
        Throwable failed = system.rerenderForGlobalDirtyLog();
        return ListenerList.merge(failed, tellGlobal(MemoryListener::logGlobalStop, false));
    }

    private static void checkDirtyFlags(int flags) {
        if (flags == 0 || (flags & ~7) != 0) {
            throw new IllegalArgumentException("global dirty flags must be a non-empty subset of 7, not " + flags);
        }
    }

    /** See {@link MemorySystem#clearDirtyBitmap}. */
    void clearDirtyBitmap(MemoryRegion region, long start, long len) {
        if (len == 0) {
            return;
        }
        forEachLoggingRange(region, (l, s) -> {
            // Cut to [start, start + len) in region offsets (unsigned; a section of 2^64 has size 0).
            long secStart = s.offsetWithinRegion();
            long secLast = secStart + s.size() - 1;
            long from = Long.compareUnsigned(start, secStart) > 0 ? start : secStart;
            long last = start + len - 1;
            long to = Long.compareUnsigned(last, secLast) < 0 ? last : secLast;
            if (Long.compareUnsigned(from, to) <= 0) {
                l.logClear(new MemoryRegionSection(region, s.flatView(), from, to - from + 1,
                        s.offsetWithinAddressSpace() + (from - secStart), s.readonly(), s.nonvolatile(),
                        s.unmergeable()));
            }
        });
    }

    /** See {@link MemorySystem#syncDirtyBitmap(MemoryRegion, boolean)}. */
    void syncDirtyBitmap(MemoryRegion region, boolean lastStage) {
        forEachLoggingRange(region, MemoryListener::syncsGlobally, l -> l.logSyncGlobal(lastStage),
                (l, s) -> l.logSync(s, lastStage));
    }

    /**
     * Runs {@code body} as one notification: see
     * {@link dev.guestmem.internal.SystemInternals#runAsOneNotification}.
     */
    <T> T asOneNotification(Supplier<T> body) {
        lock.lock();
        try {
            T result = null;
            Throwable failed = null;
            system.enterNotification();
            try {
                result = body.get();
            } catch (RuntimeException | Error t) {
                failed = t;
            } finally {
                system.exitNotification();
            }
            failed = ListenerList.merge(failed, system.runDeferred());
            system.rethrowListenerFailures(failed);
            return result;
        } finally {
            lock.unlock();
        }
    }

    /** See {@link MemorySystem#globalAfterDirtyLogSync()}. */
    void globalAfterDirtyLogSync() {
        lock.lock();
        try {
            system.rethrowListenerFailures(tellGlobal(MemoryListener::logGlobalAfterSync, true));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Tells every global listener, in priority order or reversed, as one notification; then runs
     * the updates they asked for meanwhile.
     *
     * @return what the system's deferred run reports, or null
     */
    private Throwable tellGlobal(Consumer<MemoryListener> action, boolean forward) {
        system.enterNotification();
        try {
            if (forward) {
                globalListeners.forward(action);
            } else {
                globalListeners.reverse(action);
            }
        } finally {
            system.exitNotification();
        }
        return system.runDeferred();
    }

    /** Calls {@code action} for every logging range of {@code e}'s current view ({@code region}'s only, unless null). */
    private static void forEachLoggingRange(SpaceEntry e, MemoryRegion region, Consumer<MemoryRegionSection> action) {
        FlatView view = e.as.currentMap();
        for (int i = 0; i < view.rangeCount(); i++) {
            FlatRange fr = view.range(i);
            if (fr.dirtyLogMask() != 0 && (region == null || fr.region() == region)) {
                action.accept(MemoryRegionSection.of(fr, view));
            }
        }
    }

    /**
     * Calls {@code action} for each listener and each logging range of its address spaces' current
     * views ({@code region}'s only, unless null), listeners in priority order, as one notification.
     */
    private void forEachLoggingRange(MemoryRegion region, BiConsumer<MemoryListener, MemoryRegionSection> action) {
        forEachLoggingRange(region, l -> false, null, action);
    }

    /**
     * {@link #forEachLoggingRange(MemoryRegion, BiConsumer)}, except that a listener for which
     * {@code whole} holds is told once by {@code wholeAction} (a {@code log_sync_global}) instead of
     * range by range. A throw stops no other call: the first is rethrown at the end.
     */
    private void forEachLoggingRange(MemoryRegion region, Predicate<MemoryListener> whole, Consumer<MemoryListener> wholeAction,
                                     BiConsumer<MemoryListener, MemoryRegionSection> action) {
        asOneNotification(() -> {
            Throwable[] failed = {null}; // a throw stops no other call (see ListenerList)
            for (MemoryListener l : globalListeners.snapshot()) {
                if (whole.test(l)) {
                    failed[0] = ListenerCalls.tell(failed[0], () -> wholeAction.accept(l));
                    continue;
                }
                for (int i = 0, n = spaces.size(); i < n; i++) { // the spaces there are now: see spaces
                    SpaceEntry e = spaces.get(i);
                    if (e.listeners.contains(l)) {
                        forEachLoggingRange(e, region,
                                s -> failed[0] = ListenerCalls.tell(failed[0], () -> action.accept(l, s)));
                    }
                }
            }
            ListenerList.rethrow(failed[0]);
            return null;
        });
    }
}
