package dev.guestmem.ram;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Turns a validated {@link RamSpec} into a {@link RamMapping}: opens or creates the backing fd,
 * checks and sizes the file, reserves an aligned range and maps it, then applies hints. QEMU's
 * {@code file_ram_alloc}, {@code qemu_ram_mmap} and {@code qemu_anon_ram_alloc} in one place.
 *
 * <p>Every step that fails undoes the steps before it (unmap, close, delete a file this call
 * created), so a failed {@link #map} leaves no mapping, descriptor or file behind.
 *
 * <p><b>Thread safety.</b> Stateless; any thread.
 */
final class RamMapper {
    /** QEMU_VMALLOC_ALIGN on x86_64: anonymous RAM starts on a 2 MiB boundary so THP can back it. */
    static final long VMALLOC_ALIGN = 2L << 20;

    /** A thread that owns no arena: a segment it may access is not confined to one thread. */
    private static final Thread NOT_AN_OWNER = Thread.ofVirtual().unstarted(() -> { });

    private RamMapper() {
    }

    /** Maps the block described by {@code spec}. */
    static RamMapping map(RamSpec spec) {
        return switch (spec.backend()) {
            case RamBackend.Anonymous a -> mapAnonymous(spec);
            case RamBackend.Memfd m -> mapMemfd(spec, m);
            case RamBackend.File f -> mapFile(spec, f);
            case RamBackend.Fd d -> mapFd(spec, d);
            case RamBackend.Host h -> hostMemory(spec, h.host());
            case RamBackend.RamDevice d -> hostMemory(spec, d.host());
        };
    }

    private static RamMapping mapAnonymous(RamSpec spec) {
        long page = LinuxCalls.pageSize();
        long length = alignUp(spec.maxLength(), page);
        long align = Math.max(spec.align(), length >= VMALLOC_ALIGN ? VMALLOC_ALIGN : page);
        int mapFlags = Linux.MAP_ANONYMOUS() | (spec.shared() ? Linux.MAP_SHARED() : Linux.MAP_PRIVATE());
        MemorySegment host = mmapAligned(spec, length, align, mapFlags, -1, 0, false);
        return finish(spec, host, length, -1, 0, page, true, false, align);
    }

    private static RamMapping mapMemfd(RamSpec spec, RamBackend.Memfd m) {
        long page = m.hugetlb() ? RamMapping.defaultHugePageSize() : LinuxCalls.pageSize();
        long length = alignUp(spec.maxLength(), page);
        int fd;
        try {
            fd = LinuxCalls.memfdCreate(memfdName(spec.idstr()), Linux.MFD_CLOEXEC() | Linux.MFD_ALLOW_SEALING()
                    | (m.hugetlb() ? Linux.MFD_HUGETLB() : 0));
        } catch (NativeCallException e) {
            throw new RamBackendException(spec.idstr(), "creating a memfd", e);
        }
        try {
            LinuxCalls.ftruncate(fd, length);
            if (spec.prealloc() && !m.hugetlb()) {
                LinuxCalls.fallocate(fd, 0, 0, length);
            }
            // The size never changes (resizeable blocks size the memfd to max length up front), so
            // seal it: a peer that receives the fd cannot shrink it under our mapping (SIGBUS), nor
            // change the seals (F_SEAL_SEAL, as QEMU's memory-backend-memfd seal=on).
            LinuxCalls.addSeals(fd, Linux.F_SEAL_SHRINK() | Linux.F_SEAL_GROW() | Linux.F_SEAL_SEAL());
        } catch (NativeCallException e) {
            closeQuietly(fd);
            throw new RamBackendException(spec.idstr(), "sizing and sealing memfd to 0x" + Long.toHexString(length), e);
        }
        return mapFdBacked(spec, fd, 0, page, length, false);
    }

    /** The kernel's limit on a memfd name ({@code MFD_NAME_MAX_LEN}: NAME_MAX minus {@code "memfd:"}). */
    static final int MEMFD_NAME_MAX_BYTES = 249;

    /**
     * The block's name cut to what memfd_create takes (longer names fail with EINVAL): the name is
     * only a label in {@code /proc/PID/fd} and {@code /proc/PID/maps}, so a cut one does.
     */
    static String memfdName(String idstr) {
        byte[] utf8 = idstr.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= MEMFD_NAME_MAX_BYTES) {
            return idstr;
        }
        int end = MEMFD_NAME_MAX_BYTES;
        while (end > 0 && (utf8[end] & 0xc0) == 0x80) {
            end--; // not inside a UTF-8 sequence
        }
        return new String(utf8, 0, end, StandardCharsets.UTF_8);
    }

    private static RamMapping mapFile(RamSpec spec, RamBackend.File f) {
        Path path = f.path();
        if (Files.isDirectory(path)) {
            // QEMU creates a temporary file in a directory (hugetlbfs mount points); we ask for a file.
            throw new InvalidRamBlockException(spec.idstr(), "backing path " + path + " is a directory, need a file");
        }
        boolean existed = Files.exists(path);
        if (!existed && !f.create()) {
            throw new InvalidRamBlockException(spec.idstr(), "backing file " + path + " does not exist (create=false)");
        }
        if (!existed && spec.readOnlyFd()) {
            throw new InvalidRamBlockException(spec.idstr(), "backing file " + path + " does not exist and READONLY_FD cannot create it");
        }
        int oflags = (spec.readOnlyFd() ? Linux.O_RDONLY() : Linux.O_RDWR()) | Linux.O_CLOEXEC()
                | (existed ? 0 : Linux.O_CREAT() | Linux.O_EXCL());
        int fd;
        try {
            fd = LinuxCalls.open(path.toString(), oflags, 0600);
        } catch (NativeCallException e) {
            throw new RamBackendException(spec.idstr(), "opening " + path, e);
        }
        try {
            // From the open file, not the path: /proc/PID/fd/N or a symbolic link can reach hugetlbfs
            // from outside its mount, and a huge-page mapping taken for 4 KiB pages cannot be unmapped.
            long page = fdPageSize(spec, fd, path.toString());
            checkOffset(spec, f.offset(), page);
            return sizeAndMap(spec, fd, f.offset(), page, spec.readOnlyFd(), path.toString());
        } catch (RuntimeException e) {
            closeQuietly(fd);
            if (!existed) {
                deleteQuietly(path);
            }
            throw e;
        }
    }

    /** QEMU's {@code qemu_fd_getpagesize}: the huge page size on hugetlbfs, else the base page size. */
    private static long fdPageSize(RamSpec spec, int fd, String what) {
        try {
            return LinuxCalls.fdPageSize(fd);
        } catch (NativeCallException e) {
            throw new RamBackendException(spec.idstr(), "fstatfs of " + what, e);
        }
    }

    private static RamMapping mapFd(RamSpec spec, RamBackend.Fd d) {
        int fd;
        try {
            fd = LinuxCalls.fcntl(d.fd(), Linux.F_DUPFD_CLOEXEC(), 0);
        } catch (NativeCallException e) {
            throw new RamBackendException(spec.idstr(), "duplicating fd " + d.fd(), e);
        }
        try {
            long page = fdPageSize(spec, fd, "fd " + d.fd()); // a hugetlbfs fd maps huge pages
            checkOffset(spec, d.offset(), page);
            boolean readOnlyFd = spec.readOnlyFd() || RamMapping.isReadOnlyFd(fd);
            return sizeAndMap(spec, fd, d.offset(), page, readOnlyFd, "fd " + d.fd());
        } catch (RuntimeException e) {
            closeQuietly(fd);
            throw e;
        }
    }

    /** Checks the file covers the block (growing an empty writeable file), then maps it. Caller closes fd on failure. */
    private static RamMapping sizeAndMap(RamSpec spec, int fd, long offset, long page, boolean readOnlyFd, String what) {
        long length = alignUp(spec.maxLength(), page);
        if (readOnlyFd && spec.shared() && !spec.readOnly()) {
            throw new InvalidRamBlockException(spec.idstr(), "writeable shared mapping of read-only " + what
                    + " (set READONLY, or map it private)");
        }
        long need = offset + length;
        if (need < 0) {
            throw new InvalidRamBlockException(spec.idstr(), "offset 0x" + Long.toHexString(offset) + " + length 0x"
                    + Long.toHexString(length) + " overflows");
        }
        long size;
        try {
            size = LinuxCalls.fstatSize(fd);
        } catch (NativeCallException e) {
            throw new RamBackendException(spec.idstr(), "fstat of " + what, e);
        }
        if (size == 0 && !readOnlyFd) {
            try {
                LinuxCalls.ftruncate(fd, need); // QEMU's file_ram_alloc grows an empty file
            } catch (NativeCallException e) {
                throw new RamBackendException(spec.idstr(), "growing " + what + " to 0x" + Long.toHexString(need), e);
            }
        } else if (Long.compareUnsigned(size, need) < 0) {
            // Mapping beyond the end would "work" and SIGBUS on first touch (hazard 2): refuse now.
            throw new InvalidRamBlockException(spec.idstr(), what + " is 0x" + Long.toHexString(size)
                    + " bytes but the block needs [0x" + Long.toHexString(offset) + ", 0x" + Long.toHexString(need) + ")");
        }
        if (spec.prealloc() && !readOnlyFd) {
            try {
                LinuxCalls.fallocate(fd, 0, offset, length);
            } catch (NativeCallException e) {
                throw new RamBackendException(spec.idstr(), "preallocating 0x" + Long.toHexString(length) + " bytes of " + what, e);
            }
        }
        return mapFdBacked(spec, fd, offset, page, length, readOnlyFd);
    }

    /** Maps {@code fd}; closes it if mapping fails. */
    private static RamMapping mapFdBacked(RamSpec spec, int fd, long offset, long page, long length, boolean readOnlyFd) {
        int mapFlags = spec.shared() ? Linux.MAP_SHARED() : Linux.MAP_PRIVATE();
        MemorySegment host;
        long align = Math.max(spec.align(), page); // file_ram_alloc: mr->align = MAX(page_size, align)
        try {
            host = mmapAligned(spec, length, align, mapFlags, fd, offset, page > LinuxCalls.pageSize());
        } catch (RuntimeException e) {
            closeQuietly(fd);
            throw e;
        }
        return finish(spec, host, length, fd, offset, page, true, readOnlyFd, align);
    }

    private static RamMapping hostMemory(RamSpec spec, MemorySegment host) {
        if (!host.isNative()) {
            throw new InvalidRamBlockException(spec.idstr(), "host memory must be a native segment, got " + host);
        }
        if (!host.isAccessibleBy(NOT_AN_OWNER)) {
            // The block's view keeps this scope: vCPU, DMA and page-server threads could not use it.
            throw new InvalidRamBlockException(spec.idstr(), "host memory is confined to one thread: allocate it in a"
                    + " shared, automatic or global arena");
        }
        if (host.isReadOnly() && !spec.readOnly()) {
            // Likely a PROT_READ mapping: the engine's stores (guest writes, DMA) would fault.
            throw new InvalidRamBlockException(spec.idstr(), "host memory is a read-only segment: build the block readOnly()");
        }
        if (Long.compareUnsigned(host.byteSize(), spec.maxLength()) < 0) {
            throw new InvalidRamBlockException(spec.idstr(), "host memory is 0x" + Long.toHexString(host.byteSize())
                    + " bytes, block needs 0x" + Long.toHexString(spec.maxLength()));
        }
        if (spec.align() > 1 && (host.address() & (spec.align() - 1)) != 0) {
            throw new InvalidRamBlockException(spec.idstr(), "host memory at 0x" + Long.toHexString(host.address())
                    + " is not aligned to 0x" + Long.toHexString(spec.align()));
        }
        // The caller's segment, scope and all: once the caller frees the memory every access
        // through the block throws instead of touching it (a detached view was a SIGSEGV).
        MemorySegment view = host.asSlice(0, spec.maxLength());
        // QEMU leaves mr->align 0 for memory_region_init_ram_ptr; an alignment asked for was checked above
        long align = spec.align() > 1 ? spec.align() : 0;
        return new RamMapping(view, spec.maxLength(), -1, 0, LinuxCalls.pageSize(), false, false, false, align);
    }

    /** Applies hints and preallocation; unmaps and closes on failure. */
    private static RamMapping finish(RamSpec spec, MemorySegment host, long length, int fd, long fdOffset, long page,
                                     boolean owns, boolean readOnlyFd, long align) {
        RamMapping m = new RamMapping(host, length, fd, fdOffset, page, owns, false, readOnlyFd, align);
        boolean advised = false;
        try {
            if (spec.hugepages() && page == LinuxCalls.pageSize()) {
                try {
                    LinuxCalls.madvise(host, length, Linux.MADV_HUGEPAGE());
                    advised = true;
                } catch (NativeCallException e) {
                    advised = false; // a hint: kernels without THP say EINVAL, the block still works
                }
            }
            if (spec.prealloc()) {
                int advice = spec.readOnly() ? Linux.MADV_POPULATE_READ() : Linux.MADV_POPULATE_WRITE();
                try {
                    LinuxCalls.madvise(host, length, advice);
                } catch (NativeCallException e) {
                    throw new RamBackendException(spec.idstr(), "preallocating 0x" + Long.toHexString(length) + " bytes", e);
                }
            }
        } catch (RuntimeException e) {
            try {
                m.release();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return new RamMapping(host, length, fd, fdOffset, page, owns, advised, readOnlyFd, align);
    }

    /**
     * QEMU's {@code qemu_ram_mmap}: when the alignment exceeds the base page size, reserve
     * {@code length + align} bytes of PROT_NONE, map the block MAP_FIXED at the first aligned
     * address inside, and unmap the head and tail of the reservation.
     */
    private static MemorySegment mmapAligned(RamSpec spec, long length, long align, int mapFlags, int fd, long offset,
                                              boolean hugePageBacked) {
        int prot = Linux.PROT_READ() | (spec.readOnly() ? 0 : Linux.PROT_WRITE());
        long page = LinuxCalls.pageSize();
        // Huge pages: without MAP_NORESERVE, mmap reserves pool pages and fails with ENOMEM when the
        // pool is short; with it, the mapping succeeds and the first touch of a missing page is a
        // SIGBUS (hazard 2). So huge-page mappings reserve unless NORESERVE was asked for explicitly.
        boolean noreserve = spec.noreserve() && (!hugePageBacked || spec.noreserveExplicit());
        int flags = mapFlags | (noreserve ? Linux.MAP_NORESERVE() : 0);
        String what = "mapping 0x" + Long.toHexString(length) + " bytes" + (fd >= 0 ? " of fd at offset 0x" + Long.toHexString(offset) : "");
        try {
            if (align <= page) {
                return LinuxCalls.mmap(MemorySegment.NULL, length, prot, flags, fd, offset);
            }
            long total = length + align;
            if (total < 0) {
                throw new InvalidRamBlockException(spec.idstr(), "length 0x" + Long.toHexString(length) + " + alignment 0x"
                        + Long.toHexString(align) + " overflows");
            }
            MemorySegment guard = LinuxCalls.mmap(MemorySegment.NULL, total, Linux.PROT_NONE(),
                    Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS() | Linux.MAP_NORESERVE(), -1, 0);
            long base = guard.address();
            long aligned = alignUp(base, align);
            MemorySegment host;
            try {
                host = LinuxCalls.mmap(MemorySegment.ofAddress(aligned), length, prot, flags | Linux.MAP_FIXED(), fd, offset);
            } catch (NativeCallException e) {
                LinuxCalls.munmap(guard, total);
                throw e;
            }
            if (aligned > base) {
                LinuxCalls.munmap(MemorySegment.ofAddress(base), aligned - base);
            }
            long tail = base + total - (aligned + length);
            if (tail > 0) {
                LinuxCalls.munmap(MemorySegment.ofAddress(aligned + length), tail);
            }
            return host;
        } catch (NativeCallException e) {
            throw new RamBackendException(spec.idstr(), what, e);
        }
    }

    private static void checkOffset(RamSpec spec, long offset, long page) {
        if (offset < 0 || (offset & (page - 1)) != 0) {
            throw new InvalidRamBlockException(spec.idstr(), "file offset 0x" + Long.toHexString(offset)
                    + " is negative or not a multiple of the page size 0x" + Long.toHexString(page));
        }
    }

    static long alignUp(long value, long align) {
        return (value + align - 1) & -align;
    }

    private static void closeQuietly(int fd) {
        try {
            LinuxCalls.close(fd);
        } catch (NativeCallException ignored) {
            // already failing; the first error is the one to report
        }
    }

    private static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // best effort: the file was created by this failed call
        }
    }
}
