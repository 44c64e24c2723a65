package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.ListenerList;
import java.util.List;

/**
 * One address space of a {@link MemorySystem} with what the system keeps for it: its own listener
 * list ({@code as->listeners}) and the eventfds those listeners were told.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
final class SpaceEntry {
    final AddressSpace as;
    final ListenerList listeners = new ListenerList();
    /**
     * QEMU's {@code as->ioeventfds}: what the listeners were told, or null while the address
     * space has no listener (then nobody needs it, and it is computed when one registers).
     */
    List<Ioeventfd> ioeventfds;
    /**
     * Whether the listeners of every address space have heard this space appear: false while a
     * space created from a listener callback waits for the notification under way to end (a
     * replay inside it would nest a {@code begin}..{@code commit}); until then it has no listener.
     */
    boolean announced;

    SpaceEntry(AddressSpace as) {
        this.as = as;
    }
}
