package dev.guestmem.scenario5;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.HeldRamBlocks;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Precopy live migration between two machines of the same layout, as QEMU's RAM migration does it
 * over RAM blocks: start global dirty logging, then rounds of "sync, snapshot-and-clear the MIGRATION
 * bits of every block, let the vCPUs pass a quiescent point, copy the dirty pages" until few pages
 * are dirty; then the caller stops the guest, a last round copies the rest, and logging stops.
 */
final class PrecopyMigration {
    private static final long PAGE = DirtyMemory.TARGET_PAGE_SIZE;

    private final MigratableMachine src;
    private final MigratableMachine dst;
    private final List<Long> roundPages = new ArrayList<>();
    private RoundObserver observer = new RoundObserver() { };

    PrecopyMigration(MigratableMachine src, MigratableMachine dst) {
        this.src = src;
        this.dst = dst;
    }

    /**
     * Runs the migration.
     *
     * @param maxRounds precopy rounds at most, before stopping the guest anyway
     * @param smallEnough a dirty page count at which precopy ends
     * @param stopGuest stops the vCPUs and devices
     * @param betweenRounds runs after each precopy round (a hotplug, a resize, a display refresh)
     */
    void run(int maxRounds, long smallEnough, ThrowingRunnable stopGuest, Runnable betweenRounds) throws Exception {
        MemorySystem sys = src.sys();
        sys.globalDirtyLogStart();
        try {
            round(false, true); // the first pass sends every page, as QEMU's bitmap starts all ones
            for (int r = 1; r < maxRounds; r++) {
                betweenRounds.run();
                if (round(false, false) <= smallEnough) {
                    break;
                }
            }
            stopGuest.run();
            round(true, false);
        } finally {
            sys.globalDirtyLogStop();
        }
    }

    /** Lets a test look at the migration between the steps of each round. */
    PrecopyMigration observe(RoundObserver o) {
        this.observer = o;
        return this;
    }

    /** Pages sent by each round, the last (stop-and-copy) included. */
    List<Long> roundPages() {
        return roundPages;
    }

    /** One round; returns the number of pages it sent. */
    private long round(boolean lastStage, boolean everything) {
        MemorySystem sys = src.sys();
        sys.globalDirtyLogSync(lastStage);
        // Held for the whole round (QEMU's RCU read section over ram_list): a block unplugged
        // meanwhile stays mapped, and its ram_addr range its own, until the round lets go.
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            return round(held.blocks(), everything);
        }
    }

    private long round(List<RamBlock> blocks, boolean everything) {
        MemorySystem sys = src.sys();
        DirtyMemory dirty = sys.dirtyMemory();
        List<DirtyBitmapSnapshot> snaps = new ArrayList<>();
        for (RamBlock b : blocks) {
            snaps.add(dirty.snapshotAndClearDirty(b.offset(), b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION));
        }
        sys.globalAfterDirtyLogSync(); // stores that skipped marking before the clear are in RAM now
        observer.afterClear(roundPages.size());
        long sent = 0;
        for (int i = 0; i < blocks.size(); i++) {
            RamBlock from = blocks.get(i);
            RamBlock to = matchSize(from);
            long used = from.usedLength();
            if (everything) {
                copy(from, to, 0, used);
                sent += used / PAGE;
                continue;
            }
            DirtyBitmapSnapshot snap = snaps.get(i);
            long base = from.offset();
            for (long p = snap.nextDirtyPage(base); p >= 0 && p < base + used; p = snap.nextDirtyPage(p + PAGE)) {
                copy(from, to, p - base, PAGE);
                sent++;
            }
        }
        observer.afterCopy(roundPages.size());
        roundPages.add(sent);
        return sent;
    }

    /** The destination block of the same name, resized first if the source's used length changed. */
    private RamBlock matchSize(RamBlock from) {
        RamRegion region = dst.region(from.idstr());
        RamBlock to = region.ramBlock();
        if (to.usedLength() != from.usedLength()) {
            region.ramResize(from.usedLength()); // ram_load's qemu_ram_resize on a length mismatch
        }
        return to;
    }

    private static void copy(RamBlock from, RamBlock to, long off, long len) {
        long n = Math.min(len, from.usedLength() - off);
        if (n > 0) {
            MemorySegment.copy(from.segment(), off, to.segment(), off, n);
        }
    }

    /** Called on the migration thread during each round (numbered from 0, the full pass). */
    interface RoundObserver {
        /** The MIGRATION bits were cleared and the vCPUs passed a quiescent point; nothing copied yet. */
        default void afterClear(int round) {
        }

        /** The round's pages are on the destination. */
        default void afterCopy(int round) {
        }
    }

    /** A step that may throw (stopping threads joins them). */
    interface ThrowingRunnable {
        void run() throws Exception;
    }
}
