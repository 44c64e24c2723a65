package dev.guestmem.scenario3;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.uffd.LazyRestore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Run in a process that may not call userfaultfd(2): tries a lazy restore and prints what it threw
 * and whether the target kept its bytes, for {@link LazyRestoreUnavailableTest}.
 */
final class UffdDeniedMain {
    private UffdDeniedMain() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("gm-s3-uffd");
        Path file = dir.resolve("s.gms");
        try (RamBlock saved = RamBlock.anonymous("ram", 1 << 20)) {
            saved.stlHe(0x1000, 0x5a5a);
            SnapshotWriter.write(file, List.of(SnapshotBlock.of(saved)), ProgressListener.NONE);
        }
        try (RamBlock target = RamBlock.anonymous("ram", 1 << 20); SnapshotFile f = SnapshotFile.open(file)) {
            target.stlHe(0x1000, 0x77);
            try (LazyRestore r = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(target)),
                    LazyRestore.Options.DEFAULT)) {
                System.out.println("STARTED " + r.state());
            } catch (RuntimeException e) {
                System.out.println("THROWN " + e.getClass().getName() + ": " + e.getMessage());
            }
            System.out.println("TARGET " + Integer.toHexString(target.ldlHe(0x1000)) + " canFault " + target.canFault());
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
    }
}
