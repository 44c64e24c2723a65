package dev.guestmem.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.ram.RamBlock;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot's page table sits at the end of its file, so a file truncated under an open
 * {@link SnapshotFile} loses its table first: every read of it (where a page is, its checksum) must
 * be a {@link SnapshotException}, never a raw {@code InternalError} from the SIGBUS, also once the
 * restore loop is compiled ({@code -Dguestmem.snapshot.warmRounds}, 600 by default).
 */
class TruncatedSnapshotTableTest {
    private static final long PAGES = 64;
    private static final int WARM_ROUNDS = Integer.getInteger("guestmem.snapshot.warmRounds", 600);

    private static Path snapshot(Path dir) {
        Path file = dir.resolve("s.gms");
        try (RamBlock b = RamBlock.anonymous("ram", PAGES * 4096)) {
            for (long off = 0; off < b.usedLength(); off += 8) {
                b.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, off, off * 31 + 7);
            }
            SnapshotWriter.write(file, List.of(SnapshotBlock.of(b)), ProgressListener.NONE);
        }
        return file;
    }

    private static void cutTable(Path file) throws IOException {
        long size = Files.size(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size / 2); // the table is at the end: all of it goes
        }
    }

    @Test
    void readingTheTableOfATruncatedFileIsASnapshotException(@TempDir Path dir) throws IOException {
        Path file = snapshot(dir);
        try (SnapshotFile f = SnapshotFile.open(file)) {
            SnapshotChain chain = SnapshotChain.of(f);
            cutTable(file);
            assertThrows(SnapshotException.class, () -> f.location(0, 3));
            assertThrows(SnapshotException.class, () -> f.checksum(0, 3));
            assertThrows(SnapshotException.class, () -> chain.page("ram", 3));
        }
    }

    @Test
    void restoringATruncatedFileFromCompiledCodeIsASnapshotException(@TempDir Path dir) throws IOException {
        Path file = snapshot(dir);
        try (SnapshotFile f = SnapshotFile.open(file);
             RamBlock target = RamBlock.anonymous("ram", PAGES * 4096)) {
            SnapshotChain chain = SnapshotChain.of(f);
            for (int i = 0; i < WARM_ROUNDS; i++) { // 64 table reads a round: C2 compiles the page loop
                SnapshotRestorer.restore(chain, List.of(SnapshotBlock.of(target)), false, ProgressListener.NONE);
            }
            assertEquals(7L, target.ldqHe(0));
            cutTable(file);
            SnapshotException e = assertThrows(SnapshotException.class,
                    () -> SnapshotRestorer.restore(chain, List.of(SnapshotBlock.of(target)), false, ProgressListener.NONE));
            assertTrue(e.getMessage().contains("SIGBUS"), e.getMessage());
        }
    }
}
