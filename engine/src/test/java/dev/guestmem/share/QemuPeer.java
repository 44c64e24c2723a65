package dev.guestmem.share;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the real-QEMU tests find QEMU and the mtree fixtures; skips with the reason when QEMU is absent. */
final class QemuPeer {
    private QemuPeer() {
    }

    /** Skips the calling test, with a visible reason, on a machine without QEMU. */
    static void assumeQemu() {
        assumeTrue(Files.isExecutable(QemuProcess.DEFAULT_BINARY), QemuProcess.DEFAULT_BINARY
                + " is not installed: the real-QEMU peer tests need Debian's qemu-system-x86 (.ci/run installs it)");
    }

    /** @return a fixture file from the {@code guestmem.fixtures} folder */
    static Path fixture(String name) {
        String dir = System.getProperty("guestmem.fixtures");
        if (dir == null) {
            throw new IllegalStateException("system property guestmem.fixtures is not set");
        }
        return Path.of(dir, name);
    }
}
