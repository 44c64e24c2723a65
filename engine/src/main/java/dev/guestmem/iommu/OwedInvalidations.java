package dev.guestmem.iommu;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.ListenerList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The second invalidation an IOMMU {@link IommuNotifier#UNMAP} owes the soft TLBs when the model
 * sent it before changing its table, as QEMU's {@code tz_mpc_reg_write} does: one per memory system.
 *
 * <p>An UNMAP moves the generation of every address space that cached through the IOMMU at once
 * ({@link IommuNotifiers#watchForTlb}). A vCPU that refills between the event and the model's table
 * write gets the old answer under the new generation. When the table change is made inside the
 * guest's MMIO write that notified (the register write that reprograms the model), that write's
 * return is a point where the table is known to be new: the engine moves the same generations once
 * more there, so an entry filled in between is stale.
 *
 * <p>How: each UNMAP that invalidated spaces records them here, owed by the notifying thread
 * ({@link #owe}); every MMIO write of the engine's access paths ends with {@link #afterMmioWrite},
 * which, if the calling thread owes something, moves those generations and clears its debt. The
 * write path's cost while nothing is owed is one plain field read. A notification from outside any
 * MMIO write (a device timer) is settled at that thread's next MMIO write in this system, if any: an
 * extra move is harmless (its TLBs only miss). Another thread's write never settles it, so another
 * vCPU's MMIO write returning in the window takes nothing away. Entries of threads that have ended
 * are dropped. The debt is recorded in the IOMMU region's system, so the register write must reach
 * the model through that system's address spaces, caches or regions. What this does not cover: a model that changes its table outside the MMIO write
 * that notified, or after a further MMIO write of its own inside it (that one's return settles the
 * debt first); such a model must change the table before it notifies.
 *
 * <p><b>Thread safety.</b> {@link #owe} and the settling take this object's lock; the check in
 * {@link #afterMmioWrite} reads the published array without it (a thread always sees what it recorded
 * itself; what it sees of other threads' records only decides whether it scans).
 */
public final class OwedInvalidations {
    /** The spaces one thread's UNMAPs invalidated since its last MMIO write returned. */
    private record Debt(Thread thread, AddressSpace[] spaces) {
    }

    /** Null while nothing is owed; else replaced whole (copy on write) under the lock, never mutated. */
    private Debt[] owed;

    /** Creates the record of one memory system (the system does this). */
    public OwedInvalidations() {
    }

    /**
     * Records that the calling thread's UNMAP just invalidated {@code spaces}.
     *
     * @param spaces the spaces whose generation moved
     */
    void owe(AddressSpace[] spaces) {
        if (spaces.length == 0) {
            return;
        }
        Thread me = Thread.currentThread();
        synchronized (this) {
            AddressSpace[] before = owedBy(me);
            List<Debt> next = othersAlive(me);
            next.add(new Debt(me, before == null ? spaces : union(before, spaces)));
            owed = next.toArray(new Debt[0]);
        }
    }

    /** @return what {@code thread} owes, or null; under the lock */
    private AddressSpace[] owedBy(Thread thread) {
        for (Debt d : owed == null ? new Debt[0] : owed) {
            if (d.thread == thread) {
                return d.spaces;
            }
        }
        return null;
    }

    /** @return the debts of the other threads still alive (an ended thread's are dropped); under the lock */
    private List<Debt> othersAlive(Thread me) {
        List<Debt> others = new ArrayList<>();
        for (Debt d : owed == null ? new Debt[0] : owed) {
            if (d.thread != me && d.thread.isAlive()) {
                others.add(d);
            }
        }
        return others;
    }

    /**
     * Where an MMIO write of the engine returns: if the calling thread owes invalidations, moves
     * those spaces' generations now (the model's table write, made in that MMIO write, is done).
     *
     * @throws RuntimeException what a space's invalidation listener threw, after every space moved
     * @implNote One plain field read while nothing is owed; allocation-free and lock-free then.
     */
    public void afterMmioWrite() {
        Debt[] seen = owed;
        if (seen != null) {
            settle(seen);
        }
    }

    private void settle(Debt[] seen) {
        Thread me = Thread.currentThread();
        boolean touch = false;
        for (Debt d : seen) { // racy read of another thread's array: an element may read null
            if (d != null && (d.thread == me || !d.thread.isAlive())) {
                touch = true;
                break;
            }
        }
        if (!touch) {
            return; // other threads' debts: theirs to settle
        }
        AddressSpace[] mine;
        synchronized (this) {
            mine = owedBy(me);
            List<Debt> next = othersAlive(me);
            owed = next.isEmpty() ? null : next.toArray(new Debt[0]);
        }
        if (mine == null) {
            return;
        }
        Throwable failed = null;
        for (AddressSpace s : mine) {
            try {
                s.invalidateTranslations();
            } catch (RuntimeException | Error t) { // every space moves, then the first throw
                failed = ListenerList.merge(failed, t);
            }
        }
        ListenerList.rethrow(failed);
    }

    private static AddressSpace[] union(AddressSpace[] a, AddressSpace[] b) {
        List<AddressSpace> all = new ArrayList<>(Arrays.asList(a));
        for (AddressSpace s : b) {
            if (!all.contains(s)) { // identity: an address space has no equals of its own
                all.add(s);
            }
        }
        return all.toArray(new AddressSpace[0]);
    }

    @Override
    public synchronized String toString() {
        return "OwedInvalidations[" + (owed == null ? 0 : owed.length) + " threads owe]";
    }
}
