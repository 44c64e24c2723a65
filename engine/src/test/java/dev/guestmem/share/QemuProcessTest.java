package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** {@link QemuProcess#startPc} without a QEMU: a binary that exits at once. */
class QemuProcessTest {
    /**
     * A wait beyond a century is no limit: startPc used to throw ArithmeticException (after starting
     * the process, which it then left running and its directory behind).
     */
    @Test
    void aTimeoutBeyondACenturyIsNoLimit() {
        Path exitsAtOnce = Path.of("/usr/bin/true");
        Assumptions.assumeTrue(Files.isExecutable(exitsAtOnce), "needs /usr/bin/true");
        ShareException e = assertThrows(ShareException.class,
                () -> QemuProcess.startPc(exitsAtOnce, 16, null, Duration.ofSeconds(Long.MAX_VALUE)).close());
        assertTrue(e.getMessage().startsWith("QEMU exited with 0"), e.getMessage());
    }
}
