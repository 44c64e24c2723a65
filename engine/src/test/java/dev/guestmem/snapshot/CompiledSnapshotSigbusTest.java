package dev.guestmem.snapshot;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.ram.RamBlock;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot of file-backed RAM that a peer truncated is a {@link SnapshotException} also once the
 * JIT has compiled the writer and the reader: HotSpot delivers a compiled access's SIGBUS as an
 * asynchronous {@code InternalError} at the next safepoint poll, so a copy inlined into the page
 * loop let it escape the {@code try} around the copy (seen in CI as a raw {@code InternalError} out of
 * {@code SnapshotWriter.write}, once; not reproduced here since). Each case first runs the path
 * often enough for C2 to compile it ({@code -Dguestmem.snapshot.warmRounds}, 600 by default).
 */
class CompiledSnapshotSigbusTest {
    private static final long MIB = 1L << 20;
    private static final int WARM_ROUNDS = Integer.getInteger("guestmem.snapshot.warmRounds", 600);

    @Test
    void writingTruncatedRamFromCompiledCodeIsASnapshotException(@TempDir Path dir) throws IOException {
        Path img = dir.resolve("ram.img");
        try (RamBlock b = RamBlock.builder("ram", 256 << 10).file(img).shared(true).build()) {
            // 64 pages a round, all zero (read and tested, none written): C2 compiles the page loop
            for (int i = 0; i < WARM_ROUNDS; i++) {
                SnapshotWriter.write(dir.resolve("warm.gms"), List.of(SnapshotBlock.of(b)), ProgressListener.NONE);
            }
            try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
                ch.truncate(64 << 10); // the peer shrinks the file under the mapping
            }
            SnapshotException e = assertThrows(SnapshotException.class,
                    () -> SnapshotWriter.write(dir.resolve("s.gms"), List.of(SnapshotBlock.of(b)), ProgressListener.NONE));
            assertTrue(e.getMessage().contains("page 16"), e.getMessage());
        }
    }

    @Test
    void checksummingATruncatedSnapshotFromCompiledCodeIsASnapshotException(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("s.gms");
        try (RamBlock b = RamBlock.anonymous("ram", 4 * MIB)) {
            for (long off = 0; off < 4 * MIB; off += 8) {
                b.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off, off * 31 + 7);
            }
            SnapshotWriter.write(file, List.of(SnapshotBlock.of(b)), ProgressListener.NONE);
        }
        try (SnapshotFile f = SnapshotFile.open(file)) {
            for (int r = 0; r < WARM_ROUNDS / 10; r++) { // 1024 pages a round: verify and its crc get compiled
                for (long p = 0; p < 1024; p++) {
                    assertTrue(f.verify(0, p));
                }
            }
            long size = Files.size(file);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(size / 2); // under the open file's mapping
            }
            int refused = 0;
            for (long p = 0; p < 1024; p++) { // the pages past the cut fault
                try {
                    f.verify(0, p);
                } catch (SnapshotException e) {
                    refused++;
                }
            }
            assertTrue(refused > 0, "no page past the cut was refused");
        }
    }
}
