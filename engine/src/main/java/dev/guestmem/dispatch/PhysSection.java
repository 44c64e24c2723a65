package dev.guestmem.dispatch;

import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.iommu.OwedInvalidations;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.mmio.ReentrancyGuard;
import dev.guestmem.mmio.RamDeviceOps;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.MemorySegment;

/**
 * One entry of a dispatch table's sections array, as QEMU's {@code MemoryRegionSection} in {@code PhysPageMap.sections}: the
 * addresses {@code [start, last]} of the address space are served by {@link #region()} from
 * {@link #offsetWithinRegion()} on.
 *
 * <p>Besides QEMU's fields a section carries what the access path needs precomputed so that it
 * never reads a region's mutable state: the host segment and the segment offset of {@code start}
 * for RAM-like sections, which accesses may be direct ({@code memory_access_is_direct}, evaluated at
 * build time from the region's own flags), the MMIO ops (the synthetic RAM-device ops for RAM
 * device regions) and the owner's re-entrancy guard.
 *
 * <p><b>Thread safety.</b> Immutable; built under the topology lock and published with the
 * {@link dev.guestmem.flat.FlatView} that owns the table.
 */
public final class PhysSection {
    /** Reads may be served straight from {@link #segment()} (RAM, ROM, ROMD-mode ROM device). */
    public static final int DIRECT_READ = 1;
    /** Non-debug writes may go straight to {@link #segment()} (RAM that is not read-only). */
    public static final int DIRECT_WRITE = 1 << 1;
    /** Debug writes may go straight to {@link #segment()} ({@code attrs.debug} may write ROM). */
    public static final int DIRECT_WRITE_DEBUG = 1 << 2;
    /** QEMU's {@code memory_region_is_ram}: RAM, ROM and RAM device (for {@code attrs.memory}). */
    public static final int IS_RAM = 1 << 3;
    /** The unassigned section (index 0). */
    public static final int UNASSIGNED = 1 << 4;
    /** The region is an IOMMU. */
    public static final int IOMMU = 1 << 5;
    /** A page-level section that must be resolved through its {@link Subpage}. */
    public static final int SUBPAGE = 1 << 6;
    /** The range is read-only for the guest as rendered (inherited flag: TLB fills use this). */
    public static final int READONLY = 1 << 7;
    /** Writes need dirty tracking (the range's dirty-log mask is not zero). */
    public static final int DIRTY_LOGGING = 1 << 8;
    /**
     * The block may raise SIGBUS (file or fd backed, hugetlb, foreign host memory): accesses must be
     * real calls so the asynchronous {@code InternalError} is caught (see {@code SigbusFence}).
     */
    public static final int FAULT_PRONE = 1 << 9;

    private final FlatRange range;
    private final MemoryRegion region;
    private final long start;
    private final long last;
    private final long offsetWithinRegion;
    private final int flags;
    private final MemorySegment segment;
    private final long segmentOffset;
    private final RamBlock ramBlock;
    private final MemoryRegionOps ops;
    private final ReentrancyGuard guard;
    /** The region's system's record, which every MMIO write ends with; null without a region. */
    private final OwedInvalidations owedInvalidations;
    private final Subpage subpage;
    private final DirectWindow window;
    // The plain MMIO read fast path (P4), decided once here: the callback, the sizes it serves in one
    // call (0 when the section is not plain MMIO), and the device's alignment and byte order.
    private final MemoryRegionOps.Read plainRead;
    private final int plainReadSizes;
    private final MemoryRegionOps.Write plainWrite;
    private final int plainWriteSizes;
    private final boolean plainReadUnaligned;
    private final boolean deviceBigEndian;
    private final boolean deviceOnly;

