package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.SnapshotBlock;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
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
}
