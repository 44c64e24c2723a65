package dev.guestmem.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Incremental snapshots fed by the MIGRATION dirty client: guest writes through an address space
 * are logged, snapshot-and-clear gives the pages, and the increment holds exactly those pages.
 */
class IncrementalFromDirtyLogTest {
    private static final long PAGE = 4096;
    private static final long PAGES = 300; // not a multiple of 64: the log's window is larger than the block

    @Test
    void incrementHoldsExactlyThePagesTheGuestWroteSinceTheBase(@TempDir Path dir) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion.allocate(sys, null, "before", 5 * PAGE); // so the block under test does not start at ram_addr 0
        RamRegion ram = RamRegion.allocate(sys, null, "ram", PAGES * PAGE);
        root.addSubregion(0x10_0000, ram);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamBlock block = ram.ramBlock();
        DirtyMemory dirty = sys.dirtyMemory();
        Random rnd = new Random(7);
        for (long a = 0; a < PAGES * PAGE; a += 8) {
            as.stqLe(0x10_0000 + a, rnd.nextLong());
        }

        sys.globalDirtyLogStart();
        // the bitmap starts all-dirty (new block): the base snapshot consumes that
        dirty.snapshotAndClearDirty(block.offset(), block.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Path base = dir.resolve("base.gms");
        long baseId = SnapshotWriter.write(base, List.of(new SnapshotBlock("ram", block.segment(), PAGE)),
                ProgressListener.NONE);

        long[] written = {0, 1, 63, 64, 200, 299};
        for (long p : written) {
            as.stlLe(0x10_0000 + p * PAGE + 12, (int) (0xabc0_0000L + p));
        }
        byte[] zeros = new byte[(int) PAGE];
        as.write(0x10_0000 + 150 * PAGE, MemTxAttrs.UNSPECIFIED, zeros, 0, zeros.length); // a page zeroed
        DirtyBitmapSnapshot log = dirty.snapshotAndClearDirty(block.offset(), block.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(written.length + 1, log.dirtyPageCount());

        Path inc = dir.resolve("inc.gms");
        SnapshotWriter.writeIncremental(inc, baseId, List.of(new SnapshotBlock("ram", block.segment(), PAGE)),
                Map.of("ram", DirtyPages.ofDirtyLog(log, block.offset(), PAGE, PAGES)), ProgressListener.NONE);

        try (SnapshotFile b = SnapshotFile.open(base); SnapshotFile i = SnapshotFile.open(inc);
             Arena arena = Arena.ofConfined()) {
            assertEquals(written.length, i.block("ram").storedPages(), "written pages stored, the zeroed one not");
            assertEquals(SnapshotFormat.ZERO, i.location(0, 150));
            assertEquals(SnapshotFormat.ABSENT, i.location(0, 2), "a page nobody wrote is not in the increment");
            MemorySegment target = arena.allocate(block.usedLength(), PAGE);
            SnapshotRestorer.restore(new SnapshotChain(List.of(b, i)), List.of(new SnapshotBlock("ram", target, PAGE)),
                    true, ProgressListener.NONE);
            assertEquals(-1, target.mismatch(block.segment().asSlice(0, block.usedLength())),
                    "base + increment = the guest's memory now");
        }
    }

    @Test
    void dirtyLogViewMapsRamAddrPagesToBlockPages() {
        DirtyMemory dirty = new DirtyMemory();
        long blockAt = 64 * PAGE * 3;
        dirty.newBlockDirty(0, blockAt + 64 * PAGE);
        dirty.snapshotAndClearDirty(0, blockAt + 64 * PAGE, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        dirty.setDirtyRange(blockAt - PAGE, PAGE, DirtyMemory.MASK_MIGRATION); // the block before: not ours
        dirty.setDirtyRange(blockAt + 5 * PAGE, 1, DirtyMemory.MASK_MIGRATION);
        dirty.setDirtyRange(blockAt + 9 * PAGE, 2 * PAGE, DirtyMemory.MASK_MIGRATION);
        DirtyBitmapSnapshot log = dirty.snapshotAndClearDirty(blockAt, 40 * PAGE, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        DirtyPages pages = DirtyPages.ofDirtyLog(log, blockAt, PAGE, 40);
        assertEquals(5, pages.nextDirty(0));
        assertEquals(9, pages.nextDirty(6));
        assertEquals(10, pages.nextDirty(10));
        assertEquals(-1, pages.nextDirty(11));
        DirtyPages big = DirtyPages.ofDirtyLog(log, blockAt, 4 * PAGE, 10); // 16 KiB pages
        assertEquals(1, big.nextDirty(0));
        assertEquals(2, big.nextDirty(2));
        assertEquals(-1, big.nextDirty(3));
    }
}
