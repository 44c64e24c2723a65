package dev.guestmem.ioeventfd;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.RandomAccess;

/**
 * A region's eventfds in {@link Ioeventfd#before} order ({@code mr->ioeventfds}), immutable: a
 * change makes a new list, which the region publishes for the access path to read without a lock.
 *
 * <p>A write holding a list that a deletion has since replaced follows the lists that replaced it
 * ({@link #supersede}) before it signals ({@link #signalIfRegistered}), and the deletion waits for
 * the writes already signalling ({@link #awaitSignals}): the lists of one region share the counters
 * of that grace period from the first eventfd added to the last one deleted.
 *
 * <p><b>Thread safety.</b> Immutable entries; the successor link and the grace counters are the
 * only mutable state, both atomic.
 */
public final class IoeventfdList extends AbstractList<Ioeventfd> implements RandomAccess {
    /** No eventfds: the only empty list ({@link #without} returns it), so a test for none is one compare. */
    public static final IoeventfdList EMPTY = new IoeventfdList(new Ioeventfd[0], null);

    private final Ioeventfd[] fds;
    /** The writes signalling through this region's lists; null only on {@link #EMPTY}. */
    private final SignalGrace grace;
    /** The list that replaced this one as its region's list, or null (see {@link #supersede}). */
    private volatile IoeventfdList successor;

    private IoeventfdList(Ioeventfd[] fds, SignalGrace grace) {
        this.fds = fds;
        this.grace = grace;
    }

    /**
     * {@code memory_region_add_eventfd}'s insertion: before the first entry it sorts before.
     *
     * @param fd the eventfd
     * @return a list with {@code fd} added (duplicates are kept, as in QEMU)
     */
    public IoeventfdList with(Ioeventfd fd) {
        int i = 0;
        while (i < fds.length && !Ioeventfd.before(fd, fds[i])) {
            i++;
        }
        Ioeventfd[] out = new Ioeventfd[fds.length + 1];
        System.arraycopy(fds, 0, out, 0, i);
        out[i] = fd;
        System.arraycopy(fds, i, out, i + 1, fds.length - i);
        // The first eventfd starts a grace (see SignalGrace on why a new one is sound)
        return new IoeventfdList(out, grace != null ? grace : new SignalGrace());
    }

    /**
     * {@code memory_region_del_eventfd}'s search: the first entry {@link Ioeventfd#sameAs} {@code fd}.
     *
     * @param fd the eventfd to remove
     * @return its index, or -1
     */
    public int find(Ioeventfd fd) {
        for (int i = 0; i < fds.length; i++) {
            if (Ioeventfd.sameAs(fd, fds[i])) {
                return i;
            }
        }
        return -1;
    }

    /**
     * @param index an index from {@link #find}
     * @return a list without that entry
     */
    public IoeventfdList without(int index) {
        Ioeventfd[] out = new Ioeventfd[fds.length - 1];
        System.arraycopy(fds, 0, out, 0, index);
        System.arraycopy(fds, index + 1, out, index, fds.length - index - 1);
        return out.length == 0 ? EMPTY : new IoeventfdList(out, grace);
    }

    /**
     * {@code memory_region_dispatch_write_eventfds}: the first eventfd a write matches.
     *
     * @param addr the write's offset in the region
     * @param size its size
     * @param value its value, in the device's byte order
     * @return the matching eventfd, or null (the write goes to the device)
     * @implNote Allocation-free.
     */
    public Ioeventfd match(long addr, int size, long value) {
        for (Ioeventfd fd : fds) {
            if (fd.matchesWrite(addr, size, value)) {
                return fd;
            }
        }
        return null;
    }

    /**
     * Records that {@code next} replaced this list as its region's list. Internal: called by
     * {@link dev.guestmem.region.MemoryRegion} under its lock, after it published {@code next}, so
     * that a write still holding this list can learn whether an eventfd it matched was deleted since
     * ({@link #stillRegistered}). Nothing is recorded on {@link #EMPTY}, which every region shares
     * (a write holding it matches nothing).
     *
     * @param next the region's new list
     */
    public void supersede(IoeventfdList next) {
        if (this != EMPTY && next != this) {
            successor = next;
        }
    }

    /**
     * Whether {@code fd}, an entry of this list, is still in the newest list that replaced this one
     * (this list itself when none did). A write that matched {@code fd} asks this before signalling:
     * an eventfd deleted since the write read the list sends the write to the device instead.
     *
     * @param fd an entry of this list
     * @return whether the newest list holds it (by {@code equals})
     * @implNote One volatile load while this list is still its region's current one.
     */
    public boolean stillRegistered(Ioeventfd fd) {
        if (successor == null) {
            return true;
        }
        IoeventfdList l = this;
        for (IoeventfdList n = l.successor; n != null; n = n.successor) {
            l = n;
        }
        for (Ioeventfd f : l.fds) {
            if (f.equals(fd)) {
                return true;
            }
        }
        return false;
    }

    /**
     * A write's signal: signals {@code fd}'s notifier if {@code fd}, an entry of this list that the
     * write matched, is still registered ({@link #stillRegistered}), counted in the region's grace
     * period, so a deletion that returned has no such signal still to come ({@link #awaitSignals}).
     *
     * @param fd an entry of this list
     * @return whether the notifier was signalled (the write is consumed; a closed notifier still
     *     registered consumes it too), false if the eventfd was deleted (the write is the device's)
     * @implNote Allocation-free and lock-free: an atomic increment and decrement around the check and one
     *     non-blocking write(2). Runs no device or listener code (so {@link #awaitSignals} on a
     *     device's thread never waits for itself).
     */
    public boolean signalIfRegistered(Ioeventfd fd) {
        SignalGrace g = grace; // not null: fd is an entry, so this is not EMPTY
        int phase = g.enter();
        try {
            if (!stillRegistered(fd)) {
                return false;
            }
            Runnable hook = g.beforeSignal;
            if (hook != null) {
                hook.run();
            }
            fd.notifier().set();
            return true;
        } finally {
            g.exit(phase);
        }
    }

    /**
     * The grace period of a deletion: waits until every write that may have found an eventfd of
     * this list registered has finished signalling. Internal: called by
     * {@link dev.guestmem.region.MemoryRegion#delEventfd} under its lock, after
     * {@link #supersede}, on the list it replaced. A write that checks later sees the new list.
     *
     * <p>Waits for nothing on {@link #EMPTY}. Must not be called by a thread inside
     * {@link #signalIfRegistered} (only the test seam runs code there).
     *
     * @implNote Spins, then parks; a signal takes one non-blocking write(2).
     */
    public void awaitSignals() {
        if (grace != null) {
            grace.await();
        }
    }

    /** @return the grace period of this region's lists (test seam: {@link SignalGrace#beforeSignal}), or null on {@link #EMPTY} */
    SignalGrace grace() {
        return grace;
    }

    @Override
    public Ioeventfd get(int index) {
        return fds[index];
    }

    @Override
    public int size() {
        return fds.length;
    }

    @Override
    public boolean isEmpty() {
        return fds.length == 0;
    }

    @Override
    public String toString() {
        return Arrays.toString(fds);
    }
}
