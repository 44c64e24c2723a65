package dev.guestmem.scenario11;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.HeldRamBlocks;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The guide's precopy recipe into memory: the first round sends every page, later rounds sync,
 * snapshot and clear each held block's MIGRATION bits, and send the dirty pages. The destination
 * is one segment per block name.
 */
final class Precopy {
    private final MemorySystem sys;
    private final Map<String, MemorySegment> destination = new HashMap<>();
    private final Arena arena = Arena.ofAuto();
    private boolean first = true;
    long pagesSent;
    int rounds;

    Precopy(MemorySystem sys) {
        this.sys = sys;
    }

    void start() {
        sys.globalDirtyLogStart();
    }

    void round(boolean lastStage) {
        DirtyMemory dirty = sys.dirtyMemory();
        sys.globalDirtyLogSync(lastStage);
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            List<RamBlock> blocks = held.blocks();
            List<DirtyBitmapSnapshot> snaps = new ArrayList<>();
            for (RamBlock b : blocks) {
                snaps.add(dirty.snapshotAndClearDirty(b.offset(), b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION));
            }
            sys.globalAfterDirtyLogSync();
            for (int i = 0; i < blocks.size(); i++) {
                RamBlock b = blocks.get(i);
                long used = b.usedLength();
                MemorySegment dst = destination.computeIfAbsent(b.idstr(), k -> arena.allocate(used, 4096));
                if (first) {
                    MemorySegment.copy(b.segment(), 0, dst, 0, used);
                    pagesSent += used >>> 12;
                    continue;
                }
                long base = b.offset();
                snaps.get(i).forEachDirtyPage(ramAddr -> {
                    long off = ramAddr - base;
                    if (off < used) {
                        MemorySegment.copy(b.segment(), off, dst, off, Math.min(DirtyMemory.TARGET_PAGE_SIZE, used - off));
                        pagesSent++;
                    }
                });
            }
        }
        first = false;
        rounds++;
    }

    void stop() {
        sys.globalDirtyLogStop();
    }

    /** Where the destination differs from the source (empty when the migration is whole). */
    List<String> mismatches() {
        List<String> out = new ArrayList<>();
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            for (RamBlock b : held.blocks()) {
                MemorySegment dst = destination.get(b.idstr());
                long at = dst == null ? -2 : b.segment().asSlice(0, b.usedLength()).mismatch(dst);
                if (at != -1) {
                    out.add(b.idstr() + (dst == null ? " never sent" : String.format(" differs at 0x%x", at)));
                }
            }
        }
        return out;
    }

    MemorySegment destination(String block) {
        return destination.get(block);
    }
}
