package dev.guestmem.ram;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The blocks of a {@link RamList} at one moment, each held by a {@linkplain RamBlock#ref() reference}
 * until {@link #close()}: what a walk of the list that then touches the blocks (a migration round:
 * snapshot each block's dirty bits, copy its pages) holds, as QEMU's migration walks
 * {@code ram_list} inside an RCU read-side section so that a block unplugged meanwhile is freed only
 * after the walk.
 *
 * <p>While held, a block stays mapped and keeps its place (its ram_addr range) in the list even if
 * its region is unplugged and destroyed and its creator closes it; the last of those releases it
 * when the hold is closed. A block whose last reference was already gone when the hold was taken is
 * left out. Without a hold, a block found by {@link RamList#blocks()} may be released at any time:
 * its segment then throws {@link IllegalStateException}, and its old ram_addr range may already
 * belong to a new block, whose dirty bits a snapshot of the old range would clear.
 * {@snippet lang=java :
 * try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
 *     for (RamBlock b : held.blocks()) {
 *         DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(b.offset(), b.usedLength(),
 *                 DirtyMemory.DIRTY_MEMORY_MIGRATION);
 *         // ... copy the dirty pages of b.segment()
 *     }
 * } // a block unplugged during the round is released here
 * }
 *
 * <p><b>Thread safety.</b> Taken and used on one thread; {@link #close()} is idempotent and may
 * release blocks (munmap: tens of microseconds each), so hold for a round, not for the whole
 * migration.
 */
public final class HeldRamBlocks implements AutoCloseable {
    private final List<RamBlock> blocks;
    private final AtomicBoolean closed = new AtomicBoolean();

    private HeldRamBlocks(List<RamBlock> blocks) {
        this.blocks = blocks;
    }

    /** References every block that still has one; a block being released is skipped. */
    static HeldRamBlocks of(RamBlock[] current) {
        List<RamBlock> held = new ArrayList<>(current.length);
        for (RamBlock b : current) {
            if (b.tryRef()) {
                held.add(b);
            }
        }
        return new HeldRamBlocks(List.copyOf(held));
    }

    /** @return the held blocks, ordered by ram_addr offset */
    public List<RamBlock> blocks() {
        return blocks;
    }

    /**
     * Drops every reference the hold took (once; later calls do nothing). Each block is let go even
     * if releasing another one fails.
     *
     * @throws RamBackendException if a released block's munmap or close failed (the first failure,
     *     later ones suppressed in it; the block is released anyway)
     * @throws RuntimeException what a notifier of the list threw as a block left it
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        Throwable failed = null;
        for (RamBlock b : blocks) {
            try {
                b.unref();
            } catch (RuntimeException | Error e) { // a notifier of the list may throw too: the rest still go
                if (failed == null) {
                    failed = e;
                } else {
                    failed.addSuppressed(e);
                }
            }
        }
        if (failed instanceof RuntimeException e) {
            throw e;
        }
        if (failed != null) {
            throw (Error) failed;
        }
    }
}
