package dev.guestmem;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.CoalescedIoNotify;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionSection;
import java.util.List;

/**
 * Calls to one listener that a throw does not stop (QEMU's listeners cannot fail, so the listener
 * must still hear the rest): the registration and removal replays of a view, and single calls.
 * Each returns what the listener threw, the first with later ones suppressed in it, or null.
 *
 * <p><b>Thread safety.</b> Stateless; callers hold the topology lock.
 */
final class ListenerCalls {
    private ListenerCalls() {
    }

    /**
     * QEMU's {@code listener_add_address_space}: {@code begin}, {@code logGlobalStart} if asked, per
     * range {@code regionAdd} and {@code logStart(0, mask)} if it logs, {@code commit}. A call that
     * throws does not stop the replay (QEMU's cannot fail: the listener must still hear the rest).
     *
     * @return what the listener threw (the first, others suppressed), or null
     */
    static Throwable replayAdd(MemoryListener listener, FlatView view, boolean globalStart,
                               List<Ioeventfd> ioeventfds) {
        Throwable failed = tell(null, listener::begin);
        if (globalStart) {
            failed = tell(failed, listener::logGlobalStart);
        }
        for (int i = 0; i < view.rangeCount(); i++) {
            FlatRange fr = view.range(i);
            MemoryRegionSection s = MemoryRegionSection.of(fr, view);
            failed = tell(failed, () -> listener.regionAdd(s));
            failed = tell(failed, () -> CoalescedIoNotify.replay(listener, fr, s, true));
            if (fr.dirtyLogMask() != 0) {
                failed = tell(failed, () -> listener.logStart(s, 0, fr.dirtyLogMask()));
            }
        }
        for (Ioeventfd fd : ioeventfds) {
            failed = tell(failed, () -> listener.eventfdAdd(fd));
        }
        return tell(failed, listener::commit);
    }

    /**
     * QEMU's {@code listener_del_address_space}: {@code begin}, per range {@code logStop(mask, 0)} if
     * it logs and {@code regionDel}, ascending, {@code commit}; a call that throws does not stop it.
     *
     * @return what the listener threw (the first, others suppressed), or null
     */
    static Throwable replayDel(MemoryListener listener, FlatView view, List<Ioeventfd> ioeventfds) {
        Throwable failed = tell(null, listener::begin);
        for (int i = 0; i < view.rangeCount(); i++) {
            FlatRange fr = view.range(i);
            MemoryRegionSection s = MemoryRegionSection.of(fr, view);
            if (fr.dirtyLogMask() != 0) {
                failed = tell(failed, () -> listener.logStop(s, fr.dirtyLogMask(), 0));
            }
            failed = tell(failed, () -> CoalescedIoNotify.replay(listener, fr, s, false));
            failed = tell(failed, () -> listener.regionDel(s));
        }
        for (Ioeventfd fd : ioeventfds) {
            failed = tell(failed, () -> listener.eventfdDel(fd));
        }
        return tell(failed, listener::commit);
    }

    /** One listener call of a replay or a walk: a throw is joined to {@code failed} instead of stopping it. */
    static Throwable tell(Throwable failed, Runnable call) {
        try {
            call.run();
            return failed;
        } catch (RuntimeException | Error t) {
            return ListenerList.merge(failed, t);
        }
    }
}
