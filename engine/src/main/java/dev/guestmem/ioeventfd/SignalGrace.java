package dev.guestmem.ioeventfd;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The writes signalling through one region's eventfd lists, and the grace period that waits them
 * out (what SRCU does for KVM's {@code KVM_IOEVENTFD} deassign). Shared by the lists of one region
 * from the list that made it non-empty to the one that made it empty again ({@link IoeventfdList}).
 *
 * <p><b>Protocol.</b> Two in-flight counters, indexed by a phase bit. A write that matched an
 * eventfd reads the phase, increments that counter, reads the newest list (the successor chain),
 * signals if the eventfd is still there, and decrements the same counter. A deletion publishes the
 * new list, then twice flips the phase and waits until the counter of the phase it left is 0.
 *
 * <p><b>Why it is enough.</b> Every access here and the successor links are volatile, so they are
 * totally ordered (the JMM's synchronization order). The deletion reads each counter as 0 at some
 * point after its publication. Take a write still signalling after the deletion returned: it
 * decremented after that zero read of its counter, so it incremented after it too (a count cannot
 * read 0 between a write's increment and its decrement), hence after the publication, so its read
 * of the newest list saw the deletion and it did not signal. One flip would not do: a write can read
 * the phase before an earlier deletion's flip and increment that counter later, when the phase is
 * back to the same value and the deletion watches only the other counter. The flips are for
 * progress: new writes go to the other counter, so the one waited on only drains. A write reading
 * a list of an earlier non-empty spell (another grace) cannot signal: that spell's chain ends at
 * the shared empty list, and its own deletion waited out the writes that read the chain before.
 *
 * <p><b>Thread safety.</b> {@link #enter}/{@link #exit} from any thread, lock-free and wait-free;
 * {@link #await} under the region's lock (flips must not interleave), never from inside an
 * enter/exit pair on the same thread (it would wait for itself: the signalling writes run no device
 * or listener code, so only a test seam could).
 */
final class SignalGrace {
    /** Busy-wait rounds before parking: a signal is one non-blocking write(2), microseconds. */
    private static final int SPINS = 256;
    private static final long PARK_NANOS = 20_000;

    private final AtomicIntegerArray inFlight = new AtomicIntegerArray(2);
    private volatile int phase;
    /**
     * Test seam: run by a write between its registration check and its signal, so a test can park
     * it there. Null outside tests; set before the threads that write start, as a plain field. Per
     * region (no global state): two machines' tests cannot see each other's.
     */
    Runnable beforeSignal;

    /**
     * A write begins: counts itself in the current phase.
     *
     * @return the phase to give back to {@link #exit}
     */
    int enter() {
        int p = phase;
        inFlight.getAndIncrement(p);
        return p;
    }

    /**
     * The write is done signalling (or decided not to).
     *
     * @param p what {@link #enter} returned
     */
    void exit(int p) {
        inFlight.getAndDecrement(p);
    }

    /**
     * The grace period: returns once every write that entered before the call has exited. Not
     * interruptible (the deletion must complete), and keeps the caller's interrupt status.
     */
    void await() {
        boolean interrupted = false;
        try {
            for (int flip = 0; flip < 2; flip++) {
                int old = phase;
                phase = old ^ 1;
                for (int spins = 0; inFlight.get(old) != 0; spins++) {
                    if (spins < SPINS) {
                        Thread.onSpinWait();
                    } else {
                        // parkNanos returns at once while the interrupt is set: put it aside, or
                        // this loop spins on a core until the writer is scheduled again.
                        interrupted |= Thread.interrupted();
                        LockSupport.parkNanos(PARK_NANOS); // a writer descheduled mid-signal
                    }
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
