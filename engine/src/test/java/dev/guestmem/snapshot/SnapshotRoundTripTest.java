package dev.guestmem.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotRoundTripTest {
    @TempDir
    Path dir;

    /** Fills pages: every third page zero, the others random bytes (seeded). */
    static void fill(MemorySegment seg, long pageSize, long seed) {
        Random r = new Random(seed);
        byte[] page = new byte[(int) pageSize];
        for (long p = 0; p < seg.byteSize() / pageSize; p++) {
            if (p % 3 == 1) {
                seg.asSlice(p * pageSize, pageSize).fill((byte) 0);
            } else {
                r.nextBytes(page);
                MemorySegment.copy(page, 0, seg, ValueLayout.JAVA_BYTE, p * pageSize, page.length);
            }
        }
    }

    static void assertSameBytes(MemorySegment expected, MemorySegment actual) {
        assertEquals(expected.byteSize(), actual.byteSize());
        long m = expected.mismatch(actual);
        assertEquals(-1, m, () -> "first differing byte at " + m);
    }

    @Test
    void fullSnapshotRoundTripsEveryByteAndSkipsZeroPages() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(64 * 4096, 4096);
            MemorySegment rom = arena.allocate(3 * 8192, 4096);
            fill(ram, 4096, 1);
            fill(rom, 8192, 2);
            Path file = dir.resolve("s.gms");
            List<long[]> reports = new ArrayList<>();
            long id = SnapshotWriter.write(file, List.of(new SnapshotBlock("pc.ram", ram, 4096),
                    new SnapshotBlock("pc.bios", rom, 8192)), (d, t) -> reports.add(new long[] {d, t}));
            assertFalse(Files.exists(dir.resolve("s.gms.tmp")));
            assertEquals(64 * 4096 + 3 * 8192, reports.getLast()[0]);
            assertEquals(reports.getLast()[0], reports.getLast()[1]);

            try (SnapshotFile f = SnapshotFile.open(file)) {
                assertEquals(id, f.id());
                assertEquals(0, f.baseId());
                assertFalse(f.incremental());
                assertEquals(List.of("pc.ram", "pc.bios"), f.blocks().stream().map(SnapshotFile.BlockInfo::name).toList());
                SnapshotFile.BlockInfo b = f.block("pc.ram");
                assertEquals(64, b.pageCount());
                // pages 1, 4, 7, ... are zero: 21 of 64 are not stored
                assertEquals(64 - 21, b.storedPages());
                assertEquals(SnapshotFormat.ZERO, f.location(b.index(), 1));
                assertNull(f.pageData(b.index(), 1));
                assertEquals(3 - 1, f.block("pc.bios").storedPages());
                assertTrue(Files.size(file) < 64 * 4096 + 3 * 8192, "zero pages are not stored");

                MemorySegment ram2 = arena.allocate(ram.byteSize(), 4096);
                MemorySegment rom2 = arena.allocate(rom.byteSize(), 4096);
                ram2.fill((byte) 0x55); // restore must also clear pages that are zero in the snapshot
                SnapshotRestorer.restore(SnapshotChain.of(f), List.of(new SnapshotBlock("pc.ram", ram2, 4096),
                        new SnapshotBlock("pc.bios", rom2, 8192)), true, ProgressListener.NONE);
                assertSameBytes(ram, ram2);
                assertSameBytes(rom, rom2);
            }
        }
    }

    /**
     * The run-based restore: runs of stored pages, zero runs written or (known-zero target) skipped,
     * verification per page inside a run, with and without it; every byte equal either way.
     */
    @Test
    void restoreInRunsMatchesForZeroedAndDirtyTargets() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            long pages = 300;
            MemorySegment ram = arena.allocate(pages * 4096, 4096);
            Random r = new Random(5);
            byte[] page = new byte[4096];
            for (long p = 0; p < pages; p++) {
                if (r.nextInt(4) == 0) {
                    continue; // runs of zero pages of random length between stored runs
                }
                r.nextBytes(page);
                MemorySegment.copy(page, 0, ram, ValueLayout.JAVA_BYTE, p * 4096, page.length);
            }
            Path file = dir.resolve("runs.gms");
            SnapshotWriter.write(file, List.of(new SnapshotBlock("ram", ram, 4096)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(file)) {
                for (boolean verify : new boolean[] {false, true}) {
                    MemorySegment fresh = arena.allocate(ram.byteSize(), 4096); // zeroed by the arena
                    SnapshotRestorer.restore(SnapshotChain.of(f), List.of(new SnapshotBlock("ram", fresh, 4096)), verify, true,
                            ProgressListener.NONE);
                    assertSameBytes(ram, fresh);
                    MemorySegment dirty = arena.allocate(ram.byteSize(), 4096);
                    dirty.fill((byte) 0x77);
                    SnapshotRestorer.restore(SnapshotChain.of(f), List.of(new SnapshotBlock("ram", dirty, 4096)), verify, false,
                            ProgressListener.NONE);
                    assertSameBytes(ram, dirty);
                }
            }
        }
    }

    @Test
    void corruptionIsDetected() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(8 * 4096, 4096);
            fill(ram, 4096, 3);
            Path file = dir.resolve("c.gms");
            SnapshotWriter.write(file, List.of(new SnapshotBlock("ram", ram, 4096)), ProgressListener.NONE);
            byte[] good = Files.readAllBytes(file);

            // a flipped bit in page 2's data: open succeeds, verify and restore fail naming the page
            long loc;
            try (SnapshotFile f = SnapshotFile.open(file)) {
                loc = f.location(0, 2);
            }
            flip(file, loc + 100);
            try (SnapshotFile f = SnapshotFile.open(file)) {
                assertFalse(f.verify(0, 2));
                assertTrue(f.verify(0, 0));
                MemorySegment target = arena.allocate(ram.byteSize(), 4096);
                SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotRestorer.restore(
                        SnapshotChain.of(f), List.of(new SnapshotBlock("ram", target, 4096)), true, ProgressListener.NONE));
                assertTrue(e.getMessage().contains("page 2"), e.getMessage());
            }
            // a flipped bit in the table
            Files.write(file, good);
            flip(file, good.length - 5);
            assertMessage(file, "table checksum");
            // in the header
            Files.write(file, good);
            flip(file, 20);
            assertMessage(file, "header checksum");
            // truncated
            Files.write(file, java.util.Arrays.copyOf(good, good.length - 16));
            assertMessage(file, "file has");
            // never completed: zero header
            byte[] noHeader = good.clone();
            java.util.Arrays.fill(noHeader, 0, 128, (byte) 0);
            Files.write(file, noHeader);
            assertMessage(file, "bad magic");
        }
    }

    @Test
    void targetMismatchIsRefusedNamingTheBlock() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(4 * 4096, 4096);
            Path file = dir.resolve("m.gms");
            SnapshotWriter.write(file, List.of(new SnapshotBlock("ram", ram, 4096)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(file)) {
                MemorySegment small = arena.allocate(2 * 4096, 4096);
                SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotRestorer.restore(
                        SnapshotChain.of(f), List.of(new SnapshotBlock("ram", small, 4096)), true, ProgressListener.NONE));
                assertTrue(e.getMessage().contains("'ram'") && e.getMessage().contains("8192"), e.getMessage());
                e = assertThrows(SnapshotException.class, () -> SnapshotRestorer.restore(
                        SnapshotChain.of(f), List.of(new SnapshotBlock("vga.vram", small, 4096)), true, ProgressListener.NONE));
                assertTrue(e.getMessage().contains("vga.vram"), e.getMessage());
            }
            assertThrows(SnapshotException.class, () -> SnapshotWriter.write(dir.resolve("d.gms"),
                    List.of(new SnapshotBlock("a", ram, 4096), new SnapshotBlock("a", ram, 4096)), ProgressListener.NONE));
            assertThrows(IllegalArgumentException.class, () -> new SnapshotBlock("x", arena.allocate(100), 4096));
            assertThrows(IllegalArgumentException.class, () -> new SnapshotBlock("x", ram, 3000));
        }
    }

    @Test
    void incrementalSnapshotsApplyOnTopOfTheirBase() {
        try (Arena arena = Arena.ofConfined()) {
            long ps = 4096;
            MemorySegment ram = arena.allocate(130 * ps, 4096);
            fill(ram, ps, 4);
            MemorySegment original = arena.allocate(ram.byteSize(), 4096).copyFrom(ram);
            Path base = dir.resolve("base.gms");
            long baseId = SnapshotWriter.write(base, List.of(new SnapshotBlock("ram", ram, ps)), ProgressListener.NONE);

            // the guest writes pages 0, 1 (was zero), 64, 65 and zeroes page 129; a hand-made dirty bitmap says so
            long[] bitmap = new long[3];
            for (long p : new long[] {0, 1, 64, 65, 129}) {
                bitmap[(int) (p >>> 6)] |= 1L << p;
                ram.set(ValueLayout.JAVA_LONG, p * ps + 8, 0x1122_3344_5566_7788L ^ p);
            }
            ram.asSlice(129 * ps, ps).fill((byte) 0);
            Path inc = dir.resolve("inc1.gms");
            long incId = SnapshotWriter.writeIncremental(inc, baseId, List.of(new SnapshotBlock("ram", ram, ps)),
                    Map.of("ram", DirtyPages.ofBitmap(bitmap, 130)), ProgressListener.NONE);

            try (SnapshotFile b = SnapshotFile.open(base); SnapshotFile i = SnapshotFile.open(inc)) {
                assertTrue(i.incremental());
                assertEquals(baseId, i.baseId());
                assertEquals(incId, i.id());
                assertEquals(4, i.block("ram").storedPages());
                assertEquals(SnapshotFormat.ZERO, i.location(0, 129));
                assertEquals(SnapshotFormat.ABSENT, i.location(0, 2));
                SnapshotChain chain = new SnapshotChain(List.of(b, i));
                assertEquals(1, chain.newestFileOf("ram", 64));
                assertEquals(0, chain.newestFileOf("ram", 63));

                MemorySegment target = arena.allocate(ram.byteSize(), 4096);
                SnapshotRestorer.restore(chain, List.of(new SnapshotBlock("ram", target, ps)), true, ProgressListener.NONE);
                assertSameBytes(ram, target);
                for (long p = 0; p < 130; p++) {
                    MemorySegment page = chain.page("ram", p);
                    MemorySegment expected = ram.asSlice(p * ps, ps);
                    if (page == null) {
                        assertEquals(-1, expected.mismatch(arena.allocate(ps)), "page " + p + " resolves to zero");
                    } else {
                        assertEquals(-1, expected.mismatch(page), "page " + p);
                    }
                }
                SnapshotRestorer.restore(SnapshotChain.of(b), List.of(new SnapshotBlock("ram", target, ps)), true,
                        ProgressListener.NONE);
                assertSameBytes(original, target);

                // an increment cannot start a chain, nor follow the wrong base
                assertThrows(SnapshotException.class, () -> new SnapshotChain(List.of(i)));
                assertThrows(SnapshotException.class, () -> new SnapshotChain(List.of(b, i, i)));
            }
        }
    }

    @Test
    void progressIsReportedDuringLongSaves() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = arena.allocate(3 * SnapshotFormat.PROGRESS_STEP, 4096);
            List<Long> done = new ArrayList<>();
            SnapshotWriter.write(dir.resolve("p.gms"), List.of(new SnapshotBlock("ram", ram, 4096)), (d, t) -> {
                assertEquals(ram.byteSize(), t);
                done.add(d);
            });
            assertTrue(done.size() >= 3, "reports: " + done);
            for (int i = 1; i < done.size(); i++) {
                assertTrue(done.get(i) >= done.get(i - 1), "monotone: " + done);
            }
            assertEquals(ram.byteSize(), done.getLast());
        }
    }

    private static void flip(Path file, long offset) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(offset);
            int b = raf.read();
            raf.seek(offset);
            raf.write(b ^ 0x10);
        }
    }

    private static void assertMessage(Path file, String part) {
        SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFile.open(file).close());
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }
}
