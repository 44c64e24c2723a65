package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Listener registrations and removals, address space destructions, the replays of address
 * spaces created there (to the listeners of every address space), and global dirty-log starts and
 * stops, asked for from listener callbacks, in call order, waiting for the notification under way
 * to end (a list being walked must not change, and a replay or a {@code logGlobalStart} in the
 * middle of an update would reach some listeners inside it). Answers what the registrations and
 * the global dirty-log flags will be once they have run, so a call is checked against that when it
 * is made.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
final class DeferredCalls {
    /** What a deferred call does. */
    enum Kind {
        /** {@code registerListener(listener, as)}; {@code as} null: every address space. */
        REGISTER,
        /** {@code unregisterListener(listener)}. */
        UNREGISTER,
        /** {@code destroyAddressSpace(as)}. */
        DESTROY,
        /** The replay of {@code as}, created from a callback, to the listeners of every address space. */
        ANNOUNCE,
        /** {@code globalDirtyLogStart(flags)}. */
        GLOBAL_START,
        /** {@code globalDirtyLogStop(flags)}. */
        GLOBAL_STOP
    }

    /** One deferred call; {@code flags} only for the global dirty-log kinds (0 otherwise). */
    record Change(Kind kind, MemoryListener listener, AddressSpace as, int flags) {
        boolean register() {
            return kind == Kind.REGISTER;
        }
    }

    private final ArrayDeque<Change> queue = new ArrayDeque<>();

    void add(Kind kind, MemoryListener listener, AddressSpace as) {
        queue.add(new Change(kind, listener, as, 0));
    }

    /**
     * @param start a {@code globalDirtyLogStart} (else a stop)
     * @param flags its {@code GLOBAL_DIRTY_*} flags
     */
    void addGlobalDirtyLog(boolean start, int flags) {
        queue.add(new Change(start ? Kind.GLOBAL_START : Kind.GLOBAL_STOP, null, null, flags));
    }

    /**
     * @param now the global dirty-tracking flags now
     * @return the flags once the waiting starts and stops have run
     */
    int globalDirtyFlagsAfter(int now) {
        int flags = now;
        for (Change c : queue) {
            if (c.kind() == Kind.GLOBAL_START) {
                flags |= c.flags();
            } else if (c.kind() == Kind.GLOBAL_STOP) {
                flags &= ~c.flags();
            }
        }
        return flags;
    }

    /**
     * @param as an address space
     * @return whether a destruction of it is waiting
     */
    boolean willBeDestroyed(AddressSpace as) {
        for (Change c : queue) {
            if (c.kind() == Kind.DESTROY && c.as() == as) {
                return true;
            }
        }
        return false;
    }

    boolean isEmpty() {
        return queue.isEmpty();
    }

    int size() {
        return queue.size();
    }

    /** @return the oldest change, removed, or null */
    Change poll() {
        return queue.poll();
    }

    /**
     * @param listener a listener
     * @param registrations where listeners are registered now (an address space, or null for all)
     * @return whether it will be registered once the waiting changes have run
     */
    boolean willBeRegistered(MemoryListener listener, Map<MemoryListener, AddressSpace> registrations) {
        boolean registered = registrations.containsKey(listener);
        for (Change c : queue) {
            if (c.listener() == listener) {
                registered = c.register();
            }
        }
        return registered;
    }

    /**
     * @param listener a listener
     * @param as an address space
     * @param registrations where listeners are registered now
     * @return whether it will be registered for {@code as} alone once the waiting changes have run
     */
    boolean willBeRegisteredFor(MemoryListener listener, AddressSpace as,
                                Map<MemoryListener, AddressSpace> registrations) {
        boolean registered = registrations.containsKey(listener);
        AddressSpace target = registrations.get(listener);
        for (Change c : queue) {
            if (c.listener() == listener) {
                registered = c.register();
                target = c.as();
            }
        }
        return registered && target == as;
    }

    /**
     * @param as an address space
     * @param registrations where listeners are registered now
     * @return the listeners waiting to be registered for {@code as} alone (not yet registered)
     */
    List<MemoryListener> waitingFor(AddressSpace as, Map<MemoryListener, AddressSpace> registrations) {
        List<MemoryListener> out = new ArrayList<>();
        for (Change c : queue) {
            MemoryListener l = c.listener();
            if (!registrations.containsKey(l) && !out.contains(l) && willBeRegisteredFor(l, as, registrations)) {
                out.add(l);
            }
        }
        return out;
    }
}
