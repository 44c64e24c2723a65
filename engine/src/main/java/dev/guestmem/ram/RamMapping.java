package dev.guestmem.ram;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

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
 */
record RamMapping(MemorySegment host, long mappedLength, int fd, long fdOffset, long pageSize, boolean ownsMemory,
                  boolean hugepageAdvised, boolean readOnlyFd) {

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

    /**
     * Page size of the hugetlbfs mount holding {@code path}, or 0 if it is not on hugetlbfs (QEMU's
     * {@code qemu_fd_getpagesize} uses fstatfs; /proc/mounts gives the same answer without a binding).
     */
    static long hugetlbfsPageSize(Path path) {
        Path abs = path.toAbsolutePath().normalize();
        List<String> lines;
        try {
            lines = Files.readAllLines(Path.of("/proc/mounts"));
        } catch (IOException e) {
            return 0;
        }
        String bestMount = null;
        String bestOptions = null;
        boolean bestHuge = false;
        for (String line : lines) {
            String[] f = line.split(" ");
            if (f.length < 4) {
                continue;
            }
            String mount = f[1].replace("\\040", " ");
            if (abs.startsWith(Path.of(mount)) && (bestMount == null || mount.length() > bestMount.length())) {
                bestMount = mount;
                bestOptions = f[3];
                bestHuge = f[2].equals("hugetlbfs");
            }
        }
        if (!bestHuge) {
            return 0;
        }
        for (String opt : bestOptions.split(",")) {
            if (opt.startsWith("pagesize=")) {
                return parseSize(opt.substring("pagesize=".length()));
            }
        }
        return defaultHugePageSize();
    }

    private static long parseSize(String s) {
        char unit = Character.toUpperCase(s.charAt(s.length() - 1));
        long mul = switch (unit) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        String digits = mul == 1 ? s : s.substring(0, s.length() - 1);
        return Long.parseLong(digits) * mul;
    }

    /** @return whether the descriptor was opened read-only ({@code O_ACCMODE == O_RDONLY}) */
    static boolean isReadOnlyFd(int fd) {
        return (LinuxCalls.fcntl(fd, Linux.F_GETFL(), 0) & 3) == Linux.O_RDONLY();
    }
}
