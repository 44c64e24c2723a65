package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * A file backend's page size comes from the open file ({@code fstatfs}, QEMU's
 * {@code qemu_fd_getpagesize}), not from the path's place in {@code /proc/mounts}: a hugetlb file
 * reached through a path outside any hugetlbfs mount ({@code /proc/PID/fd/N} of QEMU's
 * {@code memory-backend-memfd,hugetlb=on}, as the guide's {@code xp --ram} does, or a symbolic
 * link) was taken for 4 KiB pages, mapped with a length the kernel rounded up to a huge page, and
 * its munmap then failed (EINVAL): {@code close()} threw and the mapping and descriptor stayed.
 * Needs only a kernel with hugetlb (no pool pages: nothing is touched).
 */
class RamHugetlbPathTest {
    @Test
    void aHugetlbMemfdByProcFdPathHasHugePagesAndIsReleased() {
        int fd;
        try {
            fd = LinuxCalls.memfdCreate("huge", Linux.MFD_CLOEXEC() | Linux.MFD_HUGETLB());
        } catch (NativeCallException e) {
            assumeTrue(false, "no hugetlb memfds here: " + e.getMessage());
            return;
        }
        try {
            long huge = LinuxCalls.fdPageSize(fd);
            assumeTrue(huge > LinuxCalls.pageSize(), "hugetlb memfd without huge pages");
            LinuxCalls.ftruncate(fd, huge);
            RamBlock b = RamBlock.builder("huge", huge / 2).file(Path.of("/proc/self/fd/" + fd), 0).shared(true)
                    .noreserve(true).build();
            assertEquals(huge, b.pageSize());
            assertEquals(huge, b.maxLength());
            assertDoesNotThrow(b::close);
            assertTrue(b.isReleased());
        } finally {
            LinuxCalls.close(fd);
        }
    }
}
