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

    SpaceEntry(AddressSpace as) {
        this.as = as;
    }
}
