package dev.guestmem;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Owns everything QEMU keeps in globals for one machine: address spaces, the transaction depth and
 * pending updates, listeners, the RAM list and global dirty-log state. Two systems never interact.
 *
 * <p><b>Thread safety.</b> Topology changes happen under {@link #lock()} (QEMU's BQL role).
 */
public final class MemorySystem {
    private final ReentrantLock lock = new ReentrantLock();

    /** Creates an empty system. */
    public MemorySystem() {
    }

    /** @return the topology lock */
    public ReentrantLock lock() {
        return lock;
    }
}
