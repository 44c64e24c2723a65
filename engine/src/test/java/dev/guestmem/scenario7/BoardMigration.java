package dev.guestmem.scenario7;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.HeldRamBlocks;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The guide's live-migration recipe (section 5) from one {@link Board} to another: global dirty
 * logging, a first round that sends every page, precopy rounds of "sync, snapshot-and-clear the
 * MIGRATION bits of each held block, after-sync, wait for every guest thread's exit check (outside
 * the callbacks: the firmware thread changes the topology), copy", then a last round with the guest
 * stopped and the device state.
 */
final class BoardMigration {
    private static final long PAGE = DirtyMemory.TARGET_PAGE_SIZE;

    private final Board src;
    private final Board dst;
    private final Runnable quiescent;
    private final List<Long> roundPages = new ArrayList<>();
    private final List<List<Long>> roundDirty = new ArrayList<>();

    /**
     * @param quiescent returns once every running guest thread has passed an exit check (nothing
     *        when the guest is stopped)
     */
    BoardMigration(Board src, Board dst, Runnable quiescent) {
        this.src = src;
        this.dst = dst;
        this.quiescent = quiescent;
    }

    void start() {
        src.sys.globalDirtyLogStart();
    }

    /** One round; the first sends everything. Returns the pages sent. */
    long round(boolean lastStage) {
        MemorySystem sys = src.sys;
        boolean everything = roundPages.isEmpty();
        sys.globalDirtyLogSync(lastStage);
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            List<RamBlock> blocks = held.blocks();
            DirtyMemory dirty = sys.dirtyMemory();
            List<DirtyBitmapSnapshot> snaps = new ArrayList<>();
            for (RamBlock b : blocks) {
                snaps.add(dirty.snapshotAndClearDirty(b.offset(), b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION));
            }
            sys.globalAfterDirtyLogSync();
            quiescent.run(); // stores that passed the generation check before logging are in RAM now
            long sent = 0;
            List<Long> dirtyPages = new ArrayList<>();
            for (int i = 0; i < blocks.size(); i++) {
                RamBlock from = blocks.get(i);
                RamBlock to = dst.blockOf(from.idstr());
                long used = from.usedLength();
                if (everything) {
                    MemorySegment.copy(from.segment(), 0, to.segment(), 0, used);
                    sent += used / PAGE;
                    continue;
                }
                DirtyBitmapSnapshot snap = snaps.get(i);
                long base = from.offset();
                for (long p = snap.nextDirtyPage(base); p >= 0 && p < base + used; p = snap.nextDirtyPage(p + PAGE)) {
                    MemorySegment.copy(from.segment(), p - base, to.segment(), p - base, PAGE);
                    dirtyPages.add(p);
                    sent++;
                }
            }
            roundPages.add(sent);
            roundDirty.add(dirtyPages);
            return sent;
        }
    }

    /** The last round (guest stopped), logging off, device state loaded on the destination. */
    void finish() {
        try {
            round(true);
        } finally {
            src.sys.globalDirtyLogStop();
        }
        dst.load(src.save());
    }

    List<Long> roundPages() {
        return roundPages;
    }

    /** The ram_addrs of the pages a round sent because they were dirty (empty for the first round). */
    List<Long> dirtyPagesOf(int round) {
        return roundDirty.get(round);
    }
}
