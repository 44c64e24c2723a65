package dev.guestmem.dirty;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;

/**
 * The fence that keeps a skipped dirty marking from losing a store (store buffering): a writer
 * stores guest data, then reads the page's dirty state and skips the marking when it reads "dirty";
 * without a StoreLoad fence between the two, it can read "dirty" from before a clear while its data
 * is still in its store buffer, and the clearer then reads the old data and never hears of the store.
 *
 * <p>Rather than a full fence in every logged store (P8's hot path), the clearer pays once:
 * {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)} after clearing makes every running thread of
 * the process execute a full barrier, so a writer that read the old state has its store visible
 * before the clear returns (the asymmetric fence of liburcu and of the JVM's own safepoints). Where
 * the kernel refuses membarrier (older than 4.14, or a seccomp filter), {@link #KERNEL} is false and
 * writers take a full fence themselves.
 *
 * <p><b>Thread safety.</b> Stateless after class initialisation (the registration is the process's).
 */
final class WriterFence {
    /** Whether the clearer's membarrier is available (registered once, when this class initialises). */
    static final boolean KERNEL = register();

    private WriterFence() {
    }

    private static boolean register() {
        try {
            LinuxCalls.membarrierRegisterPrivateExpedited();
            return true;
        } catch (NativeCallException e) {
            return false;
        }
    }

    /** Called by a clear after its last cleared bit, before the caller reads the pages. */
    static void afterClear() {
        if (KERNEL) {
            LinuxCalls.membarrierPrivateExpedited();
        }
    }
}
