package dev.guestmem.scenario9;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.HeldRamBlocks;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A precopy migration into memory, as QEMU's {@code ram.c} drives it over a KVM-like listener: each
 * round syncs (log_sync), snapshots and clears the MIGRATION bits, clears the kernel's log for what
 * was fetched (log_clear, {@code clearDirtyBitmap}) and only then copies the dirty pages, so a store
 * after the clear is in the next round. Blocks are matched by name.
 */
final class PrecopyToMemory {
    private final MemorySystem sys;
    private final Map<String, MemorySegment> destination = new HashMap<>();
    private final Arena arena = Arena.ofAuto();
    private long pagesSent;

    PrecopyToMemory(MemorySystem sys) {
        this.sys = sys;
    }

    void start() {
        destination.clear();
        sys.globalDirtyLogStart();
    }

    void round(boolean lastStage) {
        DirtyMemory dirty = sys.dirtyMemory();
        sys.globalDirtyLogSync(lastStage);
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            for (RamBlock b : held.blocks()) {
                MemoryRegion mr = sys.regionAtHost(b.hostAddress());
                if (mr == null) {
                    continue;
                }
                long used = b.usedLength();
                DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(b.offset(), used,
                        DirtyMemory.DIRTY_MEMORY_MIGRATION);
                sys.clearDirtyBitmap(mr, 0, used);
                MemorySegment dst = destination.get(b.idstr());
                if (dst == null || dst.byteSize() != used) { // first round of the block, or resized
                    dst = arena.allocate(used, 4096);
                    destination.put(b.idstr(), dst);
                    MemorySegment.copy(b.segment(), 0, dst, 0, used);
                    pagesSent += used >>> 12;
                    continue;
                }
                MemorySegment d = dst;
                snap.forEachDirtyPage(ramAddr -> {
                    long off = ramAddr - b.offset();
                    if (off < used) {
                        long n = Math.min(DirtyMemory.TARGET_PAGE_SIZE, used - off);
                        MemorySegment.copy(b.segment(), off, d, off, n);
                        pagesSent++;
                    }
                });
            }
        }
        sys.globalAfterDirtyLogSync();
    }

    /** Blocks whose destination copy differs from the source, after the last round. */
    List<String> mismatches() {
        List<String> out = new ArrayList<>();
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            for (RamBlock b : held.blocks()) {
                if (sys.regionAtHost(b.hostAddress()) == null) {
                    continue;
                }
                MemorySegment dst = destination.get(b.idstr());
                MemorySegment src = b.segment().asSlice(0, b.usedLength());
                long at = dst == null ? -2 : src.mismatch(dst);
                if (at != -1) {
                    out.add(b.idstr() + (dst == null ? " never sent" : String.format(" differs at 0x%x", at)));
                }
            }
        }
        return out;
    }

    void stop() {
        sys.globalDirtyLogStop();
    }

    long pagesSent() {
        return pagesSent;
    }
}
