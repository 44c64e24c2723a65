package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotException;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.uffd.PageSourceException;
import dev.guestmem.uffd.SnapshotPageSource;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot file whose pages fault when read: a hole (punched by another process, or left by a
 * sparse copy) on a full tmpfs, where reading a hole needs a page the file system has not got. The
 * checksums ran the JDK's CRC32C stub straight over the mapping, and a SIGBUS inside that stub is
 * not turned into an exception: it killed the JVM ({@code StubRoutines::updateBytesCRC32C}) on
 * {@link SnapshotFile#open} (table checksum) and on {@link SnapshotFile#verify} (page checksum).
 * Now each is a {@link SnapshotException}. In {@code dev.guestmem.ram} for {@link FullFileSystem}.
 */
class SnapshotFileFaultTest {
    private static final long PAGE = 4096;
    private static final long PAGES = 1024;

    @Test
    void faultingSnapshotPagesAreErrorsNotCrashes() {
        try (FullFileSystem fs = FullFileSystem.tmpfs(1L << 20)) {
            Path snap = fs.dir().resolve("s.gms");
            try (RamBlock b = RamBlock.anonymous("ram", PAGES * PAGE)) {
                b.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1); // stored: page 0 and the last page
                b.segment().set(ValueLayout.JAVA_BYTE, (PAGES - 1) * PAGE, (byte) 2);
                SnapshotWriter.write(snap, List.of(SnapshotBlock.of(b)), ProgressListener.NONE);
            }
            long dataPage;
            long tableZeros;
            try (SnapshotFile f = SnapshotFile.open(snap)) {
                dataPage = f.location(0, 0);
                // a page of the table inside the entries of zero pages (all-zero bytes: a sparse copy drops it)
                long entries = f.blocks().get(0).entriesOffset();
                tableZeros = (entries + 2 * 16 + PAGE - 1) & -PAGE;
                assertTrue(tableZeros + PAGE <= entries + (PAGES - 1) * 16);
            }
            try (SnapshotFile f = SnapshotFile.open(snap)) {
                punchHole(snap, dataPage);
                punchHole(snap, tableZeros);
                fs.fill();
                assertThrows(SnapshotException.class, () -> f.verify(0, 0));
                try (RamBlock target = RamBlock.anonymous("ram", PAGES * PAGE)) {
                    SnapshotChain chain = new SnapshotChain(List.of(f));
                    for (boolean verify : new boolean[] {true, false}) {
                        assertThrows(SnapshotException.class, () -> SnapshotRestorer.restore(chain,
                                List.of(SnapshotBlock.of(target)), verify, ProgressListener.NONE));
                    }
                }
            }
            assertThrows(SnapshotException.class, () -> SnapshotFile.open(snap));
        }
    }

    /** The page server's verification ran the same CRC32C stub over the mapping: a crash of the server's JVM. */
    @Test
    void aFaultingPageIsAPageSourceErrorForTheServer() {
        try (FullFileSystem fs = FullFileSystem.tmpfs(1L << 20)) {
            Path snap = fs.dir().resolve("s.gms");
            try (RamBlock b = RamBlock.anonymous("ram", PAGES * PAGE)) {
                b.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
                SnapshotWriter.write(snap, List.of(SnapshotBlock.of(b)), ProgressListener.NONE);
            }
            long dataPage;
            try (SnapshotFile f = SnapshotFile.open(snap)) {
                dataPage = f.location(0, 0);
            }
            try (SnapshotPageSource source = new SnapshotPageSource(List.of(snap), List.of("ram"), true)) {
                punchHole(snap, dataPage);
                fs.fill();
                assertThrows(PageSourceException.class, () -> source.page(0, 0));
            }
        }
    }

    /** Saving a block whose file was truncated: was an {@code InternalError} that left {@code PATH.tmp} behind. */
    @Test
    void savingAFaultingBlockIsASnapshotError(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ram.img");
        try (RamBlock b = RamBlock.builder("ram", 16 * PAGE).file(file).shared(true).build()) {
            b.stqHe(0, 1);
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(0);
            }
            Path snap = dir.resolve("s.gms");
            assertThrows(SnapshotException.class,
                    () -> SnapshotWriter.write(snap, List.of(SnapshotBlock.of(b)), ProgressListener.NONE));
            assertFalse(Files.exists(snap));
            assertFalse(Files.exists(dir.resolve("s.gms.tmp")));
            assertTrue(b.isBroken(), "the fault breaks the block, as on the access paths");
        }
    }

    private static void punchHole(Path file, long offset) {
        int fd = LinuxCalls.open(file.toString(), Linux.O_RDWR(), 0);
        try {
            LinuxCalls.fallocate(fd, Linux.FALLOC_FL_PUNCH_HOLE() | Linux.FALLOC_FL_KEEP_SIZE(), offset, PAGE);
        } finally {
            LinuxCalls.close(fd);
        }
    }
}
