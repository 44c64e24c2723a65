package dev.guestmem;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;

/**
 * A {@link MemorySystem}'s accelerator hook for coalesced MMIO, QEMU's
 * {@code qemu_flush_coalesced_mmio_buffer} (KVM's {@code kvm_flush_coalesced_mmio_buffer}): the
 * flusher the accelerator set, and the per-thread guard that keeps a flush from flushing again when
 * it writes the buffered entries back through an address space (which reaches a flush-coalesced
 * region, or opens a transaction), as KVM's {@code coalesced_flush_in_progress} does.
 *
 * <p><b>Thread safety.</b> Any thread. The flusher is read once per flush; flushes on different
 * threads may run at once (QEMU runs them under the BQL): serialising them is the flusher's business.
 */
final class CoalescedMmioFlush {
    private static final Logger LOG = System.getLogger("dev.guestmem.guest-error");

    private volatile Runnable flusher;
    /** Per thread: a flush of this system is under way on it. */
    private final ThreadLocal<boolean[]> inProgress = ThreadLocal.withInitial(() -> new boolean[1]);

    void set(Runnable f) {
        flusher = f;
    }

    Runnable get() {
        return flusher;
    }

    /**
     * Runs the flusher unless none is set or this thread is already inside it. A flusher that throws
     * is logged and the caller goes on (its access or transaction is not the one that failed).
     */
    void flush() {
        Runnable f = flusher;
        if (f == null) {
            return;
        }
        boolean[] busy = inProgress.get();
        if (busy[0]) {
            return;
        }
        busy[0] = true;
        try {
            f.run();
        } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "coalesced MMIO flusher threw", e);
        } finally {
            busy[0] = false;
        }
    }
}
