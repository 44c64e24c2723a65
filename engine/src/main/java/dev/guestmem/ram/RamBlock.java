package dev.guestmem.ram;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.internal.ByteOrderLayouts;
import dev.guestmem.internal.SigbusFence;
import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Guest RAM: the host memory behind RAM, ROM and ROM-device regions, as QEMU's {@code RAMBlock}
 * ({@code system/physmem.c}). Its bytes are a native {@link MemorySegment} that belongs to a shared
 * {@link Arena} owned by the block.
 *
 * <h2 id="create">Creating blocks</h2>
 * {@snippet lang=java :
 * RamBlock ram = RamBlock.anonymous("pc.ram", 1L << 30);                  // qemu_ram_alloc
 * RamBlock shared = RamBlock.builder("mem0", 256L << 20).memfd().build();  // memory-backend-memfd
 * RamBlock pmem = RamBlock.builder("nvdimm0", 64L << 20)
 *         .file(Path.of("/dev/shm/nvdimm0"))                                 // memory-backend-file
 *         .shared(true)
 *         .prealloc()
 *         .build();
 * RamBlock vram = RamBlock.builder("vga.vram", 8L << 20)
 *         .resizeable(64L << 20, (id, size, host) -> System.out.println(id + " now " + size))
 *         .build();
 * }
 * Bad arguments throw {@link InvalidRamBlockException}; kernel failures throw
 * {@link RamBackendException} with the call and errno. Either way nothing stays mapped or open.
 *
 * <h2 id="lengths">Lengths and addresses</h2>
 * {@link #maxLength()} bytes are reserved up front (page aligned, {@code MAP_NORESERVE} unless
 * {@code noreserve(false)}); {@link #usedLength()} is the size in use, as requested (QEMU keeps the
 * region size unaligned too) and changes only through {@link #resize(long)} on resizeable blocks.
 * {@link #offset()} is the block's place in its {@link RamList}'s ram_addr space.
 *
 * <h2 id="lifetime">Lifetime</h2>
 * A block starts with one reference, the creator's, dropped by {@link #close()}. Holders that may
 * outlive the creator's use (a region, a DMA mapping) take {@link #ref()} and drop it with
 * {@link #unref()}, like QEMU's owner reference counting; a walker that found the block in a list
 * uses {@link #tryRef()} (or {@link RamList#holdBlocks()}), since it may race with the release. When the last reference goes the block
 * leaves its list and its arena closes; closing waits until no thread is inside an access to the
 * segment, then unmaps and closes the fd, exactly once. After that any access through
 * {@link #segment()} fails with {@link IllegalStateException} instead of touching unmapped memory.
 * Memory the caller owns ({@link RamBackend.Host}, {@link RamBackend.RamDevice}) is the exception:
 * the block's segments keep the caller's segment's scope, so they fail with
 * {@link IllegalStateException} once the caller frees the memory (closes its arena), whether or not
 * the block is released; releasing the block frees nothing of it.
 * Closing a shared arena costs tens of microseconds and deoptimises other threads' frames: release
 * blocks rarely, never per access.
 *
 * <h2 id="sigbus">SIGBUS</h2>
 * A file truncated under a mapping makes the kernel raise SIGBUS on the missing pages, and so does
 * the first write to a page with no disk block yet (any read, on tmpfs) when the file system is
 * full; the JDK turns that into {@code InternalError}. The checked accessors ({@link #read}, {@link #write},
 * {@link #ldqHe}, {@link #stqHe}, {@link #ldlHe}, {@link #stlHe}) catch it, mark the block
 * {@linkplain #isBroken() broken} and report a clear error. They make each access a real call (a
 * few ns) because HotSpot reports the fault asynchronously, at the next safepoint poll: an access
 * inlined into a hot loop would surface the error outside any {@code try} around it. Raw
 * {@link #segment()} accesses get no such help: their callers must be ready for
 * {@code InternalError} themselves, and pass it to {@link #reportFault} to mark the block broken. Creation prevents what it can: the file
 * must cover the block, memfds are sealed against shrinking and growing, and {@code prealloc()}
 * allocates the file's blocks up front, so a full disk fails {@link RamBlockBuilder#build()} with
 * {@link RamBackendException} (ENOSPC from {@code fallocate}) instead of faulting later. A full
 * disk found by {@link #msync(long, long)} is a {@link RamBackendException} there.
 *
 * <p><b>Thread safety.</b> Accessors and the checked access methods may be called from any thread
 * without locking. {@link #resize(long)} is a topology change: call it under the owning system's
 * lock; it publishes the new length and segment with volatile stores. {@link #ref()},
 * {@link #unref()} and {@link #close()} are atomic and may race with each other and with accesses.
 */
public final class RamBlock implements AutoCloseable {
    /** QEMU's {@code RAM_ADDR_INVALID}: no block holds this ram address / host address. */
    public static final long RAM_ADDR_INVALID = -1L;

    private static final VarHandle BROKEN_REASON;

    static {
        try {
            BROKEN_REASON = MethodHandles.lookup().findVarHandle(RamBlock.class, "brokenReason", String.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String idstr;
    private final RamBackend backend;
    /** An fd backend that is a memfd sealed against shrinking: no page can vanish under the mapping. */
    private final boolean shrinkSealedFd;
    private final int flags;
    private final long maxLength;
    private final RamMapping mapping;
    private final Arena arena;
    /** The whole reservation, {@code maxLength} bytes, in {@link #arena}. */
    private final MemorySegment maxSegment;
    private final ResizeCallback resized;
    private final AtomicInteger refs = new AtomicInteger(1);
    private final AtomicBoolean creatorReleased = new AtomicBoolean();

    /** Size in use; volatile: written by {@link #resize} under the system lock, read anywhere. */
    private volatile long usedLength;
    /** {@link #maxSegment} cut to {@link #usedLength}; republished with it. */
    private volatile MemorySegment usedSegment;
    /** Why the block is broken, or null; set once by {@link #BROKEN_REASON} CAS (the first fault's diagnosis), never cleared. */
    private volatile String brokenReason;
    /** msync and discard, with the lock that serialises msyncs and the first msync failure. */
    private final RamWriteback writeback;
    /** Place in the owning list's ram_addr space; written by {@link RamList} under its lock. */
    private volatile long offset;
    /** The list holding the block, or null; written by {@link RamList} under its lock. */
    private volatile RamList list;
    /** Open {@link FaultProneHold}s; a block with any is fault-prone whatever its backend. */
    private final AtomicInteger faultProneHolds = new AtomicInteger();
    /** The reason of the latest hold, for the SIGBUS diagnosis; null until the first hold. */
    private volatile String faultProneReason;
    /** Which other process may map this block's memory ({@link #noteMappedElsewhere}), or null; never cleared. */
    private volatile String mappedElsewhere;

    /**
     * Called after a resizeable block's used length changed, like QEMU's {@code resized} hook
     * passed to {@code qemu_ram_alloc_resizeable}.
     */
    @FunctionalInterface
    public interface ResizeCallback {
        /**
         * Reports a new used length.
         *
         * @param idstr the block name
         * @param newSize the new used length as requested (unaligned)
         * @param host the block's whole reservation
         */
        void resized(String idstr, long newSize, MemorySegment host);
    }

    /** For {@link RamBlockBuilder#build()}: a block over a fresh mapping of {@code spec}. */
    static RamBlock create(RamSpec spec, RamMapping mapping, ResizeCallback resized) {
        return new RamBlock(spec, mapping, resized);
    }

    private RamBlock(RamSpec spec, RamMapping mapping, ResizeCallback resized) {
        this.idstr = spec.idstr();
        this.backend = spec.backend();
        int f = spec.flags();
        if (backend instanceof RamBackend.Host || backend instanceof RamBackend.RamDevice) {
            f |= RamFlags.PREALLOC;
        }
        if (mapping.readOnlyFd()) {
            f |= RamFlags.READONLY_FD;
        }
        this.flags = f;
        this.maxLength = mapping.mappedLength();
        this.mapping = mapping;
        this.shrinkSealedFd = backend instanceof RamBackend.Fd && shrinkSealed(mapping.fd());
        this.resized = resized;
        this.arena = Arena.ofShared();
        // The arena's close runs the cleanup once, after the JDK has waited out every thread that
        // was inside an access: that is what makes release safe against concurrent readers.
        // Caller-owned memory (host, RAM device) keeps the caller's scope instead: the block never
        // frees it, and the caller's arena is what can free it under the block's users.
        MemorySegment whole = mapping.ownsMemory()
                ? mapping.host().reinterpret(maxLength, arena, ignored -> mapping.release())
                : mapping.host();
        // A PROT_READ mapping: a store would be a SIGSEGV, so the segments refuse stores themselves
        // (the JDK throws IllegalArgumentException), whoever holds them.
        this.maxSegment = (f & RamFlags.READONLY) != 0 ? whole.asReadOnly() : whole;
        this.usedLength = spec.usedLength();
        this.usedSegment = maxSegment.asSlice(0, spec.usedLength());
        this.writeback = new RamWriteback(idstr, backend, mapping, maxSegment, (f & RamFlags.SHARED) != 0);
    }

    /**
     * Allocates anonymous private RAM ({@code qemu_ram_alloc}), reserved lazily.
     *
     * @param idstr block name
     * @param size size in bytes, &gt; 0
     * @return the block
     * @throws InvalidRamBlockException for size 0 or a size that overflows when page aligned
     * @throws RamBackendException if mmap fails
     */
    public static RamBlock anonymous(String idstr, long size) {
        return builder(idstr, size).build();
    }

    /**
     * Starts describing a block; anonymous private memory unless a backend is chosen.
     *
     * @param idstr block name, unique within a {@link RamList}
     * @param size used length in bytes, &gt; 0
     * @return a builder
     */
    public static RamBlockBuilder builder(String idstr, long size) {
        return new RamBlockBuilder(idstr, size);
    }

    // ------------------------------------------------------------------ accessors

    /** @return the block's name ({@code RAMBlock.idstr}) */
    public String idstr() {
        return idstr;
    }

    /** @return where the bytes come from */
    public RamBackend backend() {
        return backend;
    }

    /** @return the {@link RamFlags} bits in force (including implied PREALLOC and READONLY_FD) */
    public int flags() {
        return flags;
    }

    /** @return bytes in use, as requested (not page aligned) */
    public long usedLength() {
        return usedLength;
    }

    /** @return bytes reserved, page aligned; equal to the aligned used length unless resizeable */
    public long maxLength() {
        return maxLength;
    }

    /** @return host page size backing the block ({@code qemu_ram_pagesize}): 4 KiB, or the huge page size */
    public long pageSize() {
        return mapping.pageSize();
    }

    /**
     * Returns the alignment of the host address ({@code memory_region_get_alignment}, QEMU's
     * {@code mr->align} as the allocation sets it): the requested {@link RamBlockBuilder#align}, or
     * more. Anonymous memory gets 2 MiB ({@code QEMU_VMALLOC_ALIGN}) when the block is at least that
     * big, else the page size (QEMU gives 2 MiB to every size); file, fd and memfd blocks at least
     * the file's page size, the huge page size on hugetlbfs ({@code file_ram_alloc}). Memory the
     * caller owns has 0 unless an alignment was asked for (QEMU: 0 for
     * {@code memory_region_init_ram_ptr}). Fixed for the block's life: resizing keeps the reservation.
     *
     * @return a power of two, or 0 for caller-owned memory without a requested alignment
     */
    public long alignment() {
        return mapping.align();
    }

    /**
     * Returns the memory in use: {@link #usedLength()} bytes in the block's shared arena (for memory
     * the caller owns: in the caller's scope). Accesses after the block is released (after the
     * caller frees its memory) throw {@link IllegalStateException}; accesses to a page whose file
     * was truncated throw {@code InternalError} (use the checked accessors to turn that into an error).
     *
     * @return the host memory ({@code RAMBlock.host}, {@code qemu_map_ram_ptr})
     */
    public MemorySegment segment() {
        return usedSegment;
    }

    /** @return the whole reservation, {@link #maxLength()} bytes, in the block's arena */
    public MemorySegment maxSegment() {
        return maxSegment;
    }

    /** @return the host address of byte 0 */
    public long hostAddress() {
        return maxSegment.address();
    }

    /**
     * Returns the block's offset in its list's ram_addr space ({@code RAMBlock.offset}); 0 while no
     * {@link RamList} holds it (as if it were alone in a list, where QEMU would also place it at 0).
     *
     * @return the ram_addr of byte 0
     */
    public long offset() {
        return offset;
    }

    /** @return the list holding the block, or null */
    public RamList ramList() {
        return list;
    }

    /**
     * Returns the descriptor behind the block ({@code qemu_get_ram_fd}), -1 if none; closed when the
     * block is released, so {@code dup} it to keep it.
     *
     * <p>Write back through {@link #msync(long, long)}, not with your own {@code fsync},
     * {@code fdatasync} or {@code msync} on this descriptor or on the block's memory: the kernel
     * reports a write-back error once per open file, so a call of your own can consume the one
     * report, and the block's next {@link #msync(long, long)} then succeeds without the data
     * reaching the file.
     *
     * @return the descriptor, or -1
     */
    public int fd() {
        return mapping.fd();
    }

    /** @return where the mapping starts in the fd's file ({@code qemu_ram_get_fd_offset}) */
    public long fdOffset() {
        return mapping.fdOffset();
    }

    /** @return whether writes reach other mappers of the fd ({@code qemu_ram_is_shared}) */
    public boolean isShared() {
        return (flags & RamFlags.SHARED) != 0;
    }

    /** @return whether the mapping is read-only */
    public boolean isReadOnly() {
        return (flags & RamFlags.READONLY) != 0;
    }

    /** @return whether {@link #resize(long)} may change the used length ({@code qemu_ram_is_resizeable}) */
    public boolean isResizeable() {
        return (flags & RamFlags.RESIZEABLE) != 0;
    }

    /** @return whether this is RAM device memory (access with guest access sizes only) */
    public boolean isRamDevice() {
        return backend instanceof RamBackend.RamDevice;
    }

    /** @return whether {@code MADV_HUGEPAGE} was asked for and accepted */
    public boolean isHugepageAdvised() {
        return mapping.hugepageAdvised();
    }

    /** @return whether the last reference is gone and the memory unmapped */
    public boolean isReleased() {
        return !arena.scope().isAlive();
    }

    /**
     * Whether an access to the block's memory can raise SIGBUS: any file-like backend (a truncated
     * file, a full file system, an I/O error), huge pages (an empty pool), and any block while a
     * {@link FaultProneHold} is open (anonymous memory whose missing pages a lazy restore may
     * poison). Address spaces send accesses to such blocks through a fenced path that turns the
     * fault into {@code MEMTX_ERROR}; anonymous memory and small-page memfds otherwise keep the
     * direct, inlined path, and so does an fd given with {@link RamBlockBuilder#fd} when it is a
     * memfd sealed against shrinking ({@code F_SEAL_SHRINK}, as guestmem's own and QEMU's
     * {@code memory-backend-memfd} are): no page can vanish under the mapping. Read when an address
     * space's dispatch is built.
     *
     * @return whether accesses need the fence
     */
    public boolean canFault() {
        if (mapping.pageSize() > 4096 || faultProneHolds.get() > 0) {
            return true;
        }
        return !(backend instanceof RamBackend.Anonymous || backend instanceof RamBackend.Memfd || shrinkSealedFd);
    }

    /** Whether {@code fd} is a memfd sealed against shrinking; false for anything without seals. */
    private static boolean shrinkSealed(int fd) {
        if (fd < 0) {
            return false;
        }
        try {
            return (LinuxCalls.getSeals(fd) & Linux.F_SEAL_SHRINK()) != 0;
        } catch (NativeCallException e) {
            return false; // EINVAL: not a file that takes seals (a regular file, a tmpfs file)
        }
    }

    /**
     * Treats the block as {@linkplain #canFault() able to fault} until the returned hold is closed:
     * for memory whose pages may be poisoned although its backend cannot fault, as a lazy restore's
     * (which takes a hold for each block it restores from a {@code SnapshotBlock.of(RamBlock)}).
     * The first open hold, and the close of the last, make the owning system re-render its views, so
     * every address space's dispatch, soft-TLB generation and fast window follow (a topology commit:
     * do not call it per access). Take the hold before the pages can fault.
     *
     * <p>Caches made before the hold keep what they decided: re-initialise a
     * {@code MemoryRegionCache}, and drop host pointers taken from {@code DmaMapping}s or
     * {@link #segment()}; their accesses are the caller's to fence.
     *
     * @param reason why, for diagnostics (shown in the SIGBUS diagnosis of {@link #brokenReason()})
     * @return the hold; close it when no page can fault any more
     * @throws IllegalStateException if the block is released, or its system has a transaction open on
     *     this thread or is calling one of its memory listeners (the fence would only reach the views
     *     later)
     */
    public FaultProneHold holdFaultProne(String reason) {
        Objects.requireNonNull(reason, "reason");
        if (isReleased()) {
            throw released("holdFaultProne");
        }
        if (faultProneHolds.getAndIncrement() == 0) {
            try {
                faultProneChanged();
            } catch (RuntimeException e) {
                faultProneHolds.decrementAndGet(); // refused (an open transaction): nothing changed
                throw e;
            }
        }
        faultProneReason = reason;
        return new FaultProneHold(this, reason);
    }

    /** @return the number of open {@link FaultProneHold}s (diagnostics) */
    public int faultProneHolds() {
        return faultProneHolds.get();
    }

    void releaseFaultProne() {
        if (faultProneHolds.decrementAndGet() == 0) {
            faultProneChanged();
        }
    }

    private void faultProneChanged() {
        RamList l = list;
        if (l != null) {
            l.notifyFaultProneChanged(this);
        }
    }

    /**
     * Records that another process may map this block's memory: the engine handed its descriptor
     * to that process ({@code RamShareServer}), or mapped a descriptor that process sent
     * ({@code SharedMachine.attach}). Never cleared: a mapping outlives the descriptor and the
     * connection it came by, and nothing tells this process when it goes. A lazy restore refuses
     * such a block unless told the other mappings stay untouched ({@code LazyRestore.Options}).
     * Descriptors passed on by other means ({@link #fd()} to a vhost-user backend, QEMU, a child)
     * are not seen.
     *
     * @param who the other process, for messages (the first one recorded is kept)
     */
    public void noteMappedElsewhere(String who) {
        if (mappedElsewhere == null) { // two racing notes: either name does
            mappedElsewhere = java.util.Objects.requireNonNull(who, "who");
        }
    }

    /** @return which other process may map this block's memory ({@link #noteMappedElsewhere}), or null */
    public String mappedElsewhere() {
        return mappedElsewhere;
    }

    /** @return whether a checked access, or an engine access path ({@link #reportFault}), hit SIGBUS (backing store gone) */
    public boolean isBroken() {
        return brokenReason != null;
    }

    /** @return why the block is broken, or null */
    public String brokenReason() {
        return brokenReason;
    }

    /**
     * Tells whether a host address lies in the reservation ({@code host - block->host < max_length}).
     *
     * @param hostAddress a host address
     * @return true if it is inside
     */
    public boolean containsHost(long hostAddress) {
        return Long.compareUnsigned(hostAddress - maxSegment.address(), maxLength) < 0;
    }

    // ------------------------------------------------------------------ checked access

    /**
     * Copies block bytes out, turning SIGBUS into an error: the bulk read of the access path.
     *
     * @param ramOffset first byte in the block
     * @param dst destination
     * @param dstOffset where in {@code dst}
     * @param length bytes
     * @return {@link MemTxResult#OK}; {@link MemTxResult#DECODE_ERROR} if the range is outside the
     *     used length; {@link MemTxResult#ERROR} if the block is broken or released
     * @throws IndexOutOfBoundsException if {@code [dstOffset, dstOffset + length)} is outside {@code dst}
     *     (the caller's buffer, as AddressSpace's buffer accesses)
     * @implNote Allocation-free unless the access faults.
     */
    public int read(long ramOffset, MemorySegment dst, long dstOffset, long length) {
        if (!inUse(ramOffset, length)) {
            return MemTxResult.DECODE_ERROR;
        }
        if (brokenReason != null) {
            return MemTxResult.ERROR;
        }
        try {
            SigbusFence.copy(usedSegment, ramOffset, dst, dstOffset, length);
            return MemTxResult.OK;
        } catch (InternalError e) {
            markBroken(ramOffset, length, e);
            return MemTxResult.ERROR;
        } catch (IllegalStateException released) {
            return MemTxResult.ERROR;
        }
    }

    /**
     * Copies bytes into the block, turning SIGBUS into an error.
     *
     * @param ramOffset first byte in the block
     * @param src source
     * @param srcOffset where in {@code src}
     * @param length bytes
     * @return {@link MemTxResult#OK}; {@link MemTxResult#DECODE_ERROR} if the range is outside the
     *     used length; {@link MemTxResult#ACCESS_ERROR} if the mapping is read-only;
     *     {@link MemTxResult#ERROR} if the block is broken or released
     * @throws IndexOutOfBoundsException if {@code [srcOffset, srcOffset + length)} is outside {@code src}
     * @implNote Allocation-free unless the access faults.
     */
    public int write(long ramOffset, MemorySegment src, long srcOffset, long length) {
        if (!inUse(ramOffset, length)) {
            return MemTxResult.DECODE_ERROR;
        }
        if (isReadOnly()) {
            return MemTxResult.ACCESS_ERROR;
        }
        if (brokenReason != null) {
            return MemTxResult.ERROR;
        }
        try {
            SigbusFence.copy(src, srcOffset, usedSegment, ramOffset, length);
            return MemTxResult.OK;
        } catch (InternalError e) {
            markBroken(ramOffset, length, e);
            return MemTxResult.ERROR;
        } catch (IllegalStateException released) {
            return MemTxResult.ERROR;
        }
    }

    /**
     * Loads 8 bytes in host byte order ({@code ldq_he_p}) with SIGBUS checking.
     *
     * @param ramOffset byte offset in the block
     * @return the value
     * @throws RamBlockBrokenException if the backing store is gone (now or before)
     * @throws IndexOutOfBoundsException outside the used length
     * @throws IllegalStateException after release
     */
    public long ldqHe(long ramOffset) {
        checkNotBroken();
        try {
            return SigbusFence.get(usedSegment, ramOffset, 8, ByteOrderLayouts.HOST_BIG);
        } catch (InternalError e) {
            throw markBroken(ramOffset, 8, e);
        }
    }

    /**
     * Stores 8 bytes in host byte order ({@code stq_he_p}) with SIGBUS checking.
     *
     * @param ramOffset byte offset in the block
     * @param value the value
     * @throws RamBlockBrokenException if the backing store is gone (now or before)
     * @throws IndexOutOfBoundsException outside the used length
     * @throws IllegalStateException after release
     * @throws UnsupportedOperationException if the mapping is read-only
     */
    public void stqHe(long ramOffset, long value) {
        checkNotBroken();
        checkWritable();
        try {
            SigbusFence.set(usedSegment, ramOffset, 8, ByteOrderLayouts.HOST_BIG, value);
        } catch (InternalError e) {
            throw markBroken(ramOffset, 8, e);
        }
    }

    /**
     * Loads 4 bytes in host byte order ({@code ldl_he_p}) with SIGBUS checking.
     *
     * @param ramOffset byte offset in the block
     * @return the value
     * @throws RamBlockBrokenException if the backing store is gone (now or before)
     * @throws IndexOutOfBoundsException outside the used length
     * @throws IllegalStateException after release
     */
    public int ldlHe(long ramOffset) {
        checkNotBroken();
        try {
            return (int) SigbusFence.get(usedSegment, ramOffset, 4, ByteOrderLayouts.HOST_BIG);
        } catch (InternalError e) {
            throw markBroken(ramOffset, 4, e);
        }
    }

    /**
     * Stores 4 bytes in host byte order ({@code stl_he_p}) with SIGBUS checking.
     *
     * @param ramOffset byte offset in the block
     * @param value the value
     * @throws RamBlockBrokenException if the backing store is gone (now or before)
     * @throws IndexOutOfBoundsException outside the used length
     * @throws IllegalStateException after release
     * @throws UnsupportedOperationException if the mapping is read-only
     */
    public void stlHe(long ramOffset, int value) {
        checkNotBroken();
        checkWritable();
        try {
            SigbusFence.set(usedSegment, ramOffset, 4, ByteOrderLayouts.HOST_BIG, value);
        } catch (InternalError e) {
            throw markBroken(ramOffset, 4, e);
        }
    }

    /**
     * Records a SIGBUS that an access to {@link #segment()} outside the checked accessors got, and
     * marks the block {@linkplain #isBroken() broken} with the same diagnosis as they give ("the file
     * system holding the backing file is full", "the file is 0x0 bytes ..."). For the engine's access
     * paths, which access RAM directly and turn the fault into {@link MemTxResult#ERROR}: a fault
     * there must break the block even where re-reading the address would not fault again (on ext4 a
     * hole reads as zeros; only a write needs a block). Callers must not retry the access.
     *
     * <p>Idempotent: only the first fault is diagnosed (a few syscalls) and recorded; later calls,
     * and calls on a broken block, return at once. Any thread, no lock: the reason is published with
     * a compare-and-set, so concurrent callers agree on one reason.
     *
     * @param ramOffset first byte of the faulting access, in the block
     * @param length bytes of the access
     * @param fault the {@code InternalError} the JDK raised for the SIGBUS; required so that only a
     *     real fault (not, say, the {@link IllegalStateException} of a released block) breaks a block
     * @throws NullPointerException if {@code fault} is null
     */
    public void reportFault(long ramOffset, long length, InternalError fault) {
        Objects.requireNonNull(fault, "fault");
        if (brokenReason == null) {
            recordBroken(ramOffset, length);
        }
    }

    // ------------------------------------------------------------------ backing store operations

    /**
     * Writes a range back to the backing file and waits ({@code qemu_ram_msync} /
     * {@code qemu_ram_writeback}: {@code msync(MS_SYNC)} on the page-aligned cover of the range).
     * Does nothing for blocks without a file descriptor.
     *
     * <p>A failed msync is final for the block: every later msync throws too, naming the first
     * failure, and {@link #writebackError()} says what failed. Why: the kernel reports a write-back
     * error to each open file once, and leaves the pages it could not write clean, so the next
     * msync would succeed without writing them (on Linux 6.18 ext4, a file whose msync failed with
     * ENOSPC read back as zeros after a later msync "succeeded" and the disk had room again). What
     * earlier msyncs wrote stays in the file; guest accesses to the block keep working.
     *
     * <p><b>Thread safety.</b> Any thread; msyncs of one block run one at a time (a private lock,
     * held across the syscall, in {@link RamWriteback}), because the kernel's one error report goes
     * to whichever concurrent msync checks first: without the lock, another msync that had already
     * passed the "failed before?" check could return success for pages that were never written. A
     * write-back of the same file outside this method can still consume the report (see {@link #fd()}).
     *
     * @param ramOffset first byte
     * @param length bytes
     * @throws InvalidRamBlockException if the range is outside the used length (QEMU asserts)
     * @throws RamBackendException if msync fails (ENOSPC: the file system is full; EIO: the device
     *     failed or a thin-provisioned one is full), or failed before on this block; carries the
     *     call {@code "msync"} and its errno
     */
    public void msync(long ramOffset, long length) {
        writeback.msync(ramOffset, length, usedLength);
    }

    /**
     * Tells whether and why the block's file may lack data: set by the first failed
     * {@link #msync(long, long)} and never cleared.
     *
     * @return the first msync failure (range, errno and meaning), or {@code null} if none failed
     */
    public String writebackError() {
        return writeback.error();
    }

    /**
     * Writes the whole block back ({@link #msync(long, long)} over the used length).
     *
     * @throws RamBackendException if msync fails
     */
    public void msync() {
        msync(0, usedLength);
    }

    /**
     * Drops a range's contents so the host can reclaim the memory ({@code ram_block_discard_range}):
     * shared fd-backed blocks punch a hole in the file ({@code FALLOC_FL_PUNCH_HOLE}) and drop the
     * pages ({@code MADV_DONTNEED}); private blocks drop their pages, so anonymous memory reads as
     * zero and a private file mapping reads the file again.
     *
     * @param ramOffset first byte, a multiple of {@link #pageSize()}
     * @param length bytes, a multiple of {@link #pageSize()}
     * @throws InvalidRamBlockException if the range is unaligned or outside the reservation
     * @throws RamBackendException if the block does not own its memory, or the kernel refuses
     * @throws IllegalStateException if the block is released
     */
    public void discard(long ramOffset, long length) {
        if (isReleased()) {
            throw released("discard");
        }
        writeback.discard(ramOffset, length);
    }

    /**
     * Tells the system that bytes of the block were written behind its address spaces (a snapshot
     * restore, another process sharing the memory): each dirty-log client marks them, and translated
     * code on them is invalidated, as for a DMA write (QEMU's
     * {@code cpu_physical_memory_set_dirty_range(..., DIRTY_CLIENTS_ALL)}). A block in no list has
     * no one to tell. The range may end inside the last, partial target page of a used length that is
     * not a multiple of 4 KiB (QEMU's used length always is; a dirty log reports that page whole): it
     * is then clipped to {@link #usedLength()}.
     *
     * @param ramOffset first byte written
     * @param length bytes written
     * @throws InvalidRamBlockException if the range is not inside the used length rounded up to a
     *     4 KiB target page
     */
    public void markWritten(long ramOffset, long length) {
        long clipped = clipToUsed(ramOffset, length, usedLength, "written range");
        RamList l = list;
        if (l != null && clipped > 0) {
            l.notifyWritten(this, ramOffset, clipped);
        }
    }

    /**
     * Marks dirty the target pages (4 KiB) whose bits are set in a dirty bitmap, as an accelerator
     * reports its dirty log (QEMU's {@code cpu_physical_memory_set_dirty_lebitmap}). Bit {@code j}
     * of {@code bitmap[i]} (bit 0 the least significant; a bitmap read from guest or kernel memory
     * is read as little-endian 64-bit words) stands for the page at
     * {@code ramOffset + (64 * i + j) * 4 KiB}; bits from {@code pages} on are ignored and words that
     * are zero cost one test. The clients are QEMU's: VGA always, MIGRATION only while global dirty
     * tracking is on, CODE only under TCG, whose translations on those pages are invalidated as
     * {@link #markWritten} does. The range may end inside the last, partial page of the used length
     * and is then clipped to it. A block in no list has no one to tell (the count is still returned).
     *
     * <p>On the block, not on {@link dev.guestmem.dirty.DirtyMemory}: an accelerator holds the
     * block of its slot and an offset in it (as {@code markWritten}), the range is checked against
     * the used length, which only the block knows, and the client rule needs the owning system's
     * TCG and global-tracking state, which reaches it through the list's notifiers
     * ({@link RamBlockNotifier#ramBlockDirtyLogged}).
     *
     * @param ramOffset offset in the block of bit 0's page, a multiple of 4 KiB
     * @param bitmap the bitmap, at least {@code ceil(pages / 64)} words
     * @param pages how many pages (bits) it covers, &ge; 0
     * @return how many pages were reported dirty (set bits among the first {@code pages}), QEMU's
     *     {@code num_dirty}
     * @throws InvalidRamBlockException before anything is marked, if {@code pages} is negative,
     *     {@code ramOffset} is not page-aligned, the bitmap is shorter than {@code pages} bits, or the
     *     pages do not lie inside the used length rounded up to a target page
     * @throws NullPointerException if {@code bitmap} is null
     */
    public long markDirtyFromBitmap(long ramOffset, long[] bitmap, long pages) {
        Objects.requireNonNull(bitmap, "bitmap");
        if (pages < 0 || (ramOffset & (TARGET_PAGE - 1)) != 0 || bitmap.length < (pages + 63) >>> 6
                || pages > (Long.MAX_VALUE >>> RamList.TARGET_PAGE_BITS)) {
            throw new InvalidRamBlockException(idstr, "dirty bitmap of " + pages + " pages at 0x"
                    + Long.toHexString(ramOffset) + " (" + bitmap.length + " words): pages must be >= 0, the"
                    + " offset 4 KiB-aligned and the bitmap at least ceil(pages / 64) words long");
        }
        long used = usedLength;
        clipToUsed(ramOffset, pages << RamList.TARGET_PAGE_BITS, used, "dirty bitmap range");
        RamList l = list;
        long count = 0;
        long runStart = -1;
        long runEnd = -1; // pages, relative to ramOffset: the run of set bits not yet reported
        int words = (int) ((pages + 63) >>> 6);
        for (int i = 0; i < words; i++) {
            long w = bitmap[i];
            if (w == 0) {
                continue;
            }
            long base = (long) i << 6;
            if (pages - base < 64) {
                w &= (1L << (pages - base)) - 1; // bits past pages are not the caller's
            }
            count += Long.bitCount(w);
            while (w != 0) {
                int j = Long.numberOfTrailingZeros(w);
                int n = Long.numberOfTrailingZeros(~(w >>> j)); // 64 when the rest of the word is ones
                n = Math.min(n, 64 - j);
                if (base + j != runEnd) {
                    report(l, ramOffset, runStart, runEnd, used);
                    runStart = base + j;
                }
                runEnd = base + j + n;
                w = j + n >= 64 ? 0 : w & (-1L << (j + n));
            }
        }
        report(l, ramOffset, runStart, runEnd, used);
        return count;
    }

    private static final long TARGET_PAGE = 1L << RamList.TARGET_PAGE_BITS;

    /** One run of dirty pages {@code [first, end)} of {@link #markDirtyFromBitmap}, clipped to {@code used}. */
    private void report(RamList l, long ramOffset, long first, long end, long used) {
        if (l == null || first < 0) {
            return;
        }
        long off = ramOffset + (first << RamList.TARGET_PAGE_BITS);
        long len = Math.min((end - first) << RamList.TARGET_PAGE_BITS, used - off);
        if (len > 0) {
            l.notifyDirtyLogged(this, off, len);
        }
    }

    /**
     * Checks that {@code [ramOffset, ramOffset + length)} lies inside the used length rounded up to a
     * target page and returns its length clipped to the used length (0 for a range wholly in the
     * partial page's tail).
     */
    private long clipToUsed(long ramOffset, long length, long used, String what) {
        long end = (used + TARGET_PAGE - 1) & -TARGET_PAGE;
        if (ramOffset < 0 || length < 0 || ramOffset > end || length > end - ramOffset) {
            throw new InvalidRamBlockException(idstr, what + " [0x" + Long.toHexString(ramOffset) + ", +0x"
                    + Long.toHexString(length) + ") is not inside the used length 0x" + Long.toHexString(used)
                    + " (rounded up to a 4 KiB page)");
        }
        return Math.max(0, Math.min(length, used - ramOffset));
    }

    /**
     * Changes the used length of a resizeable block ({@code qemu_ram_resize}). Call under the owning
     * system's lock. The list's notifiers, then the block's {@link ResizeCallback}, hear of it. A block
     * that backs a region is resized with {@code RamRegion.ramResize}, which resizes the region too
     * (as QEMU's {@code memory_region_set_size(block->mr, ...)}); this method alone leaves its size as
     * it was, and the owning system re-renders its views at once, so accesses (and soft-TLB fills)
     * beyond the new used length answer {@code DECODE_ERROR} and the generations move. Bytes beyond
     * the old used length keep whatever the reservation held.
     *
     * @param newSize the new used length, &gt; 0
     * @throws InvalidRamBlockException if the block is not resizeable and {@code newSize} differs
     *     from the used length ("size mismatch"), or {@code newSize} exceeds {@link #maxLength()}
     */
    public void resize(long newSize) {
        RamList l;
        synchronized (this) {
            long old = usedLength;
            if (!isResizeable()) {
                if (newSize != old) {
                    throw new InvalidRamBlockException(idstr, "size mismatch: 0x" + Long.toHexString(newSize)
                            + " != 0x" + Long.toHexString(old) + " and the block is not resizeable");
                }
                return;
            }
            if (newSize <= 0 || newSize > maxLength) {
                throw new InvalidRamBlockException(idstr, "size 0x" + Long.toHexString(newSize) + " is 0 or larger than max length 0x"
                        + Long.toHexString(maxLength));
            }
            if (newSize == old) {
                return;
            }
            l = list;
            if (l != null) {
                l.notifyResize(this, old, newSize);
            }
            usedSegment = maxSegment.asSlice(0, newSize);
            usedLength = newSize; // volatile: publishes the segment written just before
        }
        // outside the monitor: the owning system re-renders under its own lock, and a resize from
        // a thread without that lock must not hold this monitor while it waits for it
        if (l != null) {
            l.notifyUsedLengthChanged(this); // views cached the old segment: they re-render
        }
        if (resized != null) {
            resized.resized(idstr, newSize, maxSegment);
        }
    }

    // ------------------------------------------------------------------ lifetime

    /**
     * Takes a reference that keeps the memory mapped until the matching {@link #unref()}
     * ({@code memory_region_ref} on the owner).
     *
     * @return this block
     * @throws IllegalStateException if the block is already released
     */
    public RamBlock ref() {
        for (;;) {
            int r = refs.get();
            if (r <= 0) {
                throw released("ref");
            }
            if (refs.compareAndSet(r, r + 1)) {
                return this;
            }
        }
    }

    /**
     * Takes a reference like {@link #ref()} unless the last one is already gone: for a walker that
     * found the block in a list and races with its release ({@link RamList#holdBlocks()}).
     *
     * @return true if a reference was taken (drop it with {@link #unref()}), false if the block is
     *     released or being released
     */
    public boolean tryRef() {
        for (;;) {
            int r = refs.get();
            if (r <= 0) {
                return false;
            }
            if (refs.compareAndSet(r, r + 1)) {
                return true;
            }
        }
    }

    /**
     * Drops a reference taken with {@link #ref()}; the last one releases the block.
     *
     * @throws IllegalStateException if no reference is held
     */
    public void unref() {
        for (;;) {
            int r = refs.get();
            if (r <= 0) {
                throw released("unref");
            }
            if (refs.compareAndSet(r, r - 1)) {
                if (r == 1) {
                    free();
                }
                return;
            }
        }
    }

    /** @return the number of references held (diagnostics) */
    public int refCount() {
        return Math.max(0, refs.get());
    }

    /**
     * Drops the creator's reference; idempotent. When no {@link #ref()} is outstanding the block is
     * released now: it leaves its list, waits out concurrent accesses, unmaps and closes its fd.
     *
     * @throws RamBackendException if munmap or close failed (the block is released anyway)
     */
    @Override
    public void close() {
        if (creatorReleased.compareAndSet(false, true)) {
            unref();
        }
    }

    /** QEMU's {@code qemu_ram_free}: leave the list, then close the arena (munmap + close once). */
    private void free() {
        RamList l = list;
        try {
            if (l != null) {
                l.removeReleased(this); // out of the list even if a notifier throws
            }
        } finally {
            closeArena(); // unmapped even then: nothing else would ever unmap it
        }
    }

    /** Closes the arena (munmap + close once), waiting out a native call that holds the segment. */
    private void closeArena() {
        long deadline = System.nanoTime() + 10_000_000_000L;
        for (;;) {
            try {
                arena.close();
                return;
            } catch (IllegalStateException busy) {
                // A native call holds the segment (a pread/pwrite into guest RAM): closing is refused
                // rather than waited for, so wait here; accesses from Java code are waited out by close.
                if (!arena.scope().isAlive()) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new RamBackendException(idstr, "release: the memory stayed in use by a native call for 10 s");
                }
                Thread.onSpinWait();
                Thread.yield();
            } catch (NativeCallException e) {
                throw new RamBackendException(idstr, "release", e);
            }
        }
    }

    // package-private hooks for RamList, called under its lock
    void placeInList(RamList l, long ramOffset) {
        this.offset = ramOffset;
        this.list = l;
    }

    void leaveList() {
        this.list = null;
    }

    // ------------------------------------------------------------------ helpers

    private boolean inUse(long ramOffset, long length) {
        long used = usedLength;
        return ramOffset >= 0 && length >= 0 && ramOffset <= used - length;
    }

    private void checkNotBroken() {
        String why = brokenReason;
        if (why != null) {
            throw new RamBlockBrokenException(idstr, why, null);
        }
    }

    private void checkWritable() {
        if (isReadOnly()) {
            throw new UnsupportedOperationException("RAM block '" + idstr + "' is mapped read-only");
        }
    }

    private RamBlockBrokenException markBroken(long ramOffset, long length, InternalError e) {
        return new RamBlockBrokenException(idstr, recordBroken(ramOffset, length), e);
    }

    /** Diagnoses a SIGBUS on the range and records it unless an earlier fault was; returns this fault's diagnosis. */
    private String recordBroken(long ramOffset, long length) {
        String held = faultProneReason;
        String why = "SIGBUS on [0x" + Long.toHexString(ramOffset) + ", +0x" + Long.toHexString(length) + "): "
                + RamFaultCause.sigbus(mapping.fd(), mapping.fdOffset(), usedLength, mapping.pageSize())
                + (held != null ? " (fault-prone: " + held + ")" : "");
        BROKEN_REASON.compareAndSet(this, (String) null, why); // the first fault's reason stays
        return why;
    }

    private IllegalStateException released(String op) {
        return new IllegalStateException("RAM block '" + idstr + "': " + op + " after the last reference was dropped");
    }

    @Override
    public String toString() {
        return "RamBlock[" + idstr + " offset=0x" + Long.toHexString(offset) + " used=0x" + Long.toHexString(usedLength)
                + " max=0x" + Long.toHexString(maxLength) + " " + backend + " flags=" + RamFlags.toString(flags)
                + (isReleased() ? " released" : "") + (isBroken() ? " broken" : "") + "]";
    }
}
