package dev.guestmem;

import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Owns everything QEMU keeps in globals for one machine: address spaces, the transaction depth and
 * pending updates, listeners, the RAM list and global dirty-log state. Two systems never interact.
 *
 * <p><b>Thread safety.</b> Topology changes happen under {@link #lock()} (QEMU's BQL role).
 */
public final class MemorySystem {
    private final ReentrantLock lock = new ReentrantLock();
    private final boolean tcgEnabled;
    private int transactionDepth;
    private boolean updatePending;
    private boolean globalDirtyTracking;

    /** Creates an empty system (no TCG: the CODE dirty client stays off). */
    public MemorySystem() {
        this(false);
    }

    /**
     * Creates an empty system.
     *
     * @param tcgEnabled whether a TCG-style translator runs (QEMU's {@code tcg_enabled()}: RAM regions
     *        then log the CODE client)
     */
    public MemorySystem(boolean tcgEnabled) {
        this.tcgEnabled = tcgEnabled;
    }

    /** @return the topology lock */
    public ReentrantLock lock() {
        return lock;
    }

    /** @return whether the CODE dirty client is on for RAM ({@code tcg_enabled()}) */
    public boolean isTcgEnabled() {
        return tcgEnabled;
    }

    /** @return whether global dirty tracking is on */
    public boolean isGlobalDirtyTracking() {
        return globalDirtyTracking;
    }

    /** QEMU's {@code memory_region_transaction_begin}. */
    public void transactionBegin() {
        lock.lock();
        transactionDepth++;
    }

    /** QEMU's {@code memory_region_transaction_commit}. */
    public void transactionCommit() {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("transactionCommit without the topology lock");
        }
        try {
            if (transactionDepth == 0) {
                throw new IllegalStateException("transactionCommit without transactionBegin");
            }
            transactionDepth--;
            if (transactionDepth == 0 && updatePending) {
                updatePending = false;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Internal: a change that needs new views happened (topology lock held). */
    public void markUpdatePending() {
        updatePending = true;
    }

    /**
     * Internal: the window {@code [start, end)} of {@code region} (region-local) changed.
     *
     * @param region the region
     * @param start first changed offset
     * @param end end of the change (exclusive)
     */
    public void invalidate(MemoryRegion region, Int128 start, Int128 end) {
    }

    /**
     * Internal: views rendered from {@code region} itself changed (it moved).
     *
     * @param region the region
     */
    public void invalidateRootOnly(MemoryRegion region) {
    }

    /**
     * Internal: {@code memory_region_find_rcu}.
     *
     * @param region the region addresses are relative to
     * @param addr offset in it
     * @param size length
     * @return the section, no reference taken
     */
    public MemoryRegionSection find(MemoryRegion region, long addr, long size) {
        return MemoryRegionSection.empty();
    }
}
