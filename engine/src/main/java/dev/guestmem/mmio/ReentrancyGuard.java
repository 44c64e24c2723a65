package dev.guestmem.mmio;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A device's MMIO re-entrancy guard, as QEMU's {@code MemReentrancyGuard.engaged_in_io}: while one
 * of the device's callbacks runs, an access that reaches any of the same device's guarded regions
 * from the same thread is refused with {@code MEMTX_ACCESS_ERROR} (CVE-2021-3750 class).
 *
 * <p>The "device" is a region's owner object; there is one guard per owner and memory system
 * ({@link ReentrancyGuards}), shared by every region, view and address space that shows it (looked
 * up once, at dispatch-build time).
 *
 * <p><b>Thread safety.</b> QEMU's flag is a plain bool because device I/O runs under the BQL. Here
 * accesses may come from many threads at once, so the guard records which thread engaged it, by
 * {@linkplain Thread#threadId() thread id} (opaque accesses of a {@code long}: atomic, no CAS, and
 * no GC write barrier as a reference would need): a re-entry is the same thread finding its own
 * mark. A second thread that finds the guard engaged by another thread proceeds without engaging it
 * (concurrent I/O to one device, which QEMU serialises with the BQL, is not re-entrancy); a thread
 * clears only its own mark. The price of one mark: while a thread is inside the device, a re-entry
 * by another thread goes undetected (a slow callback on one vCPU opens that window for the others).
 *
 * <p>Only {@link MmioDispatch} engages and releases a guard, always as a pair around the device's
 * callbacks ({@code try}/{@code finally}, on the calling thread). {@link #enter} and {@link #exit}
 * are package-private for that reason: they take a thread id on trust, so code outside could mark
 * the guard for another thread (refusing that thread's I/O), leave it engaged, or release another
 * thread's mark while its callback runs (letting a re-entry through). From outside the package a
 * guard can only be observed ({@link #isEngaged}).
 */
public final class ReentrancyGuard {
    /** No thread inside (thread ids are positive). */
    private static final long FREE = 0;
    private static final VarHandle ENGAGED;

    static {
        try {
            ENGAGED = MethodHandles.lookup().findVarHandle(ReentrancyGuard.class, "engaged", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // accessed through ENGAGED
    private long engaged;
    private volatile boolean warned;

    /** Creates a free guard; {@link ReentrancyGuards#of} keeps one per owner. */
    ReentrancyGuard() {
    }

    /**
     * Tries to enter the device.
     *
     * @param self {@code Thread.currentThread().threadId()}
     * @return 1 if this call engaged the guard (call {@link #exit} after), 0 if it entered without
     *     engaging (another thread is inside), -1 if this is a re-entry from the same thread (refuse)
     * @implNote Allocation-free and CAS-free (P4): an opaque read and, when free, an opaque write. Two
     *     threads that both find the guard free may both write it; then one of them is simply not
     *     recorded. That can only hide a re-entry of a thread whose I/O raced with another thread's
     *     (no false refusal: a thread only ever finds its own mark while it is inside), and
     *     {@link #exit} clears only its own mark, so the guard never stays engaged.
     */
    int enter(long self) {
        long t = (long) ENGAGED.getOpaque(this);
        if (t == self) {
            return -1;
        }
        if (t == FREE) {
            ENGAGED.setOpaque(this, self);
            return 1;
        }
        return 0;
    }

    /**
     * Releases the guard after {@link #enter} returned 1 on this thread (unless another thread's
     * mark replaced this one in the meantime).
     *
     * @param self {@code Thread.currentThread().threadId()}
     */
    void exit(long self) {
        if ((long) ENGAGED.getOpaque(this) == self) {
            ENGAGED.setOpaque(this, FREE);
        }
    }

    /** @return whether any thread is inside the device */
    public boolean isEngaged() {
        return (long) ENGAGED.getOpaque(this) != FREE;
    }

    /**
     * {@code warn_report_once}: true the first time only.
     *
     * @return whether the caller should log
     */
    boolean firstWarning() {
        if (warned) {
            return false;
        }
        warned = true;
        return true;
    }
}
