package dev.guestmem.scenario3;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A machine that does not allow userfaultfd (no CAP_SYS_PTRACE and vm.unprivileged_userfaultfd=0,
 * or a container's seccomp profile): a user who falls back to an eager restore catches
 * {@code LazyRestoreException}, as {@code LazyRestore.start} documents for a start that fails.
 * The test drops CAP_SYS_PTRACE from a child JVM with setpriv, so it runs only as root.
 */
class LazyRestoreUnavailableTest {
    @Test
    void aStartWithoutUserfaultfdIsALazyRestoreExceptionAndChangesNothing() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "setpriv (util-linux) is not installed");
        assumeTrue("root".equals(System.getProperty("user.name")), "dropping a capability needs root");
        List<String> cmd = List.of("/usr/bin/setpriv", "--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace",
                ProcessHandle.current().info().command().orElseThrow(), "--enable-native-access=ALL-UNNAMED", "-Xmx64m",
                "-cp", System.getProperty("java.class.path"), UffdDeniedMain.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
        assumeTrue(!out.contains("STARTED"), "userfaultfd is allowed without CAP_SYS_PTRACE here (vm.unprivileged_userfaultfd=1)");
        assertTrue(out.contains("THROWN dev.guestmem.uffd.LazyRestoreException"), out);
        assertTrue(out.contains("userfaultfd"), out);
        assertTrue(out.contains("TARGET 77 canFault false"), "the target keeps its bytes and is not fenced: " + out);
    }
}
