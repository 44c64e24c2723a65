package dev.guestmem.ram;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What {@link RamMapper} produced for one block: the host memory (global scope; the block wraps it
 * in its arena), the descriptor the block owns and the page size. {@link #release()} undoes it.
 *
 * @param host the mapping, {@code mappedLength} bytes, global scope
 * @param mappedLength bytes mapped ({@code maxLength} rounded up to {@code pageSize})
 * @param fd the descriptor the block owns, or -1
 * @param fdOffset where the mapping starts in the fd's file
 * @param pageSize host page size backing the mapping (4 KiB, or the huge page size)
 * @param ownsMemory whether {@link #release()} unmaps (false for caller-provided memory)
 * @param hugepageAdvised whether {@code MADV_HUGEPAGE} was accepted
 * @param readOnlyFd whether the descriptor is open read-only
 * @param align the alignment the host address was given ({@code mr->align}): a power of two, or 0
 *     for caller-owned memory without a requested alignment
 */
record RamMapping(MemorySegment host, long mappedLength, int fd, long fdOffset, long pageSize, boolean ownsMemory,
                  boolean hugepageAdvised, boolean readOnlyFd, long align) {

    /** Unmaps (if owned) and closes the descriptor (if any); exactly once, from the arena's close. */
    void release() {
        RuntimeException first = null;
        if (ownsMemory) {
            try {
                LinuxCalls.munmap(host, mappedLength);
            } catch (NativeCallException e) {
                first = e;
            }
        }
        if (fd >= 0) {
            try {
                LinuxCalls.close(fd);
            } catch (NativeCallException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** Huge page size from {@code /proc/meminfo}, or 2 MiB if it cannot be read. */
    static long defaultHugePageSize() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("Hugepagesize:")) {
                    String[] parts = line.substring("Hugepagesize:".length()).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through to the x86_64 default
        }
        return 2L << 20;
    }

    /** @return whether the descriptor was opened read-only ({@code O_ACCMODE == O_RDONLY}) */
    static boolean isReadOnlyFd(int fd) {
        return (LinuxCalls.fcntl(fd, Linux.F_GETFL(), 0) & 3) == Linux.O_RDONLY();
    }
}
