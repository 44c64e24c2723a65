package dev.guestmem.listener;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A priority-ordered list of listeners, as QEMU's {@code memory_listeners} / {@code as->listeners}:
 * a new listener goes after every listener with priority {@code <=} its own, so equal priorities keep
 * registration order. {@link #forward} walks it in order, {@link #reverse} backwards; the list must
 * not change meanwhile ({@code MemorySystem} defers a registration asked for from a callback).
 *
 * <p>A listener that throws does not stop the walk: the change it is told of happens anyway (QEMU's
 * callbacks cannot fail), so every other listener must hear of it. The throw is kept
 * ({@link #takeFailure}) for the caller to rethrow once the change is whole.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
public final class ListenerList {
    private final ArrayList<MemoryListener> list = new ArrayList<>();
    /** The first throw of a listener not yet taken, later ones suppressed in it. */
    private Throwable failure;

    /** Creates an empty list. */
    public ListenerList() {
    }

    /**
     * Inserts a listener in priority order.
     *
     * @param l the listener
     */
    public void add(MemoryListener l) {
        int i = list.size();
        while (i > 0 && list.get(i - 1).priority() > l.priority()) {
            i--;
        }
        list.add(i, l);
    }

    /**
     * Removes a listener.
     *
     * @param l the listener
     * @return whether it was present
     */
    public boolean remove(MemoryListener l) {
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i) == l) {
                list.remove(i);
                return true;
            }
        }
        return false;
    }

    /**
     * @param l a listener
     * @return whether it is in the list
     */
    public boolean contains(MemoryListener l) {
        for (MemoryListener m : list) {
            if (m == l) {
                return true;
            }
        }
        return false;
    }

    /** @return whether the list is empty */
    public boolean isEmpty() {
        return list.isEmpty();
    }

    /** @return a snapshot in forward order */
    public List<MemoryListener> snapshot() {
        return List.copyOf(list);
    }

    /**
     * Calls {@code action} on every listener in priority order; a throw is kept, not propagated.
     *
     * @param action the call
     */
    public void forward(Consumer<MemoryListener> action) {
        for (int i = 0; i < list.size(); i++) {
            call(list.get(i), action);
        }
    }

    /**
     * Calls {@code action} on every listener in reverse priority order; a throw is kept, not
     * propagated.
     *
     * @param action the call
     */
    public void reverse(Consumer<MemoryListener> action) {
        for (int i = list.size() - 1; i >= 0; i--) {
            call(list.get(i), action);
        }
    }

    private void call(MemoryListener l, Consumer<MemoryListener> action) {
        try {
            action.accept(l);
        } catch (RuntimeException | Error t) {
            failure = merge(failure, t);
        }
    }

    /**
     * Takes the throws kept since the last call.
     *
     * @return the first throw (later ones suppressed in it), or null if no listener threw
     */
    public Throwable takeFailure() {
        Throwable t = failure;
        failure = null;
        return t;
    }

    /**
     * Joins two failures.
     *
     * @param first the failure so far, or null
     * @param next another one, or null
     * @return {@code first} with {@code next} suppressed in it, or whichever is not null
     */
    public static Throwable merge(Throwable first, Throwable next) {
        if (first == null) {
            return next;
        }
        if (next != null && next != first) {
            first.addSuppressed(next);
        }
        return first;
    }

    /**
     * Rethrows a failure taken with {@link #takeFailure}.
     *
     * @param failure a RuntimeException or an Error, or null (nothing happens)
     */
    public static void rethrow(Throwable failure) {
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error e) {
            throw e;
        }
    }
}
