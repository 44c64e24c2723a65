package dev.guestmem.ram;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Says why a block's backing store failed, for the error messages of {@link RamBlock}: after a
 * SIGBUS, whether the file is now too short (truncated file, shrunk memfd) or its file system has
 * no space left for the page (disk full, hugetlbfs pool empty); after a failed {@code msync},
 * what the errno means for the data in the file. Only called on the failure path, so it may
 * allocate and make syscalls.
 *
 * <p>Why a full file system raises SIGBUS: a write into a page with no block allocated yet (a hole
 * of a sparse file, or any page of a file grown with {@code ftruncate}) makes the kernel allocate
 * in the fault handler ({@code shmem_fault} on tmpfs, {@code ext4_page_mkwrite}); when that fails
 * with ENOSPC the fault has no errno to return and becomes SIGBUS. On tmpfs even a read of a hole
 * allocates. Blocks built with {@link RamBlockBuilder#prealloc()} have every block allocated at
 * creation, so this cannot happen to them.
 *
 * <p><b>Thread safety.</b> Stateless; any thread.
 */
final class RamFaultCause {
    private RamFaultCause() {
    }

    /**
     * Explains a SIGBUS on a block's mapping.
     *
     * @param fd the block's descriptor, or -1
     * @param fdOffset where the mapping starts in the file
     * @param usedLength bytes of the file the block uses from {@code fdOffset}
     * @param pageSize the block's page size
     * @return a sentence fragment such as "the file system holding the backing file is full"
     */
    static String sigbus(int fd, long fdOffset, long usedLength, long pageSize) {
        if (fd < 0) {
            return "the backing store is gone (hugetlb pool empty or memory poisoned)";
        }
        long size;
        try {
            size = LinuxCalls.fstatSize(fd);
        } catch (NativeCallException e) {
            return "the backing store is gone (" + e.getMessage() + ")";
        }
        long need = fdOffset + usedLength;
        if (Long.compareUnsigned(size, need) < 0) {
            return "the backing store is gone: the file is 0x" + Long.toHexString(size) + " bytes but the block needs [0x"
                    + Long.toHexString(fdOffset) + ", 0x" + Long.toHexString(need) + ") (file truncated or memfd shrunk)";
        }
        long free = usableSpace(fd);
        if (free >= 0 && free < pageSize) {
            return "the file system holding the backing file is full (0x" + Long.toHexString(free)
                    + " bytes free), so the kernel could not allocate the page (ENOSPC in the fault handler);"
                    + " build the block with prealloc() to allocate the file at creation instead";
        }
        return "the backing store could not supply the page (hugetlb pool empty, quota exceeded or I/O error)";
    }

    /**
     * Explains a failed {@code msync} of a shared file mapping.
     *
     * @param errno the errno msync left
     * @return a sentence fragment to follow the range in the message
     */
    static String msync(int errno) {
        String why;
        if (errno == Linux.ENOSPC()) {
            why = "the file system or the device under it is full";
        } else if (errno == Linux.EIO()) {
            why = "write-back failed with an I/O error (a failing device, or a full thin-provisioned one)";
        } else {
            why = "write-back failed";
        }
        return why + "; data written since the last successful msync may be missing from the file (what was synced"
                + " before is still there), and every later msync of this block fails too";
    }

    /** Free bytes for unprivileged users on the fd's file system, or -1 if unknown (memfd, no /proc). */
    private static long usableSpace(int fd) {
        try {
            // statfs follows the /proc magic link to the open file, so this works for any path the fd came from.
            return Files.getFileStore(Path.of("/proc/self/fd/" + fd)).getUsableSpace();
        } catch (IOException | SecurityException e) {
            return -1;
        }
    }
}
