package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.NativeCallException;

/**
 * Says why a userfaultfd could not be opened, from the failed call and its errno. Only EPERM is the
 * kernel's permission check ({@code userfaultfd(2)}: no CAP_SYS_PTRACE and
 * vm.unprivileged_userfaultfd=0; seccomp profiles refuse with it too) and EACCES a security module's
 * denial of the anonymous inode (SELinux); the others are not fixed by granting anything.
 */
final class UffdOpenFailure {
    private UffdOpenFailure() {
    }

    /** The message of the {@link LazyRestoreException} thrown when {@link Uffd#open} fails. */
    static String explain(NativeCallException n) {
        return "cannot open a userfaultfd (" + n.getMessage() + "): " + reason(n)
                + "; nothing was changed, an eager SnapshotRestorer.restore works without it";
    }

    private static String reason(NativeCallException n) {
        if ("ioctl".equals(n.call())) { // the UFFDIO_API handshake, after the descriptor was opened
            return "the kernel refused the UFFDIO_API handshake (it lacks a feature lazy restore needs: "
                    + "UFFD_FEATURE_MISSING_SHMEM or UFFD_FEATURE_EVENT_REMOVE)";
        }
        int e = n.errno();
        if (e == Linux.EPERM()) {
            return "this process may not use it: lazy restore needs CAP_SYS_PTRACE or vm.unprivileged_userfaultfd=1, "
                    + "and a seccomp profile that allows userfaultfd(2)";
        }
        if (e == Linux.EACCES()) {
            return "a security module (SELinux or another LSM policy) denies this process userfaultfd";
        }
        if (e == Linux.EMFILE()) {
            return "this process has no free file descriptor (RLIMIT_NOFILE, ulimit -n, reached)";
        }
        if (e == Linux.ENFILE()) {
            return "the system's file table is full (fs.file-max reached)";
        }
        if (e == Linux.ENOMEM()) {
            return "the kernel is out of memory";
        }
        if (e == Linux.ENOSYS()) {
            return "this kernel has no userfaultfd(2) (built without CONFIG_USERFAULTFD), "
                    + "or a seccomp profile answers ENOSYS for it";
        }
        return "unexpected errno from userfaultfd(2)";
    }
}
