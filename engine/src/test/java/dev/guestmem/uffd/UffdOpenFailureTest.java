package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.NativeCallException;
import org.junit.jupiter.api.Test;

/**
 * What {@code LazyRestore.start} says when no userfaultfd can be opened: only a refusal (EPERM from
 * the capability/sysctl check or seccomp, EACCES from a security module) is about permissions; the
 * other errnos say what they are.
 */
class UffdOpenFailureTest {
    private static String explain(String call, int errno) {
        return UffdOpenFailure.explain(new NativeCallException(call, errno, "text"));
    }

    @Test
    void epermNamesWhatTheMachineMustAllow() {
        String m = explain("userfaultfd", Linux.EPERM());
        assertTrue(m.contains("CAP_SYS_PTRACE") && m.contains("vm.unprivileged_userfaultfd=1") && m.contains("seccomp"), m);
        assertTrue(m.contains("errno " + Linux.EPERM()), m);
    }

    @Test
    void eaccesIsASecurityModuleRefusal() {
        String m = explain("userfaultfd", Linux.EACCES());
        assertTrue(m.contains("security module"), m);
    }

    @Test
    void runningOutOfDescriptorsIsNotAPermissionProblem() {
        String m = explain("userfaultfd", Linux.EMFILE());
        assertTrue(m.contains("RLIMIT_NOFILE"), m);
        assertFalse(m.contains("CAP_SYS_PTRACE"), m);
        String sys = explain("userfaultfd", Linux.ENFILE());
        assertTrue(sys.contains("fs.file-max"), sys);
        assertFalse(sys.contains("CAP_SYS_PTRACE"), sys);
    }

    @Test
    void enomemAndEnosysSayWhatTheyAre() {
        String mem = explain("userfaultfd", Linux.ENOMEM());
        assertTrue(mem.contains("out of memory"), mem);
        assertFalse(mem.contains("CAP_SYS_PTRACE"), mem);
        String sys = explain("userfaultfd", Linux.ENOSYS());
        assertTrue(sys.contains("CONFIG_USERFAULTFD"), sys);
        assertFalse(sys.contains("CAP_SYS_PTRACE"), sys);
    }

    @Test
    void aRefusedApiHandshakeIsAboutTheKernelsFeatures() {
        String m = explain("ioctl", Linux.EINVAL());
        assertTrue(m.contains("UFFDIO_API"), m);
        assertFalse(m.contains("CAP_SYS_PTRACE"), m);
    }

    @Test
    void everyMessageSaysNothingChangedAndTheEagerFallback() {
        for (int errno : new int[] {Linux.EPERM(), Linux.EACCES(), Linux.EMFILE(), Linux.ENFILE(), Linux.ENOMEM(),
                Linux.ENOSYS(), Linux.EINVAL()}) {
            String m = explain("userfaultfd", errno);
            assertTrue(m.startsWith("cannot open a userfaultfd (userfaultfd failed: errno " + errno), m);
            assertTrue(m.contains("nothing was changed") && m.contains("SnapshotRestorer.restore"), m);
        }
    }
}
