package dev.guestmem.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshot defects found by an audit of snapshot semantics (each test failed before its fix), and
 * the checks that came with the fixes.
 */
class SnapshotRegressionTest {
    private static final long PAGE = 4096;
    private static final long MIB = 1L << 20;

    // ------------------------------------------------------------------------------------------
    // Was a defect: SnapshotWriter's javadoc promises that without a pause "the snapshot holds a mix of
    // old and new pages (each page's checksum still matches the bytes stored)". The writer computes
    // each page's CRC when it reaches the page but writes the page's bytes later, from guest memory
    // again, as part of a run of up to 1 MiB (writeRun). A page changed in between is stored with a
    // checksum of bytes it no longer holds: SnapshotRestorer.restore(verify=true) then throws
    // "fails its checksum" and a LazyRestore with verify poisons the memory (BROKEN). Expected: the
    // checksum is taken of exactly the bytes written (copy the page to a buffer, CRC it, write it).
    // ------------------------------------------------------------------------------------------
    @Test
    void everyStoredPageMatchesItsChecksumWhenTheGuestWritesDuringTheSave(@TempDir Path dir) throws Exception {
        try (Arena arena = Arena.ofShared()) {
            long size = 8 * MIB;
            MemorySegment ram = arena.allocate(size, PAGE);
            Random init = new Random(1);
            for (long o = 0; o < size; o += 8) {
                ram.set(ValueLayout.JAVA_LONG, o, init.nextLong() | 1);
            }
            AtomicBoolean stop = new AtomicBoolean();
            Thread vcpu = Thread.ofPlatform().start(() -> {
                Random r = new Random(2);
                while (!stop.get()) {
                    ram.set(ValueLayout.JAVA_LONG, (r.nextLong(size) & ~7L), r.nextLong() | 1); // never a zero page
                }
            });
            int bad = 0;
            String first = null;
            try {
                for (int round = 0; round < 5 && bad == 0; round++) {
                    Path p = dir.resolve("live" + round + ".gms");
                    SnapshotWriter.write(p, List.of(new SnapshotBlock("ram", ram, PAGE)), ProgressListener.NONE);
                    try (SnapshotFile f = SnapshotFile.open(p)) {
                        for (long pg = 0; pg < size / PAGE; pg++) {
                            if (!f.verify(0, pg)) {
                                bad++;
                                if (first == null) {
                                    first = "page " + pg + " of " + p.getFileName();
                                }
                            }
                        }
                    }
                }
            } finally {
                stop.set(true);
                vcpu.join();
            }
            assertEquals(0, bad, "pages whose stored checksum does not match their stored bytes (first: " + first
                    + "); the writer's javadoc promises each page's checksum matches the bytes stored");
        }
    }

