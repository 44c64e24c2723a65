package dev.guestmem.ram;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Describes a block before it is mapped. Defaults: anonymous, private, {@code NORESERVE}, not
 * resizeable, page alignment (2 MiB for anonymous blocks of 2 MiB or more, QEMU's
 * {@code QEMU_VMALLOC_ALIGN}), no hints. Memfd and fd backends default to shared.
 *
 * <p><b>Thread safety.</b> Not thread-safe; use from one thread, then {@link #build()}.
 */
public final class RamBlockBuilder {
    private final String idstr;
    private final long size;
    private RamBackend backend = new RamBackend.Anonymous();
    private Boolean shared;
    private int flags = RamFlags.NORESERVE;
    private boolean noreserveExplicit;
    private int badFlags;
    private long maxLength;
    private RamBlock.ResizeCallback resized;
    private long align = 1;
    private boolean hugepages;
    private boolean prealloc;

    RamBlockBuilder(String idstr, long size) {
        this.idstr = Objects.requireNonNull(idstr, "idstr");
        this.size = size;
    }

    /**
     * Chooses the backend.
     *
     * @param b the backend
     * @return this builder
     */
    public RamBlockBuilder backend(RamBackend b) {
        this.backend = Objects.requireNonNull(b, "backend");
        return this;
    }

    /** @return this builder, with anonymous memory */
    public RamBlockBuilder anonymous() {
        return backend(new RamBackend.Anonymous());
    }

    /** @return this builder, with a sealed memfd (shared by default) */
    public RamBlockBuilder memfd() {
        return backend(new RamBackend.Memfd(false));
    }

    /**
     * Uses a file at offset 0, created if missing (private unless {@link #shared(boolean)}).
     *
     * @param path the file
     * @return this builder
     */
    public RamBlockBuilder file(Path path) {
        return backend(new RamBackend.File(path, 0, true));
    }

    /**
     * Uses an existing file at an offset.
     *
     * @param path the file
     * @param offset where the block starts in it, page aligned
     * @return this builder
     */
    public RamBlockBuilder file(Path path, long offset) {
        return backend(new RamBackend.File(path, offset, false));
    }

    /**
     * Uses a descriptor the caller holds (duplicated; shared by default).
     *
     * @param fd the descriptor
     * @param offset where the block starts in its file, page aligned
     * @return this builder
     */
    public RamBlockBuilder fd(int fd, long offset) {
        return backend(new RamBackend.Fd(fd, offset));
    }

    /**
     * Uses caller-owned memory ({@code qemu_ram_alloc_from_ptr}).
     *
     * @param host native memory of at least the size
     * @return this builder
     */
    public RamBlockBuilder host(MemorySegment host) {
        return backend(new RamBackend.Host(host));
    }

    /**
     * Uses caller-owned device memory ({@code memory_region_init_ram_device_ptr}).
     *
     * @param host native device memory of at least the size
     * @return this builder
     */
    public RamBlockBuilder ramDevice(MemorySegment host) {
        return backend(new RamBackend.RamDevice(host));
    }

    /**
     * Maps {@code MAP_SHARED} (true) or {@code MAP_PRIVATE} (false) ({@code share=on|off}).
     *
     * @param on whether to share
     * @return this builder
     */
    public RamBlockBuilder shared(boolean on) {
        this.shared = on;
        return this;
    }

    /** @return this builder, with a read-only mapping of a read-only fd ({@code readonly=on}) */
    public RamBlockBuilder readOnly() {
        flags |= RamFlags.READONLY | RamFlags.READONLY_FD;
        return this;
    }

    /**
     * Reserves swap for the mapping (false) or not ({@code MAP_NORESERVE}, the default except for
 * huge-page backings, which reserve pool pages at mmap unless this is set explicitly).
     *
     * @param on whether to skip the reservation
     * @return this builder
     */
    public RamBlockBuilder noreserve(boolean on) {
        flags = on ? flags | RamFlags.NORESERVE : flags & ~RamFlags.NORESERVE;
        noreserveExplicit = on;
        return this;
    }

    /**
     * Sets QEMU {@code RAM_*} bits ({@link RamFlags}); replaces earlier flag choices, and
     * {@link RamFlags#SHARED} decides sharing unless {@link #shared(boolean)} is called later.
     *
     * @param ramFlags the bits; unknown bits make {@link #build()} fail
     * @return this builder
     */
    public RamBlockBuilder flags(int ramFlags) {
        this.badFlags = ramFlags & ~RamFlags.ALLOWED;
        this.flags = ramFlags & RamFlags.ALLOWED;
        this.noreserveExplicit = (ramFlags & RamFlags.NORESERVE) != 0;
        this.shared = (ramFlags & RamFlags.SHARED) != 0;
        if ((ramFlags & RamFlags.RESIZEABLE) != 0 && maxLength == 0) {
            maxLength = size;
        }
        return this;
    }

    /**
     * Makes the block resizeable up to {@code maxLength} ({@code qemu_ram_alloc_resizeable}):
     * the whole maximum is reserved up front with {@code MAP_NORESERVE}.
     *
     * @param maxLength bytes to reserve, at least the size
     * @param callback told of each new used length, or null
     * @return this builder
     */
    public RamBlockBuilder resizeable(long maxLength, RamBlock.ResizeCallback callback) {
        this.flags |= RamFlags.RESIZEABLE | RamFlags.NORESERVE;
        this.maxLength = maxLength;
        this.resized = callback;
        return this;
    }

    /**
     * Aligns the host address ({@code qemu_ram_mmap}'s align), a power of two. The block reports
     * what it got, this or more, as {@link RamBlock#alignment()}.
     *
     * @param bytes the alignment
     * @return this builder
     */
    public RamBlockBuilder align(long bytes) {
        this.align = bytes;
        return this;
    }

    /** @return this builder, advising transparent huge pages ({@code MADV_HUGEPAGE}); hugetlbfs files and {@code MFD_HUGETLB} memfds use huge pages anyway */
    public RamBlockBuilder hugepages() {
        this.hugepages = true;
        return this;
    }

    /** @return this builder, allocating the file's blocks ({@code fallocate}) and populating every page up front ({@code prealloc=on}) */
    public RamBlockBuilder prealloc() {
        this.prealloc = true;
        return this;
    }

    /**
     * Validates, maps and returns the block.
     *
     * @return the new block, not yet in any {@link RamList}
     * @throws InvalidRamBlockException for bad arguments (nothing is mapped or opened)
     * @throws RamBackendException if a syscall fails (everything done so far is undone)
     */
    public RamBlock build() {
        RamSpec spec = validate();
        RamMapping m = RamMapper.map(spec);
        return RamBlock.create(spec, m, resized);
    }

    private RamSpec validate() {
        if (badFlags != 0) {
            throw new InvalidRamBlockException(idstr, "unknown or unsupported RAM flags 0x" + Integer.toHexString(badFlags)
                    + " (allowed: " + RamFlags.toString(RamFlags.ALLOWED) + ")");
        }
        long limit = Long.MAX_VALUE - (1L << 30); // room for page and alignment rounding
        if (size <= 0 || size > limit) {
            throw new InvalidRamBlockException(idstr, "size 0x" + Long.toHexString(size) + " must be > 0 and <= 0x"
                    + Long.toHexString(limit));
        }
        long max = (flags & RamFlags.RESIZEABLE) != 0 ? maxLength : size;
        if (max < size || max > limit) {
            throw new InvalidRamBlockException(idstr, "max length 0x" + Long.toHexString(max) + " is below the size 0x"
                    + Long.toHexString(size) + " or above 0x" + Long.toHexString(limit));
        }
        if (align <= 0 || (align & (align - 1)) != 0 || align > (1L << 30)) {
            throw new InvalidRamBlockException(idstr, "alignment 0x" + Long.toHexString(align) + " is not a power of two <= 1 GiB");
        }
        boolean isShared = shared != null ? shared
                : backend instanceof RamBackend.Memfd || backend instanceof RamBackend.Fd;
        int f = isShared ? flags | RamFlags.SHARED : flags & ~RamFlags.SHARED;
        if (backend instanceof RamBackend.Memfd && (f & RamFlags.READONLY) != 0) {
            throw new InvalidRamBlockException(idstr, "a read-only memfd block would hold only zeros");
        }
        if (backend instanceof RamBackend.Anonymous && (f & RamFlags.READONLY) != 0) {
            // QEMU asserts against RAM_READONLY for anonymous RAM: it could only ever read zeros
            throw new InvalidRamBlockException(idstr, "a read-only anonymous block would hold only zeros");
        }
        return new RamSpec(idstr, backend, f, size, max, align, hugepages, prealloc, noreserveExplicit);
    }
}