    private PhysSection(FlatRange range, MemoryRegion region, long start, long last, long offsetWithinRegion,
                                int flags, MemorySegment segment, long segmentOffset, RamBlock ramBlock,
                                MemoryRegionOps ops, ReentrancyGuard guard, Subpage subpage) {
        this.range = range;
        this.region = region;
        this.start = start;
        this.last = last;
        this.offsetWithinRegion = offsetWithinRegion;
        this.flags = flags;
        this.segment = segment;
        this.segmentOffset = segmentOffset;
        this.ramBlock = ramBlock;
        this.ops = ops;
        this.guard = guard;
        this.subpage = subpage;
        this.owedInvalidations = region == null ? null : SystemInternals.owedInvalidations(region.system());
        boolean logged = (flags & DIRTY_LOGGING) != 0;
        boolean readonly = (flags & READONLY) != 0;
        MemorySegment read = directSlice(DIRECT_READ);
        // stores direct through the read slice itself: RAM neither read-only nor logged (a non-empty
        // read slice is the section's whole slice, exactly what DIRECT_WRITE would give)
        boolean writable = !logged && !readonly && read.byteSize() > 0 && (flags & DIRECT_WRITE) != 0;
        if (!writable && read.byteSize() > 0) {
            read = read.asReadOnly(); // a window handed to a JIT must not let it write ROM through the read slice
        }
        MemorySegment loggedWrite = logged && !readonly ? directSlice(DIRECT_WRITE) : MemorySegment.NULL;
        DirtyMemory dirty = null;
        long ramAddr = 0;
        int mask = 0;
        if (loggedWrite.byteSize() > 0) { // the block sits in the system's RAM list from region creation on
            dirty = region.system().dirtyMemory();
            ramAddr = ramBlock.offset() + segmentOffset;
            mask = range.dirtyLogMask();
        }
        boolean direct = read.byteSize() > 0 || loggedWrite.byteSize() > 0;
        this.window = direct ? new DirectWindow(start, read, writable, loggedWrite, this, segmentOffset, dirty, ramAddr, mask)
                : DirectWindow.empty(); // most sections of a big machine are MMIO: no object each
        // (no direct read means no direct write either: of() sets DIRECT_WRITE* only beside DIRECT_READ)
        this.deviceOnly = ops != null && (flags & (DIRECT_READ | IOMMU | SUBPAGE | UNASSIGNED)) == 0;
        this.plainRead = deviceOnly ? ops.read() : null;
        this.plainReadSizes = deviceOnly ? ops.plainReadSizes() : 0; // 0 without a plain read callback
        this.plainWrite = deviceOnly ? ops.write() : null;
        this.plainWriteSizes = deviceOnly ? ops.plainWriteSizes() : 0; // 0 without a plain write callback
        this.plainReadUnaligned = deviceOnly && ops.validUnaligned();
        this.deviceBigEndian = ops != null && MmioDispatch.isBigEndian(ops.endianness());
    }

    /**
     * The window for {@code kind} ({@link #DIRECT_READ} or {@link #DIRECT_WRITE}): a slice of the
     * block covering exactly this section when it allows that kind of direct access and cannot fault,
     * else {@link MemorySegment#NULL} (length 0: every bounds test fails, so such sections take the
     * slow path). Fault-prone blocks are excluded because their accesses must go through the fence.
     */
    private MemorySegment directSlice(int kind) {
        if ((flags & (kind | FAULT_PRONE)) != kind || segment == null) {
            return MemorySegment.NULL;
        }
        long size = last - start + 1;
        if (size <= 0 || segmentOffset < 0 || segmentOffset > segment.byteSize() - size) {
            return MemorySegment.NULL; // not representable as a slice: leave it to the slow path
        }
        return segment.asSlice(segmentOffset, size);
    }

    /** The dummy section 0: nothing is mapped; covers all 2^64 addresses ({@code io_mem_unassigned}). */
    static PhysSection unassigned() {
        return new PhysSection(null, null, 0, -1L, 0, UNASSIGNED, null, 0, null, null, null, null);
    }

    /** A page-level section standing for a subpage table ({@code subpage_init}). */
    static PhysSection forSubpage(long pageStart, long pageSize, Subpage subpage) {
        return new PhysSection(null, null, pageStart, pageStart + pageSize - 1, 0, SUBPAGE, null, 0, null,
                null, null, subpage);
    }