    // ------------------------------------------------------------------------------------------
    // Was a defect (dirty-log interplay): an eager restore into a live block writes the memory behind the
    // dirty log. With the MIGRATION log on, a rollback (restore of an older snapshot) followed by the
    // next increment from the log gives a chain that no longer matches memory: pages the restore
    // changed are not in the log, so the increment leaves them absent and the chain keeps their
    // pre-rollback state. (The same holds for the CODE client: stale translations are never
    // invalidated.) Expected: restoring into a target named by its RamBlock marks the restored range
    // dirty for every client (invalidateAndSetDirty, as a DMA write would), or the javadoc says the
    // caller must.
    // ------------------------------------------------------------------------------------------
    @Test
    void anIncrementTakenAfterARollbackRestoresTheMemoryAfterTheRollback(@TempDir Path dir) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * PAGE);
        root.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamBlock blk = ram.ramBlock();
        DirtyMemory dm = sys.dirtyMemory();
        List<SnapshotBlock> blocks = List.of(SnapshotBlock.of(blk));
        as.stlLe(0x1000, 0x1111);
        sys.globalDirtyLogStart();
        dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Path s0 = dir.resolve("s0.gms");
        long id0 = SnapshotWriter.write(s0, blocks, ProgressListener.NONE);       // page 1 = 0x1111
        as.stlLe(0x1000, 0x2222);
        DirtyBitmapSnapshot l1 = dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Path i1 = dir.resolve("i1.gms");
        long id1 = SnapshotWriter.writeIncremental(i1, id0, blocks,
                Map.of("ram", DirtyPages.ofDirtyLog(l1, blk.offset(), PAGE, 16)), ProgressListener.NONE); // page 1 = 0x2222
        try (SnapshotFile f0 = SnapshotFile.open(s0)) {
            SnapshotRestorer.restore(SnapshotChain.of(f0), blocks, false, ProgressListener.NONE); // rollback: page 1 = 0x1111
        }
        assertEquals(0x1111, as.ldlLe(0x1000));
        DirtyBitmapSnapshot l2 = dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Path i2 = dir.resolve("i2.gms");
        SnapshotWriter.writeIncremental(i2, id1, blocks, Map.of("ram", DirtyPages.ofDirtyLog(l2, blk.offset(), PAGE, 16)),
                ProgressListener.NONE);
        sys.globalDirtyLogStop();
        try (Arena arena = Arena.ofConfined(); SnapshotFile f0 = SnapshotFile.open(s0); SnapshotFile f1 = SnapshotFile.open(i1);
             SnapshotFile f2 = SnapshotFile.open(i2)) {
            MemorySegment t = arena.allocate(16 * PAGE, PAGE);
            SnapshotRestorer.restore(new SnapshotChain(List.of(f0, f1, f2)), List.of(new SnapshotBlock("ram", t, PAGE)), true,
                    ProgressListener.NONE);
            assertEquals(0x1111, t.get(ValueLayout.JAVA_INT_UNALIGNED, 0x1000),
                    "s0+i1+i2 must give the memory at i2's time (after the rollback): the restore's writes were not logged");
        }
    }

    /**
     * Pages larger than the writer's 1 MiB staging buffer (2 MiB huge pages) go through it in pieces:
     * stored pages, zero pages between them and a zero page last (its bytes were written before it
     * was found zero: the file is cut back to the table) all restore exactly.
     */
    @Test
    void hugePagesLargerThanTheStagingBufferRoundTrip(@TempDir Path dir) {
        long ps = 2 * MIB;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(4 * ps, ps);
            Random r = new Random(3);
            for (long o = 0; o < ps; o += 8) {
                ram.set(ValueLayout.JAVA_LONG, o, r.nextLong());
                ram.set(ValueLayout.JAVA_LONG, 2 * ps + o, r.nextLong());
            }
            ram.set(ValueLayout.JAVA_BYTE, 2 * ps + ps - 1, (byte) 0x5A); // a byte in the last piece only
            Path p = dir.resolve("huge.gms");
            SnapshotWriter.write(p, List.of(new SnapshotBlock("huge", ram, ps)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(p)) {
                assertEquals(SnapshotFormat.ZERO, f.location(0, 1));
                assertEquals(SnapshotFormat.ZERO, f.location(0, 3));
                assertTrue(f.verify(0, 0) && f.verify(0, 2));
                MemorySegment back = arena.allocate(4 * ps, ps);
                back.fill((byte) 0x77);
                SnapshotRestorer.restore(SnapshotChain.of(f), List.of(new SnapshotBlock("huge", back, ps)), true,
                        ProgressListener.NONE);
                assertEquals(-1, MemorySegment.mismatch(ram, 0, 4 * ps, back, 0, 4 * ps));
            }
        }
    }

    @Test
    void markWrittenMarksEveryClientAndRefusesRangesOutsideTheBlock() {
        MemorySystem sys = new MemorySystem(true);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * PAGE);
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, ram);
        RamBlock blk = ram.ramBlock();
        DirtyMemory dm = sys.dirtyMemory();
        for (int client = 0; client < DirtyMemory.DIRTY_MEMORY_NUM; client++) {
            dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), client);
        }
        blk.markWritten(3 * PAGE, 2 * PAGE);
        for (int client = 0; client < DirtyMemory.DIRTY_MEMORY_NUM; client++) {
            DirtyBitmapSnapshot snap = dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), client);
            assertEquals(2, snap.dirtyPageCount(), "client " + client);
        }
        assertThrows(InvalidRamBlockException.class, () -> blk.markWritten(15 * PAGE, 2 * PAGE));
        assertThrows(InvalidRamBlockException.class, () -> blk.markWritten(-1, 1));
        assertThrows(InvalidRamBlockException.class, () -> blk.markWritten(0, Long.MAX_VALUE));
        RamBlock.anonymous("alone", PAGE).markWritten(0, PAGE); // in no list: nothing to tell, no error
    }
}
