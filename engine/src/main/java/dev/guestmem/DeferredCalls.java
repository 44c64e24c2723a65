package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Listener registrations and removals, address space destructions, and the replays of address
 * spaces created, asked for from listener
 * callbacks, in call order, waiting for the notification under way to end (a list being walked
 * must not change, and a replay in the middle of an update would show a view some listeners have
 * not heard yet). Answers what the registrations will be once they have run, so a call is checked
 * against that when it is made.
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
        /**
         * The replay of {@code as}, created from a callback, to the listeners of every address space
         * (the space exists at once; they hear it once the update they are in is over).
         */
        SPACE_CREATED
    }

    /** One deferred call. */
    record Change(Kind kind, MemoryListener listener, AddressSpace as) {
        boolean register() {
            return kind == Kind.REGISTER;
        }
    }

    private final ArrayDeque<Change> queue = new ArrayDeque<>();

    void add(Kind kind, MemoryListener listener, AddressSpace as) {
        queue.add(new Change(kind, listener, as));
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
