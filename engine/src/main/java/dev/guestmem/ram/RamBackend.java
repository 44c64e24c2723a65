package dev.guestmem.ram;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a {@link RamBlock}'s bytes come from: the closed set of QEMU's RAM allocators.
 * <ul>
 *   <li>{@link Anonymous}: {@code qemu_anon_ram_alloc}, private (or shared-anonymous) memory;</li>
 *   <li>{@link Memfd}: {@code memory-backend-memfd}, a sealed memfd that can be passed to another
 *       process;</li>
 *   <li>{@link File}: {@code memory-backend-file} / {@code qemu_ram_alloc_from_file}, a path
 *       (regular file, tmpfs or hugetlbfs) mapped at an offset;</li>
 *   <li>{@link Fd}: {@code qemu_ram_alloc_from_fd}, a descriptor the caller already has (the block
 *       duplicates it and closes only its copy);</li>
 *   <li>{@link Host}: {@code qemu_ram_alloc_from_ptr}, caller-owned memory ({@link RamFlags#PREALLOC}),
 *       never unmapped by the block;</li>
 *   <li>{@link RamDevice}: {@code memory_region_init_ram_device_ptr}, caller-owned device memory
 *       (a BAR of an assigned device) that must be accessed with the guest's access sizes.</li>
 * </ul>
 * Whether the mapping is shared, read-only or resizeable is a {@link RamFlags flag} on the
 * {@link RamBlockBuilder}, as in QEMU, not part of the backend.
 *
 * <p><b>Thread safety.</b> Immutable values.
 */
public sealed interface RamBackend {

    /** @return anonymous memory */
    static RamBackend anonymous() {
        return new Anonymous();
    }

    /** @return a memfd named after the block, with size seals */
    static RamBackend memfd() {
        return new Memfd(false);
    }

    /**
     * A file at offset 0, created if missing.
     *
     * @param path the file
     * @return the backend
     */
    static RamBackend file(Path path) {
        return new File(path, 0, true);
    }

    /**
     * Anonymous private memory ({@code mmap(MAP_PRIVATE|MAP_ANONYMOUS)}), or shared-anonymous
     * memory with {@link RamFlags#SHARED} (visible to children only).
     */
    record Anonymous() implements RamBackend {
    }

    /**
     * A memfd ({@code memfd_create(idstr, MFD_CLOEXEC|MFD_ALLOW_SEALING)}) sized to the block's max
     * length and sealed against shrinking and growing ({@code F_SEAL_SHRINK|F_SEAL_GROW}), so that a
     * process it is passed to cannot truncate it under this mapping (hazard 2).
     *
     * @param hugetlb {@code MFD_HUGETLB}: back it with the hugetlb pool (huge page size, no seals on
     *     growth beyond the pool)
     */
    record Memfd(boolean hugetlb) implements RamBackend {
    }

    /**
     * A file mapped at {@code offset}. An empty writeable file is grown to {@code offset + maxLength}
     * (QEMU's {@code file_ram_alloc}); a non-empty one must already cover that range.
     *
     * @param path the file; on a hugetlbfs mount the block's page size is the mount's page size
     * @param offset where the block starts in the file, a multiple of the page size
     * @param create create the file if it does not exist
     */
    record File(Path path, long offset, boolean create) implements RamBackend {
        /** Checks the path is given. */
        public File {
            Objects.requireNonNull(path, "path");
        }
    }

    /**
     * A descriptor the caller already holds. The block {@code dup}s it, so the caller keeps and
     * closes its own descriptor; the block closes only its copy.
     *
     * @param fd the descriptor
     * @param offset where the block starts in the file, a multiple of the page size
     */
    record Fd(int fd, long offset) implements RamBackend {
    }

    /**
     * Memory the caller owns ({@code RAM_PREALLOC}); the block never frees it. The block's view of
     * it keeps {@code host}'s scope: once the caller closes its arena, accesses through the block
     * throw {@link IllegalStateException} (or answer an error on the access paths) rather than
     * touch freed memory. A read-only segment needs a block built {@code readOnly()}; a segment
     * confined to one thread is refused (the engine accesses the block from many).
     *
     * @param host native memory of at least the block's max length
     */
    record Host(MemorySegment host) implements RamBackend {
        /** Checks the memory is given. */
        public Host {
            Objects.requireNonNull(host, "host");
        }
    }

    /**
     * Device memory the caller owns ({@code memory_region_init_ram_device_ptr}): like {@link Host},
     * and regions over it must access it with the guest's access sizes, never bulk copies.
     *
     * @param host native device memory of at least the block's max length
     */
    record RamDevice(MemorySegment host) implements RamBackend {
        /** Checks the memory is given. */
        public RamDevice {
            Objects.requireNonNull(host, "host");
        }
    }
}
