package dev.guestmem.listener;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * A priority-ordered list of listeners, as QEMU's {@code memory_listeners} / {@code as->listeners}:
 * a new listener goes after every listener with priority {@code <=} its own, so equal priorities keep
 * registration order. {@link #forward} walks it in order, {@link #reverse} backwards; callbacks must
 * not register or unregister listeners meanwhile.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
public final class ListenerList {
    private final ArrayList<MemoryListener> list = new ArrayList<>();

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
     * Calls {@code action} on every listener in priority order.
     *
     * @param action the call
     */
    public void forward(Consumer<MemoryListener> action) {
        for (int i = 0; i < list.size(); i++) {
            action.accept(list.get(i));
        }
    }

    /**
     * Calls {@code action} on every listener in reverse priority order.
     *
     * @param action the call
     */
    public void reverse(Consumer<MemoryListener> action) {
        for (int i = list.size() - 1; i >= 0; i--) {
            action.accept(list.get(i));
        }
    }
}
