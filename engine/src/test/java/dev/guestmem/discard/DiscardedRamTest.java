package dev.guestmem.discard;

import static dev.guestmem.discard.DiscardMachine.BLK;
import static dev.guestmem.discard.DiscardMachine.SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.snapshot.DirtyPages;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotFormat;
import dev.guestmem.snapshot.SnapshotWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What migration does with a RAM discard manager ({@code migration/ram.c}), on guestmem's
 * counterparts: the MIGRATION dirty-log client when global logging starts, and the snapshot writer.
 */
class DiscardedRamTest {
    private static final int MIGRATION = MemoryRegion.DIRTY_MEMORY_MIGRATION;
    private static final long PAGES_PER_BLOCK = BLK / 4096;

    /** Records logClear sections. */
    private static final class Clears implements MemoryListener {
        final List<String> sections = new ArrayList<>();

        @Override
        public void logClear(MemoryRegionSection s) {
            sections.add(DiscardMachine.fmt(s));
        }
    }

    @Test
    void discardedRangesAreNotDirtyWhenMigrationStarts() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, BLK);
            m.vmem.plug(3 * BLK, 2 * BLK);
            Clears clears = new Clears();
            m.sys.registerListener(clears, m.as);
            m.sys.globalDirtyLogStart();
            // a new block starts dirty for every client: without the clear, every page would be sent
            long cleared = DiscardedRam.clearDiscardedFromMigrationLog(m.mem);
            assertEquals((16 - 3) * PAGES_PER_BLOCK, cleared);
            assertEquals(List.of("10000+20000@100010000", "50000+b0000@100050000"), clears.sections,
                    "listeners hear log_clear per discarded run");
            // the guest writes a populated page after the start
            m.as.write(m.gpa + 3 * BLK + 8, MemTxAttrs.UNSPECIFIED, new byte[] {1}, 0, 1);
            DirtyBitmapSnapshot snap = m.mem.snapshotAndClearDirty(0, SIZE, MIGRATION);
            for (int b = 0; b < DiscardMachine.BLOCKS; b++) {
                boolean populated = b == 0 || b == 3 || b == 4;
                assertEquals(populated, m.mem.snapshotGetDirty(snap, b * BLK, BLK), "block " + b);
            }
            assertEquals(3 * PAGES_PER_BLOCK, snap.dirtyPageCount());
            assertEquals(0, DiscardedRam.clearDiscardedFromMigrationLog(m.mem), "nothing left to clear");
            m.sys.globalDirtyLogStop();
        }
    }

    /** A logClear that throws stops neither the other listeners nor the later runs: the throw comes after. */
    @Test
    void aThrowingLogClearStillClearsEveryDiscardedRun() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, BLK);
            m.vmem.plug(3 * BLK, 2 * BLK);
            IllegalStateException boom = new IllegalStateException("clear failed");
            List<String> thrown = new ArrayList<>();
            MemoryListener thrower = new MemoryListener() {
                @Override
                public void logClear(MemoryRegionSection s) {
                    thrown.add(DiscardMachine.fmt(s));
                    throw boom;
                }
            };
            m.sys.registerListener(thrower, m.as);
            Clears clears = new Clears();
            m.sys.registerListener(clears, m.as);
            m.sys.globalDirtyLogStart();

            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> DiscardedRam.clearDiscardedFromMigrationLog(m.mem));

            assertSame(boom, e, "the first throw");
            List<String> runs = List.of("10000+20000@100010000", "50000+b0000@100050000");
            assertEquals(runs, thrown, "the thrower heard every run");
            assertEquals(runs, clears.sections, "so did the other listener");
            m.sys.unregisterListener(thrower);
            DirtyBitmapSnapshot snap = m.mem.snapshotAndClearDirty(0, SIZE, MIGRATION);
            assertEquals(3 * PAGES_PER_BLOCK, snap.dirtyPageCount(), "every discarded run was cleared");
            m.sys.globalDirtyLogStop();
        }
    }

    @Test
    void withoutTheClearEveryPageIsDirtyAndWithoutAManagerNothingIsCleared() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.sys.globalDirtyLogStart();
            DirtyBitmapSnapshot snap = m.mem.snapshotAndClearDirty(0, SIZE, MIGRATION);
            assertEquals(SIZE / 4096, snap.dirtyPageCount(), "the control: all dirty");
            m.mem.setDirty(0, SIZE);
            RamRegion plain = RamRegion.allocate(m.sys, null, "plain", SIZE);
            m.root.addSubregion(0x2_0000_0000L, plain);
            assertEquals(0, DiscardedRam.clearDiscardedFromMigrationLog(plain), "no manager");
            // QEMU 8.1 on: the manager answers while the region is unmapped too
            m.root.delSubregion(m.mem);
            assertTrue(DiscardedRam.isDiscarded(m.mem, 0, BLK));
            m.root.addSubregion(m.gpa, m.mem);
            assertTrue(DiscardedRam.isDiscarded(m.mem, 0, BLK));
            assertEquals(SIZE / 4096, DiscardedRam.clearDiscardedFromMigrationLog(m.mem));
            m.sys.globalDirtyLogStop();
        }
    }

    @Test
    void isDiscardedAndSkipDiscardedFollowTheManager() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(2 * BLK, BLK);
            assertFalse(DiscardedRam.isDiscarded(m.mem, 2 * BLK, 4096));
            assertTrue(DiscardedRam.isDiscarded(m.mem, 2 * BLK - 4096, 8192));
            DirtyPages pages = DiscardedRam.skipDiscarded(m.mem, 4096, DirtyPages.all(SIZE / 4096));
            List<Long> found = new ArrayList<>();
            for (long p = pages.nextDirty(0); p >= 0; p = pages.nextDirty(p + 1)) {
                found.add(p);
            }
            List<Long> expected = new ArrayList<>();
            for (long p = 2 * PAGES_PER_BLOCK; p < 3 * PAGES_PER_BLOCK; p++) {
                expected.add(p);
            }
            assertEquals(expected, found);
        }
    }

    /**
     * A private file mapping reads the file again once discarded, so unplugged blocks hold the file's
     * (nonzero) bytes: a plain snapshot reads and stores them; the discard-aware one records them as
     * zero pages without reading them.
     */
    @Test
    void aFullSnapshotSkipsDiscardedRanges(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("backing");
        byte[] content = new byte[(int) SIZE];
        Arrays.fill(content, (byte) 0x5a);
        Files.write(file, content);
        MemorySystem sys = new MemorySystem();
        RamBlock blk = RamBlock.builder("vfile", SIZE).file(file, 0).shared(false).build();
        RamRegion mem = new RamRegion(sys, null, "vfile", blk, false, false);
        blk.close();
        BitmapRamDiscardManager vmem = BitmapRamDiscardManager.attach(mem, BLK);
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        root.addSubregion(0x8000_0000L, mem);
        vmem.plug(BLK, BLK);
        mem.ramBlock().segment().asSlice(BLK, BLK).fill((byte) 0x11);
        SnapshotBlock sb = SnapshotBlock.of(mem.ramBlock());

        Path plain = dir.resolve("plain.snap");
        SnapshotWriter.write(plain, List.of(sb), (d, t) -> { });
        Path aware = dir.resolve("aware.snap");
        SnapshotWriter.write(aware, List.of(sb), Map.of(sb.name(), DiscardedRam.populatedPages(mem, sb)), (d, t) -> { });
        Path unnamed = dir.resolve("unnamed.snap");
        SnapshotWriter.write(unnamed, List.of(sb), Map.of(), (d, t) -> { });
        try (SnapshotFile p = SnapshotFile.open(plain); SnapshotFile a = SnapshotFile.open(aware);
                SnapshotFile u = SnapshotFile.open(unnamed)) {
            assertEquals(SIZE / 4096, u.blocks().get(0).storedPages(), "a block missing from the map is saved whole");
            assertFalse(u.incremental());
            assertEquals(SIZE / 4096, p.blocks().get(0).storedPages(), "the plain snapshot read every unplugged page");
            assertEquals(PAGES_PER_BLOCK, a.blocks().get(0).storedPages(), "only the plugged block");
            assertFalse(a.incremental());
            for (long page = 0; page < SIZE / 4096; page++) {
                boolean plugged = page >= PAGES_PER_BLOCK && page < 2 * PAGES_PER_BLOCK;
                if (plugged) {
                    assertNotEquals(SnapshotFormat.ZERO, a.location(0, page));
                } else {
                    assertEquals(SnapshotFormat.ZERO, a.location(0, page), "page " + page);
                    assertNotEquals(SnapshotFormat.ZERO, p.location(0, page));
                }
            }
        }
        root.delSubregion(mem);
        DiscardMachine.detachAndDestroy(mem);
    }
}
