package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Targets a lazy restore must refuse before touching anything: a block mapped read-only (the
 * remote start has no snapshot chain whose check would catch it).
 */
class LazyRestoreTargetsTest {
    @Test
    void aRemoteRestoreRefusesAReadOnlyTargetAndChangesNothing(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ro.img");
        byte[] content = new byte[1 << 16];
        content[0x1000] = 0x5a;
        Files.write(file, content);
        try (RamBlock ro = RamBlock.builder("ro", 1 << 16).file(file, 0).readOnly().build();
             PageServerProcess server = PageServerProcess.start(List.of())) {
            LazyRestoreException e = assertThrows(LazyRestoreException.class, () -> LazyRestore.startRemote(server,
                    dir.resolve("no-source.sock").toString(), List.of(SnapshotBlock.of(ro)), LazyRestore.Options.DEFAULT));
            assertTrue(e.getMessage().contains("read-only"), e.getMessage());
            assertEquals(0x5a, ro.segment().get(ValueLayout.JAVA_BYTE, 0x1000));
        }
    }

    @Test
    void awaitCompleteTakesATimeoutBeyondLongNanoseconds(@TempDir Path dir) throws Exception {
        Path snap = dir.resolve("s.gms");
        try (RamBlock src = RamBlock.anonymous("ram", 1 << 16); RamBlock dst = RamBlock.anonymous("ram", 1 << 16)) {
            src.segment().fill((byte) 3);
            SnapshotWriter.write(snap, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(snap);
                 LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                         LazyRestore.Options.DEFAULT)) {
                // prefetch fills every page; a wait "for ever" (Duration.toNanos would overflow) returns then
                assertTrue(restore.awaitComplete(ChronoUnit.FOREVER.getDuration()));
                assertEquals(3, dst.segment().get(ValueLayout.JAVA_BYTE, 0xff00));
            }
        }
    }
}
