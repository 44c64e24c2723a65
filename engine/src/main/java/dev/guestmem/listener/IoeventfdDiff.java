package dev.guestmem.listener;

import dev.guestmem.ioeventfd.Ioeventfd;
import java.util.List;

/**
 * QEMU's {@code address_space_add_del_ioeventfds}: tells an address space's listeners how its
 * eventfds changed, walking the old and new lists as two sorted sequences ({@link Ioeventfd#before}):
 * {@code eventfdDel} for entries only in the old (listeners in priority order), {@code eventfdAdd} for
 * entries only in the new (reverse priority order: QEMU's directions, the opposite of regions').
 *
 * <p><b>Thread safety.</b> Stateless; topology lock held.
 */
public final class IoeventfdDiff {
    private IoeventfdDiff() {
    }

    /**
     * @param listeners the address space's listeners
     * @param old the eventfds the listeners know
     * @param now the eventfds of the new view
     */
    public static void update(ListenerList listeners, List<Ioeventfd> old, List<Ioeventfd> now) {
        int iOld = 0;
        int iNew = 0;
        while (iOld < old.size() || iNew < now.size()) {
            if (iOld < old.size() && (iNew == now.size() || Ioeventfd.before(old.get(iOld), now.get(iNew)))) {
                Ioeventfd fd = old.get(iOld++);
                listeners.forward(l -> l.eventfdDel(fd));
            } else if (iNew < now.size() && (iOld == old.size() || Ioeventfd.before(now.get(iNew), old.get(iOld)))) {
                Ioeventfd fd = now.get(iNew++);
                listeners.reverse(l -> l.eventfdAdd(fd));
            } else {
                iOld++;
                iNew++;
            }
        }
    }
}
