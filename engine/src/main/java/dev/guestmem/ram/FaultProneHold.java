package dev.guestmem.ram;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A reason for a {@link RamBlock} to be treated as able to SIGBUS although its backend cannot
 * (anonymous memory or a sealed memfd whose missing pages a lazy restore's page server fills, and
 * poisons if it dies). Taken with {@link RamBlock#holdFaultProne(String)}; while any hold on a block
 * is open, every address space's sections on it send accesses through the engine's fenced path, so
 * a fault becomes {@code MEMTX_ERROR} at the access instead of an {@code InternalError} thrown later
 * out of a compiled loop.
 *
 * <p><b>Thread safety.</b> {@link #close()} is idempotent and may be called from any thread; only
 * the first call releases the hold.
 */
public final class FaultProneHold implements AutoCloseable {
    private final RamBlock block;
    private final String reason;
    private final AtomicBoolean closed = new AtomicBoolean();

    FaultProneHold(RamBlock block, String reason) {
        this.block = block;
        this.reason = reason;
    }

    /** @return the block held fault-prone */
    public RamBlock block() {
        return block;
    }

    /** @return why, as given to {@link RamBlock#holdFaultProne(String)} */
    public String reason() {
        return reason;
    }

    /** @return whether {@link #close()} has released the hold */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Releases the hold. When it was the block's last, the block's sections are rebuilt for direct
     * access (the owning system re-renders its views), unless the block's backend can fault anyway.
     * Call only when no page of the block can fault any more (a lazy restore that completed).
     */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            block.releaseFaultProne();
        }
    }

    @Override
    public String toString() {
        return "FaultProneHold[" + block.idstr() + ": " + reason + (isClosed() ? ", closed]" : "]");
    }
}
