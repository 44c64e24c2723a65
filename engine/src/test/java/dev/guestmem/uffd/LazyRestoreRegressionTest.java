package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lazy-restore defects found by the snapshot-semantics audit ({@code SnapshotSemanticsProbeTest}),
 * kept as regression tests once fixed, with the probes' failure messages.
 */
class LazyRestoreRegressionTest {
    private static final long PAGE = 4096;

    // ------------------------------------------------------------------------------------------
    // Was: when the page server refused the layout, LazyRestore's constructor closed the owned
    // server and LazyRestore.start closed it again, closing the guardian socket's fd number twice
    // (EBADF replaced the real reason; with fd reuse, another thread's descriptor was closed).
    // ------------------------------------------------------------------------------------------
    @Test
    void aServerThatCannotStartIsReportedWithItsReasonAndClosedOnce(@TempDir Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        try {
            Path full = dir.resolve("full.gms");
            SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(full)) {
                Files.delete(full); // the caller's mapping stays valid; the server opens by path
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                        LazyRestore.Options.DEFAULT)) {
                    fail("started from a deleted file: " + restore);
                } catch (dev.guestmem.uffd.LazyRestoreException expected) {
                    assertTrue(expected.getMessage().contains("full.gms"), expected.getMessage());
                    assertEquals(0, expected.getSuppressed().length, "the server was closed once: " + List.of(expected.getSuppressed()));
                } catch (RuntimeException e) {
                    fail("expected a LazyRestoreException with the server's reason, got " + e, e);
                }
            }
        } finally {
            src.close();
            dst.close();
        }
    }

    /** A second close of a server closes nothing: a descriptor that reused a number stays open. */
    @Test
    void closingAServerTwiceLeavesADescriptorThatReusedItsNumbersAlone() {
        PageServerProcess server = PageServerProcess.start(List.of());
        int guardian = server.guardianSocket();
        int control = server.socket();
        server.close();
        // the kernel hands out the lowest free number: open descriptors until both numbers are reused
        List<Integer> fresh = new java.util.ArrayList<>();
        try {
            while (fresh.size() < 256 && !(fresh.contains(guardian) && fresh.contains(control))) {
                int[] pair = LinuxCalls.socketpair();
                fresh.add(pair[0]);
                fresh.add(pair[1]);
            }
            assertTrue(fresh.contains(guardian) && fresh.contains(control),
                    "the test needs the numbers reused: " + fresh + " vs " + guardian + ", " + control);
            server.close();
            for (int fd : fresh) {
                assertTrue(Linux.fcntl(fd, Linux.F_GETFD(), 0) >= 0, "descriptor " + fd + " was closed by the second close");
            }
        } finally {
            fresh.forEach(LinuxCalls::close);
        }
    }
}