    /**
     * Builds the section for the piece {@code [start, last]} of a flat range. Called under the
     * topology lock (reads the region's own flags, as QEMU's access path does at access time).
     */
    static PhysSection of(FlatRange r, long start, long last) {
        MemoryRegion mr = r.region();
        long offsetWithinRegion = r.offsetInRegion() + (start - r.start());
        int flags = 0;
        MemorySegment seg = null;
        long segOff = 0;
        RamBlock block = mr.ramBlock();
        MemoryRegionOps ops = mr.ops();
        boolean romd = mr.isRomDevice() && r.romdMode();
        // memory_region_supports_direct_access: ROMD-mode ROM device, or RAM that is not a RAM device.
        boolean supportsDirect = romd || (mr.isRam() && !mr.isRamDevice());
        if (supportsDirect && block != null) {
            flags |= DIRECT_READ;
            // A block mapped read-only takes no store at all, not even a debugger's or write_rom's
            // (into its PROT_READ mapping that would be a SIGSEGV).
            if (!block.isReadOnly()) {
                flags |= DIRECT_WRITE_DEBUG;
                // memory_access_is_direct: non-debug writes only if the MR's own readonly and rom_device
                // flags are clear (not the inherited readonly: QEMU quirk, see QEMU-SEMANTICS.md §1).
                if (!mr.isReadonly() && !mr.isRomDevice()) {
                    flags |= DIRECT_WRITE;
                }
            }
        }
        if (block != null) {
            seg = block.segment();
            segOff = offsetWithinRegion;
            if (block.canFault()) {
                flags |= FAULT_PRONE;
            }
        }
        if (mr.isRam()) {
            flags |= IS_RAM;
        }
        if (mr.isRamDevice() && block != null) {
            ops = RamDeviceOps.of(block);
        }
        if (mr.isIommu()) {
            flags |= IOMMU;
        }
        if (r.readonly()) {
            flags |= READONLY;
        }
        if (r.dirtyLogMask() != 0) {
            flags |= DIRTY_LOGGING;
        }
        // QEMU guards when mr->dev is set and the MR is not ram_device, ram, rom_device or readonly.
        ReentrancyGuard guard = null;
        if (mr.owner() != null && !mr.isReentrancyGuardDisabled() && !mr.isRam() && !mr.isRamDevice()
                && !mr.isRomDevice() && !mr.isReadonly()) {
            guard = mr.system().reentrancyGuards().of(mr.owner());
        }
        return new PhysSection(r, mr, start, last, offsetWithinRegion, flags, seg, segOff, block, ops, guard,
                null);
    }

    /**
     * Whether {@code addr} lies in this section ({@code section_covers_addr}).
     *
     * @param addr an address (unsigned)
     * @return whether {@code start <= addr <= last}
     */
    public boolean covers(long addr) {
        return Long.compareUnsigned(addr - start, last - start) <= 0;
    }

    /** @return the flat range this section was cut from, or null for the unassigned and subpage sections */
    public FlatRange flatRange() {
        return range;
    }

    /** @return the region (null for the unassigned section and page-level subpage sections) */
    public MemoryRegion region() {
        return region;
    }

    /** @return the first address ({@code offset_within_address_space}) */
    public long start() {
        return start;
    }

    /** @return the last address, inclusive */
    public long last() {
        return last;
    }

    /** @return the size minus one (so that 2^64 fits) */
    public long sizeMinusOne() {
        return last - start;
    }

    /** @return the offset in the region of {@link #start()} */
    public long offsetWithinRegion() {
        return offsetWithinRegion;
    }

    /** @return the flag bits ({@link #DIRECT_READ} ...) */
    public int flags() {
        return flags;
    }

    /** @return the dirty-log clients of the range at render time ({@code dirty_log_mask}), 0 if none */
    public int dirtyLogMask() {
        return range == null ? 0 : range.dirtyLogMask();
    }

    /** @return whether this is the unassigned section */
    public boolean isUnassigned() {
        return (flags & UNASSIGNED) != 0;
    }

    /** @return the host memory of the region's RAM block, or null */
    public MemorySegment segment() {
        return segment;
    }

    /** @return the offset in {@link #segment()} of {@link #start()} */
    public long segmentOffset() {
        return segmentOffset;
    }

    /**
     * Where a byte of this section lives in {@link #segment()}: QEMU's {@code qemu_map_ram_ptr} for
     * the {@code xlat} that {@code address_space_translate} returned with this section.
     *
     * @param xlat an offset in {@link #region()} inside this section (as {@code Translation.xlat()}
     *     gives it)
     * @return its offset in {@link #segment()}
     * @throws IllegalStateException if the section has no host memory (MMIO, a hole)
     * @throws IllegalArgumentException if {@code xlat} is not inside this section
     */
    public long segmentOffsetOf(long xlat) {
        if (segment == null) {
            throw new IllegalStateException("section of " + region + " has no host memory");
        }
        long into = xlat - offsetWithinRegion;
        if (Long.compareUnsigned(into, sizeMinusOne()) > 0) {
            throw new IllegalArgumentException("offset 0x" + Long.toHexString(xlat) + " in " + region
                    + " is outside this section (0x" + Long.toHexString(offsetWithinRegion) + " + 0x"
                    + Long.toHexString(sizeMinusOne()) + ")");
        }
        return segmentOffset + into;
    }

    /**
     * The section's direct window: its host bytes for direct loads and stores (empty slices where
     * the section is not direct), built with the table so that caching it allocates nothing.
     *
     * @return the window (never null)
     */
    public DirectWindow window() {
        return window;
    }

    /**
     * The access sizes (bit {@code size}) a load may serve with one call of {@link #plainRead()}:
     * the ops' {@link MemoryRegionOps#plainReadSizes()} for a plain MMIO section, 0 for anything
     * else (RAM, ROMD, IOMMU, subpage, unassigned). Alignment is still the caller's to check.
     *
     * @return the size bits
     * @implNote Hot path (P4).
     */
    public int plainReadSizes() {
        return plainReadSizes;
    }

    /**
     * The access sizes a store may serve with one call of {@link #plainWrite()}: the ops'
     * {@link MemoryRegionOps#plainWriteSizes()} for a plain MMIO section, 0 for anything else.
     * Alignment, the region's eventfds and its coalesced-MMIO flush are still the caller's to check.
     *
     * @return the size bits
     */
    public int plainWriteSizes() {
        return plainWriteSizes;
    }

    /** @return the plain write callback of a plain MMIO section, else null */
    public MemoryRegionOps.Write plainWrite() {
        return plainWrite;
    }

    /** @return the plain read callback of a plain MMIO section, else null */
    public MemoryRegionOps.Read plainRead() {
        return plainRead;
    }

    /** @return whether the device takes unaligned accesses ({@code valid.unaligned}) */
    public boolean plainReadUnaligned() {
        return plainReadUnaligned;
    }

    /** @return whether the device's callbacks speak big-endian (its endianness on this host) */
    public boolean deviceBigEndian() {
        return deviceBigEndian;
    }

    /** @return the RAM block behind the region, or null */
    public RamBlock ramBlock() {
        return ramBlock;
    }

    /** @return the MMIO ops used for non-direct accesses, or null (unassigned behaviour) */
    public MemoryRegionOps ops() {
        return ops;
    }

    /** @return the owner's re-entrancy guard, or null when the guard does not apply */
    public ReentrancyGuard guard() {
        return guard;
    }

    /**
     * @return the region's system's {@link OwedInvalidations}, whose {@link OwedInvalidations#afterMmioWrite}
     *     ends every MMIO write the engine makes to this section; null for the unassigned and subpage
     *     sections
     */
    public OwedInvalidations owedInvalidations() {
        return owedInvalidations;
    }

    /**
     * Whether every access to this section goes to its region's callbacks: it has ops and no direct
     * access of any kind, no IOMMU, no subpage table (MMIO, a ROM device in I/O mode, a RAM device).
     * A soft TLB may then send a page's accesses straight to it ({@code TlbEntry.ioSection()}).
     *
     * @return whether this is a device-only section
     */
    public boolean isDeviceOnly() {
        return deviceOnly;
    }

    /** @return the subpage table of a page-level subpage section, else null */
    public Subpage subpage() {
        return subpage;
    }

    @Override
    public String toString() {
        return "Section[" + Long.toHexString(start) + ".." + Long.toHexString(last) + " "
                + (region == null ? (subpage != null ? "subpage" : "unassigned") : region.name()) + " @"
                + Long.toHexString(offsetWithinRegion) + " flags=0x" + Integer.toHexString(flags) + "]";
    }
}
