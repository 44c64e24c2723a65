package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.MemorySystemClosedException;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.discard.ManagerAssignment;
import dev.guestmem.discard.RamDiscardManager;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.ioeventfd.IoeventfdList;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.mmio.ReentrancyGuard;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A node of the memory-region tree, as QEMU's {@code MemoryRegion}. The kinds form a closed set:
 * {@link ContainerRegion}, {@link RamRegion} (RAM, ROM, RAM device), {@link IoRegion} (MMIO),
 * {@link RomDeviceRegion}, {@link AliasRegion} and {@link IommuRegion}.
 *
 * <p>Sizes are unsigned 64-bit; as in QEMU's {@code memory_region_init}, a size argument of
 * {@code -1L} ({@code UINT64_MAX}) means 2^64, and {@link #size()} reports 2^64 as {@code -1L}. As in
 * QEMU, a region may be placed or sized so that it ends beyond 2^64 (real boards do: the aspeed
 * boards' {@code max_ram}, the BCM2838's PCIe window); rendering clips it to the address space, and
 * {@code info mtree} text marks it {@code [DETECTED OVERFLOW!]}.
 *
 * <h2 id="order">Subregion order</h2>
 * {@link #subregions()} is QEMU's list order: a subregion is inserted before the first sibling whose
 * priority is {@code <=} its own, so the list is priority-descending and, among equal priorities, the
 * newest comes first and wins where siblings overlap. {@link #setAddress} removes and re-adds, so a
 * moved region becomes the newest among its equals.
 *
 * <h2 id="setters">Setters</h2>
 * Every setter has QEMU's shape: return if unchanged, begin a transaction, change the field, mark an
 * update pending (if the region is enabled, for flag setters), commit. Inside an outer
 * {@link MemorySystem#transactionBegin()} the views change only at the outermost commit.
 * Invalid input throws a {@link RegionException} subtype before anything changes. Once the system is
 * {@linkplain MemorySystem#close() closed}, every call that would change a region (the setters,
 * {@code addSubregion}/{@code delSubregion}, eventfds, coalescing, dirty logging and the dirty
 * bitmaps, setting a RAM discard manager, and the kinds' own: alias offset, ROMD mode, RAM resize,
 * IOMMU model and notifier registration) throws a {@link MemorySystemClosedException} naming the
 * call and changes nothing, whether the teardown destroyed the region or never collected it. The
 * getters, {@link #find}, {@link #ref()}/{@link #unref()}, {@link #destroy()} and clearing a
 * RAM discard manager still work.
 *
 * <h2 id="refs">References</h2>
 * A region starts with one reference (its creator's). Mapping it into a container, showing it in a
 * live flat view, every {@link MemoryRegionSection#copy()} and every {@link AliasRegion} of it (until
 * the alias is finalized) take one more. {@link #destroy()} drops
 * the creator's reference (QEMU's {@code object_unparent}); when the count reaches zero on a destroyed
 * region the region is finalized, which is where a RAM region gives its block back.
 *
 * <p><b>Thread safety.</b> Every mutating method takes the owning {@link MemorySystem}'s topology lock
 * (a {@link ReentrantLock}, QEMU's BQL), so it may be called from any thread. Getters read plain fields
 * and are meant for the topology thread (or a caller holding the lock); the access path reads the
 * immutable {@link dev.guestmem.flat.FlatView} rendered from them, and of a region's own state only
 * its {@linkplain #ioeventfds() eventfd list} (published: an MMIO write sees the list of a completed
 * {@link #addEventfd} or {@link #delEventfd}, as QEMU's dispatch reads {@code mr->ioeventfds}).
 */
public abstract sealed class MemoryRegion
        permits ContainerRegion, RamRegion, IoRegion, RomDeviceRegion, AliasRegion, IommuRegion {

    /** QEMU's {@code UINT64_MAX} size argument: a region of 2^64 bytes. */
    public static final long SIZE_2_64 = -1L;

    /** Dirty-log client {@code DIRTY_MEMORY_VGA}. */
    public static final int DIRTY_MEMORY_VGA = 0;
    /** Dirty-log client {@code DIRTY_MEMORY_CODE}. */
    public static final int DIRTY_MEMORY_CODE = 1;
    /** Dirty-log client {@code DIRTY_MEMORY_MIGRATION}. */
    public static final int DIRTY_MEMORY_MIGRATION = 2;

    private final MemorySystem system;
    private final Object owner;
    private final String name;
    /** Size in bytes, or {@link #SIZE_2_64}. */
    long size;
    /** Offset in the container (unsigned). */
    long addr;
    int priority;
    MemoryRegion container;
    boolean enabled = true;
    boolean readonly;
    boolean nonvolatile;
    boolean unmergeable;
    boolean disableReentrancyGuard;
    /** The owner's re-entrancy guard, cached by {@link RegionDispatch} on first use (null until then). */
    ReentrancyGuard ownerGuard;

    /** QEMU list order (see the class javadoc). */
    private final ArrayList<MemoryRegion> subregionList = new ArrayList<>();
    private final List<MemoryRegion> unmodifiableSubregions = Collections.unmodifiableList(subregionList);
    /** Aliases whose target is this region: views through them must be re-rendered when it changes. */
    private final ArrayList<AliasRegion> aliasReferrers = new ArrayList<>(0);
    /** QEMU's {@code mapped_via_alias}. */
    int mappedViaAlias;
    /** QEMU's {@code vga_logging_count}. */
    private int vgaLoggingCount;
    /** The region's own dirty-log mask (only the VGA bit can be set, via {@link #setLog}). */
    private int ownDirtyLogMask;
    /** QEMU's {@code rdm} (only for RAM): see {@link #setRamDiscardManager}. */
    private RamDiscardManager ramDiscardManager;
    /** QEMU's {@code mr->ioeventfds}: replaced whole on change, read by MMIO writes without the lock. */
    private volatile IoeventfdList ioeventfds = IoeventfdList.EMPTY;
    /** QEMU's {@code mr->coalesced}. */
    private final ArrayList<CoalescedRange> coalesced = new ArrayList<>(0);
    /** QEMU's {@code mr->flush_coalesced_mmio}; volatile: read by accessors outside the lock. */
    private volatile boolean flushCoalescedMmio;
    private int refCount = 1;
    private boolean destroyed;
    private boolean finalized;

    MemoryRegion(MemorySystem system, Object owner, String name, long size) {
        this.system = Objects.requireNonNull(system, "system");
        this.owner = owner;
        this.name = name == null ? "anonymous" : name;
        if (system.isClosed()) {
            throw new MemorySystemClosedException("new region '" + this.name + "'");
        }
        this.size = size;
    }

    /** @return the system this region belongs to */
    public final MemorySystem system() {
        return system;
    }

    /** @return the owner object (a device, a machine), or null */
    public final Object owner() {
        return owner;
    }

    /** @return the region's name */
    public final String name() {
        return name;
    }

    /** @return the size, {@code -1L} for 2^64 (QEMU's {@code memory_region_size}) */
    public final long size() {
        return size;
    }

    /** @return the size as a 128-bit value (2^64 exactly for {@code -1L}) */
    public final Int128 size128() {
        return Int128.ofSize(size);
    }

    /** @return the offset in the container */
    public final long addr() {
        return addr;
    }

    /** @return the priority among siblings */
    public final int priority() {
        return priority;
    }

    /** @return the container, or null when not a subregion */
    public final MemoryRegion container() {
        return container;
    }

    /** @return whether the region is enabled */
    public final boolean isEnabled() {
        return enabled;
    }

    /** @return the region's own read-only flag (not inherited) */
    public final boolean isReadonly() {
        return readonly;
    }

    /** @return the region's own non-volatile flag */
    public final boolean isNonvolatile() {
        return nonvolatile;
    }

    /** @return whether flat ranges of this region are never merged */
    public final boolean isUnmergeable() {
        return unmergeable;
    }

    /** @return whether the device re-entrancy guard is off for this region */
    public final boolean isReentrancyGuardDisabled() {
        return disableReentrancyGuard;
    }

    /**
     * Opts this region out of the device re-entrancy guard ({@code mr->disable_reentrancy_guard}),
     * for devices that legitimately access their own registers from a callback. Set it before the
     * region is mapped: the access path reads it when the flat view's dispatch table is built.
     *
     * @param disabled true to turn the guard off
     * @throws MemorySystemClosedException if the system is {@linkplain MemorySystem#close() closed}
     */
    public final void setReentrancyGuardDisabled(boolean disabled) {
        lockOpen("setReentrancyGuardDisabled");
        try {
            this.disableReentrancyGuard = disabled;
        } finally {
            unlock();
        }
    }

    /** @return whether this region fills the parts of its range its subregions leave free */
    public abstract boolean terminates();

    /** @return whether this is RAM (QEMU's {@code memory_region_is_ram}; ROM and RAM devices too) */
    public boolean isRam() {
        return false;
    }

    /** @return whether this is a RAM device region (host memory accessed like MMIO) */
    public boolean isRamDevice() {
        return false;
    }

    /** @return whether this is a ROM device */
    public boolean isRomDevice() {
        return false;
    }

    /** @return whether this is a ROM device in ROMD mode (reads go straight to memory) */
    public boolean isRomd() {
        return false;
    }

    /**
     * @return QEMU's {@code memory_region_is_rom}: this is RAM ({@link #isRam()}) and its own
     *     read-only flag is set; false for ROM devices, I/O regions and aliases, which are not RAM
     *     themselves
     */
    public final boolean isRom() {
        return isRam() && readonly;
    }

    /**
     * @return QEMU's {@code memory_region_is_iommu}: whether this is an IOMMU region or an alias of
     *     one (through any chain of aliases); a flat view's sections never hold an alias
     */
    public boolean isIommu() {
        return false;
    }

    /** @return whether this is an alias */
    public boolean isAlias() {
        return false;
    }

    /** @return the RAM block behind this region (RAM, ROM, ROM device, RAM device), or null */
    public RamBlock ramBlock() {
        return null;
    }

    /** @return the MMIO callbacks (I/O, ROM device, RAM device), or null */
    public MemoryRegionOps ops() {
        return null;
    }

    /**
     * QEMU's {@code memory_region_dispatch_read}: one read of {@code size} bytes at {@code addr} of
     * this region, as a device model forwards an access to another region (a bridge, a sub-device)
     * or TCG's {@code io_readx} makes one. What the region is decides:
     * <ul>
     * <li>An alias is followed to its target at {@code aliasOffset + addr} (modulo 2^64), along the
     *     whole chain.</li>
     * <li>An I/O region or a ROM device (in ROMD mode too: the read goes to its ops, not its memory)
     *     goes to its ops with {@link MmioDispatch}'s rules: {@code memory_region_access_valid}, the
     *     owner's re-entrancy guard ({@link dev.guestmem.access.MemTxResult#ACCESS_ERROR} on a
     *     re-entry, unless {@link #setReentrancyGuardDisabled}; never for ROM devices and read-only
     *     regions), splitting, and {@code adjust_endianness} to {@code bigEndian}.</li>
     * <li>A RAM device reads its block with one host access of {@code size} bytes
     *     ({@code ram_device_mem_ops}).</li>
     * <li>RAM, ROM, containers, IOMMU regions and I/O regions with null ops answer 0 and
     *     {@link dev.guestmem.access.MemTxResult#DECODE_ERROR}, as QEMU's {@code unassigned_mem_ops};
     *     so do ops without a read callback (QEMU would call NULL).</li>
     * </ul>
     * Unlike QEMU, an access that does not lie wholly inside the region (or inside an alias's window,
     * or inside its target once translated, or that wraps past 2^64) and an access to a
     * {@linkplain #destroy() destroyed} region answer 0 and {@code DECODE_ERROR} without calling
     * anything: QEMU passes any offset to the callbacks, which are written for offsets inside the
     * region (the address-space paths never give them others), and a destroyed region is a device
     * gone, whose address decodes to nothing. The region's enabled flag, and whether it is mapped,
     * do not matter (QEMU's neither).
     *
     * <p>Thread safety: any thread, without locks, as an address-space access; the region's fields
     * are read as its getters read them. Allocation-free once the owner's guard is looked up (the
     * first guarded access).
     *
     * @param addr offset in this region (unsigned)
     * @param size 1, 2, 4 or 8 ({@code memop_size})
     * @param bigEndian whether the access is big-endian ({@code MO_BE}; the host's order is
     *     {@code ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN})
     * @param attrs attributes
     * @param out receives the value, 0 on error; also the scratch of {@code read_with_attrs} callbacks
     * @return a {@link dev.guestmem.access.MemTxResult}
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8 (nothing is called)
     * @throws NullPointerException if {@code attrs} or {@code out} is null (nothing is called)
     */
    public final int dispatchRead(long addr, int size, boolean bigEndian, MemTxAttrs attrs, MmioValue out) {
        return RegionDispatch.read(this, addr, size, bigEndian, attrs, out);
    }

    /**
     * QEMU's {@code memory_region_dispatch_write}: one write of {@code size} bytes at {@code addr}
     * of this region. The cases are {@link #dispatchRead}'s; in addition, a valid write that matches
     * one of the terminal region's {@linkplain #addEventfd eventfds} signals it and answers
     * {@code OK} without calling the device or engaging its guard
     * ({@code memory_region_dispatch_write_eventfds}), exactly as an address-space write does. A
     * write refused with {@code DECODE_ERROR} changes nothing.
     *
     * @param addr offset in this region (unsigned)
     * @param data the value, in its low {@code size} bytes
     * @param size 1, 2, 4 or 8
     * @param bigEndian whether the access is big-endian ({@code MO_BE})
     * @param attrs attributes
     * @return a {@link dev.guestmem.access.MemTxResult}
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8 (nothing is called)
     * @throws NullPointerException if {@code attrs} is null (nothing is called)
     */
    public final int dispatchWrite(long addr, long data, int size, boolean bigEndian, MemTxAttrs attrs) {
        return RegionDispatch.write(this, addr, data, size, bigEndian, attrs);
    }

    /**
     * QEMU's {@code memory_region_get_ram_ptr}: the host memory from this region's byte 0. Aliases are
     * followed to their target, their offsets adding up, as in QEMU; the region at the end of the
     * chain must have a RAM block (RAM, ROM, RAM device, ROM device). The slice runs to the end of
     * the block's used length, as far as a C pointer into the block would be valid; it is the
     * block's memory, so the rules of {@link RamBlock#segment()} apply (a device that writes it
     * reports the bytes with {@link #setDirty}, or {@link #flushRomDevice} for a ROM device).
     *
     * @return a slice of the RAM block's segment
     * @throws RegionException if no RAM block is at the end of the alias chain (QEMU asserts)
     * @throws InvalidRangeException if the aliases' offsets reach past the block's used length
     */
    public final MemorySegment ramSegment() {
        lock(); // alias offsets move under the topology lock
        try {
            MemoryRegion mr = this;
            long offset = 0;
            boolean wrapped = false;
            while (mr instanceof AliasRegion alias) {
                long next = offset + alias.aliasOffset();
                wrapped |= Long.compareUnsigned(next, offset) < 0;
                offset = next;
                mr = alias.target();
            }
            RamBlock rb = mr.ramBlock();
            if (rb == null) {
                throw new RegionException("ramSegment of '" + name + "': '" + mr.name
                        + "' has no RAM block (QEMU asserts mr->ram_block)");
            }
            MemorySegment seg = rb.segment();
            if (wrapped || Long.compareUnsigned(offset, seg.byteSize()) > 0) {
                throw new InvalidRangeException("ramSegment of '" + name + "'", offset, 0,
                        "passes the end of block '" + rb.idstr() + "' (0x" + Long.toHexString(seg.byteSize()) + ")");
            }
            return seg.asSlice(offset);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_get_fd}: the descriptor of the RAM block behind this region.
     * Aliases are followed to the end of their chain, as QEMU does ({@code while (mr->alias)}); their
     * offsets do not matter. The descriptor is the block's ({@link RamBlock#fd()}): closed when the
     * block is released, so {@code dup} it to keep it.
     *
     * @return the descriptor, or -1 if the block has none (anonymous or caller-owned memory) or no RAM
     *     block is at the end of the chain (QEMU dereferences a NULL {@code ram_block} there)
     */
    public final int fd() {
        MemoryRegion mr = this;
        while (mr instanceof AliasRegion alias) {
            mr = alias.target(); // set once, at construction: no lock needed to walk the chain
        }
        RamBlock rb = mr.ramBlock();
        return rb == null ? -1 : rb.fd();
    }

    /**
     * QEMU's {@code memory_region_get_alignment}: the alignment of this region's RAM block
     * ({@link RamBlock#alignment()}). Like QEMU's {@code mr->align} it is the region's own: an
     * alias, I/O, container or IOMMU region has 0 (aliases are not followed).
     *
     * @return a power of two, or 0 without a RAM block or alignment
     */
    public final long alignment() {
        RamBlock rb = ramBlock();
        return rb == null ? 0 : rb.alignment();
    }

    // ---------------------------------------------------------------------------------------------
    // Subregions (memory_region_add_subregion*, memory_region_del_subregion)

    /**
     * The subregions in QEMU's list order (priority-descending, newest first among equals).
     *
     * @return an immutable snapshot of the list
     */
    public final List<MemoryRegion> subregions() {
        lock();
        try {
            return List.copyOf(subregionList);
        } finally {
            unlock();
        }
    }

    /**
     * The live subregion list, for renderers and printers that walk the tree.
     *
     * @implNote Topology lock held; do not keep the list beyond the locked section (it is the
     *           region's own list behind an unmodifiable view).
     * @return the subregions in QEMU's list order (an unmodifiable live view)
     */
    public final List<MemoryRegion> subregionList() {
        return unmodifiableSubregions;
    }

    /**
     * QEMU's {@code memory_region_add_subregion}: maps {@code sub} at {@code offset} with priority 0.
     *
     * @param offset offset in this region (unsigned)
     * @param sub the region to map
     * @throws RegionAlreadyMappedException if {@code sub} already has a container
     * @throws ForeignRegionException if {@code sub} belongs to another system
     * @throws RegionCycleException if {@code sub} is this region or contains it (also through aliases)
     */
    public final void addSubregion(long offset, MemoryRegion sub) {
        addSubregionOverlap(offset, sub, 0);
    }

    /**
     * QEMU's {@code memory_region_add_subregion_overlap}: maps {@code sub} at {@code offset} with the
     * given priority; where siblings overlap, the higher priority wins, and among equal priorities the
     * most recently added.
     *
     * @param offset offset in this region (unsigned)
     * @param sub the region to map
     * @param priority signed priority
     * @throws RegionAlreadyMappedException if {@code sub} already has a container
     * @throws ForeignRegionException if {@code sub} belongs to another system
     * @throws RegionCycleException if {@code sub} is this region or contains it (also through aliases)
     */
    public final void addSubregionOverlap(long offset, MemoryRegion sub, int priority) {
        Objects.requireNonNull(sub, "sub");
        lockOpenForChange("addSubregionOverlap");
        try {
            checkCanAdd(offset, sub);
            SystemInternals.transactionBegin(system);
            try {
                sub.priority = priority;
                addSubregionCommon(offset, sub);
            } finally {
                SystemInternals.transactionCommit(system);
            }
        } finally {
            unlock();
        }
    }

    private void checkCanAdd(long offset, MemoryRegion sub) {
        if (sub.system != system) {
            throw new ForeignRegionException(sub, this);
        }
        if (sub.container != null) {
            throw new RegionAlreadyMappedException(sub, sub.container, this);
        }
        if (sub.finalized) {
            throw new IllegalStateException("region '" + sub.name + "' is finalized (destroyed, no reference left)");
        }
        // Containment first: a path through an alias may also exist (an alias keeps subregions of
        // its own), and the self-alias acceptance below must not let a real containment cycle in.
        String nested = pathTo(sub, this, false);
        String path = nested != null ? nested : pathTo(sub, this);
        if (path != null) {
            String why = nested == null ? selfAliasRefusal(offset, sub) : "a region cannot contain itself";
            if (why != null) {
                throw new RegionCycleException("adding '" + sub.name + "' to '" + name + "' would close the cycle "
                        + path + " -> " + sub.name + ": " + why);
            }
        }
    }

    /** Most nested copies of itself an alias of an enclosing region may render (QEMU's boards need one). */
    private static final int MAX_SELF_ALIAS_TURNS = 64;

    /**
     * The one cycle QEMU's boards build, accepted as QEMU accepts it: an alias of this region or of
     * one of its containers, mapped inside this region at another place (the Arm SSE boards map an
     * alias of their container inside it). Rendering then shows the target again, shifted, and the
     * clip ends it after a few turns. Refused: any other cycle through aliases, an alias that would
     * show itself at the same place (QEMU would recurse until its stack ran out) and one that would
     * nest more than {@value #MAX_SELF_ALIAS_TURNS} copies.
     *
     * @return why the cycle is refused, or null if it is accepted
     */
    private String selfAliasRefusal(long offset, MemoryRegion sub) {
        if (!(sub instanceof AliasRegion alias)) {
            return "only an alias of an enclosing region may be mapped inside it";
        }
        java.math.BigInteger rel = java.math.BigInteger.ZERO;
        MemoryRegion r = this;
        while (r != null && r != alias.target) {
            rel = rel.add(new java.math.BigInteger(Long.toUnsignedString(r.addr)));
            r = r.container;
        }
        if (r == null) {
            return "only an alias of an enclosing region may be mapped inside it";
        }
        java.math.BigInteger shift = rel.add(new java.math.BigInteger(Long.toUnsignedString(offset)))
                .subtract(new java.math.BigInteger(Long.toUnsignedString(alias.aliasOffset)));
        if (shift.signum() == 0) {
            return "the alias would show its target at the same place, so rendering would never end";
        }
        java.math.BigInteger window = alias.size == -1L ? java.math.BigInteger.ONE.shiftLeft(64)
                : new java.math.BigInteger(Long.toUnsignedString(alias.size));
        if (window.divide(shift.abs()).compareTo(java.math.BigInteger.valueOf(MAX_SELF_ALIAS_TURNS)) > 0) {
            return "the alias would nest more than " + MAX_SELF_ALIAS_TURNS + " copies of its target";
        }
        return null;
    }

    /**
     * Finds a path from {@code from} to {@code to} along subregion and alias-target edges.
     *
     * @return a printable path, or null if {@code to} is not reachable
     */
    static String pathTo(MemoryRegion from, MemoryRegion to) {
        return pathTo(from, to, true);
    }

    /**
     * @param aliases whether alias-target edges count, or only subregion edges
     * @return a printable path, or null if {@code to} is not reachable
     */
    private static String pathTo(MemoryRegion from, MemoryRegion to, boolean aliases) {
        return pathTo(from, to, aliases, Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    private static String pathTo(MemoryRegion from, MemoryRegion to, boolean aliases, Set<MemoryRegion> seen) {
        if (from == to) {
            return from.name;
        }
        if (!seen.add(from)) {
            return null;
        }
        if (aliases && from instanceof AliasRegion a) {
            String p = pathTo(a.target, to, true, seen);
            if (p != null) {
                return from.name + " =alias=> " + p;
            }
        }
        for (MemoryRegion c : from.subregionList) {
            String p = pathTo(c, to, aliases, seen);
            if (p != null) {
                return from.name + " -> " + p;
            }
        }
        return null;
    }

    /** QEMU's {@code memory_region_add_subregion_common}; validation done, transaction open. */
    private void addSubregionCommon(long offset, MemoryRegion sub) {
        sub.container = this;
        if (sub.addr != offset) {
            // A view rendered from the subregion itself (an address space rooted there) shifts with
            // its address, even while it was out of any container: rebuild it, as setAddress does.
            sub.invalidateSelfOnly();
        }
        sub.addr = offset;
        for (MemoryRegion a = sub; a instanceof AliasRegion alias; a = alias.target) {
            alias.target.mappedViaAlias++;
        }
        sub.ref();
        // memory_region_update_container_subregions: before the first sibling with priority <= own.
        int i = 0;
        int n = subregionList.size();
        while (i < n && subregionList.get(i).priority > sub.priority) {
            i++;
        }
        subregionList.add(i, sub);
        if (enabled && sub.enabled) {
            SystemInternals.markUpdatePending(system);
        }
        SystemInternals.invalidate(system, this, Int128.ofUnsigned(offset),
                Int128.ofUnsigned(offset).add(sub.size128()));
    }

    /**
     * QEMU's {@code memory_region_del_subregion}: unmaps {@code sub}.
     *
     * @param sub a subregion of this region
     * @throws NotASubregionException if {@code sub}'s container is not this region
     */
    public final void delSubregion(MemoryRegion sub) {
        Objects.requireNonNull(sub, "sub");
        lockOpenForChange("delSubregion");
        try {
            delSubregionUnchecked(sub);
        } finally {
            unlock();
        }
    }

    /**
     * {@link #delSubregion} without the refusal on a closed machine, for {@link RegionTeardown},
     * which takes regions out on a closed machine too (its own teardown, or a user's after it).
     */
    final void delSubregionUnchecked(MemoryRegion sub) {
        lockForChange();
        try {
            if (sub.container != this) {
                throw new NotASubregionException(sub, this);
            }
            SystemInternals.transactionBegin(system);
            try {
                delSubregionCommon(sub);
            } finally {
                SystemInternals.transactionCommit(system);
            }
        } finally {
            unlock();
        }
    }

    private void delSubregionCommon(MemoryRegion sub) {
        SystemInternals.invalidate(system, this, Int128.ofUnsigned(sub.addr),
                Int128.ofUnsigned(sub.addr).add(sub.size128()));
        sub.container = null;
        for (MemoryRegion a = sub; a instanceof AliasRegion alias; a = alias.target) {
            alias.target.mappedViaAlias--;
            assert alias.target.mappedViaAlias >= 0;
        }
        subregionList.remove(sub);
        if (enabled && sub.enabled) {
            SystemInternals.markUpdatePending(system);
        }
        sub.unref();
    }

    /** @return QEMU's {@code memory_region_is_mapped}: has a container or is the target of a mapped alias */
    public final boolean isMapped() {
        return container != null || mappedViaAlias > 0;
    }

    // ---------------------------------------------------------------------------------------------
    // Setters

    /**
     * QEMU's {@code memory_region_set_enabled}. A disabled region and its subtree render as if removed:
     * they do not obscure lower-priority siblings.
     *
     * @param enabled the new state
     */
    public final void setEnabled(boolean enabled) {
        lockOpenForChange("setEnabled");
        try {
            if (enabled == this.enabled) {
                return;
            }
            SystemInternals.transactionBegin(system);
            try {
                invalidateSelf();
                this.enabled = enabled;
                SystemInternals.markUpdatePending(system);
            } finally {
                SystemInternals.transactionCommit(system);
            }
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_set_address}: moves the region inside its container. Implemented as
     * delete + re-add (QEMU's {@code memory_region_readd_subregion}), keeping the priority, so the
     * region becomes the newest among siblings of equal priority. Without a container only the field
     * changes.
     *
     * @param addr new offset in the container (unsigned)
     */
    public final void setAddress(long addr) {
        lockOpenForChange("setAddress");
        try {
            if (addr == this.addr) {
                return;
            }
            MemoryRegion c = container;
            if (c == null) {
                // The region may be the root of a view: its own address shifts what it renders.
                SystemInternals.transactionBegin(system);
                try {
                    // QEMU only sets the field; a view rendered from this region shifts, so it is
                    // rebuilt (and an update marked pending only when such a view exists).
                    invalidateSelfOnly();
                    this.addr = addr;
                } finally {
                    SystemInternals.transactionCommit(system);
                }
                return;
            }
            SystemInternals.transactionBegin(system);
            try {
                ref();
                invalidateSelfOnly();
                c.delSubregionCommon(this);
                c.addSubregionCommon(addr, this);
                invalidateSelfOnly();
                unref();
            } finally {
                SystemInternals.transactionCommit(system);
            }
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_set_size}.
     *
     * @param size new size, {@code -1L} for 2^64
     */
    public final void setSize(long size) {
        lockOpenForChange("setSize");
        try {
            if (size == this.size) {
                return;
            }
            SystemInternals.transactionBegin(system);
            try {
                invalidateSelf();
                this.size = size;
                invalidateSelf();
                SystemInternals.markUpdatePending(system);
            } finally {
                SystemInternals.transactionCommit(system);
            }
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_set_readonly}. The flag is inherited by everything rendered below
     * this region (through containers and aliases).
     *
     * @param readonly the new flag
     * @throws IllegalStateException when clearing the flag of a RAM region whose block is mapped
     *     read-only (a guest write would store into a {@code PROT_READ} mapping and kill the JVM)
     */
    public final void setReadonly(boolean readonly) {
        lockOpenForChange("setReadonly");
        try {
            if (readonly == this.readonly) {
                return;
            }
            if (!readonly && this instanceof RamRegion r && r.ramBlock().isReadOnly()) {
                throw new IllegalStateException("region '" + name + "': its RAM block '" + r.ramBlock().idstr()
                        + "' is mapped read-only, so the region cannot be made writable");
            }
            flagChange(() -> this.readonly = readonly);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_set_nonvolatile}.
     *
     * @param nonvolatile the new flag
     */
    public final void setNonvolatile(boolean nonvolatile) {
        lockOpenForChange("setNonvolatile");
        try {
            if (nonvolatile == this.nonvolatile) {
                return;
            }
            flagChange(() -> this.nonvolatile = nonvolatile);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_set_unmergeable}: flat ranges of this region (and of everything
     * rendered below it) are never merged with their neighbours.
     *
     * @param unmergeable the new flag
     */
    public final void setUnmergeable(boolean unmergeable) {
        lockOpenForChange("setUnmergeable");
        try {
            if (unmergeable == this.unmergeable) {
                return;
            }
            flagChange(() -> this.unmergeable = unmergeable);
        } finally {
            unlock();
        }
    }

    /**
     * The common tail of flag setters: begin, change, mark pending if enabled, commit.
     *
     * @param change the field assignment
     */
    final void flagChange(Runnable change) {
        SystemInternals.transactionBegin(system);
        try {
            change.run();
            if (enabled) {
                invalidateSelf();
                SystemInternals.markUpdatePending(system);
            }
        } finally {
            SystemInternals.transactionCommit(system);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Ioeventfds and coalesced MMIO

    /**
     * QEMU's {@code memory_region_add_eventfd}: from the end of this call (or of the enclosing
     * transaction, for listeners) a guest write of {@code size} bytes at {@code addr} that carries
     * {@code data} (any data unless {@code matchData}) signals {@code notifier} instead of calling
     * the device, and returns {@code OK}. {@code size} 0 matches every write at {@code addr}. The
     * write is first checked against the device's {@code valid} rules (an invalid write is still a
     * decode error) and compared in the device's byte order; {@code data} is given in the target's
     * order ({@link MemorySystem#targetOrder()}, {@code MO_TE}) and converted, as QEMU does: the
     * guest CPU's own-order store of {@code data} matches, whatever the device's order (a region
     * without ops counts as the target's order, as QEMU's {@code unassigned_mem_ops}). Listeners hear
     * {@link dev.guestmem.listener.MemoryListener#eventfdAdd} at guest addresses.
     *
     * <p>Adding the same eventfd twice keeps two entries (QEMU does too; KVM would refuse the second).
     *
     * @param addr offset in this region
     * @param size 0, 1, 2, 4 or 8
     * @param matchData whether {@code data} must match
     * @param data the value to match
     * @param notifier what a matching write signals
     * @throws IllegalArgumentException if {@code size} is not 0, 1, 2, 4 or 8
     * @throws InvalidRangeException if the bytes do not lie inside the region
     * @throws NullPointerException if {@code notifier} is null
     */
    public final void addEventfd(long addr, int size, boolean matchData, long data, EventNotifier notifier) {
        Ioeventfd fd = eventfd(addr, size, matchData, data, notifier);
        lockOpenForChange("addEventfd");
        try {
            SystemInternals.transactionBegin(system);
            try {
                if (ioeventfds.isEmpty()) {
                    SystemInternals.regionEventfdsAppeared(system);
                }
                IoeventfdList old = ioeventfds;
                ioeventfds = old.with(fd);
                old.supersede(ioeventfds); // a write still holding the old list follows it (MmioDispatch)
                if (enabled) {
                    SystemInternals.markIoeventfdUpdatePending(system);
                }
            } finally {
                SystemInternals.transactionCommit(system);
            }
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_del_eventfd}: removes the first eventfd QEMU takes as the same one
     * (same address and, unless either size is 0, same size, match flag, data and notifier).
     *
     * <p>When this call returns, no guest write signals the notifier through the removed eventfd any
     * more (other eventfds on it, or an equal one added twice, still do): a write that checked the
     * list before the removal and is still signalling is waited for (a grace period, as KVM's SRCU
     * in {@code KVM_IOEVENTFD} deassign), and later ones go to the device. So a device may drain the
     * notifier ({@link EventNotifier#testAndClear}) and then {@linkplain EventNotifier#close() close}
     * or reuse it: no kick is lost or comes late. The wait is for writes already inside their
     * signal (one non-blocking write(2) each), not for device callbacks, so it is safe from a device
     * callback or a listener, on any thread. Destroying the region waits for nothing: delete its
     * eventfds first to rely on this.
     *
     * @param addr offset in this region
     * @param size 0, 1, 2, 4 or 8
     * @param matchData whether {@code data} had to match
     * @param data the value
     * @param notifier the notifier
     * @throws java.util.NoSuchElementException if no such eventfd is registered (nothing changes;
     *     QEMU asserts)
     * @throws IllegalArgumentException if {@code size} is not 0, 1, 2, 4 or 8
     * @throws InvalidRangeException if the bytes do not lie inside the region
     */
    public final void delEventfd(long addr, int size, boolean matchData, long data, EventNotifier notifier) {
        Ioeventfd fd = eventfd(addr, size, matchData, data, notifier);
        lockOpenForChange("delEventfd");
        try {
            int i = ioeventfds.find(fd);
            if (i < 0) {
                throw new java.util.NoSuchElementException("region '" + name + "' has no eventfd " + fd);
            }
            SystemInternals.transactionBegin(system);
            try {
                IoeventfdList old = ioeventfds;
                ioeventfds = old.without(i);
                old.supersede(ioeventfds); // a write still holding the old list sends it to the device
                old.awaitSignals(); // and one that checked before has signalled by the time we return
                if (ioeventfds.isEmpty()) {
                    SystemInternals.regionEventfdsGone(system);
                }
                if (enabled) {
                    SystemInternals.markIoeventfdUpdatePending(system);
                }
            } finally {
                SystemInternals.transactionCommit(system);
            }
        } finally {
            unlock();
        }
    }

    /** Checks an eventfd's range and puts its data in the device's byte order. */
    private Ioeventfd eventfd(long addr, int size, boolean matchData, long data, EventNotifier notifier) {
        Ioeventfd fd = new Ioeventfd(addr, size, matchData, data, notifier);
        Int128 end = Int128.ofUnsigned(addr).addUnsigned(Math.max(size, 1));
        if (end.compareTo(Int128.ofSize(this.size)) > 0) {
            throw new InvalidRangeException("eventfd in '" + name + "'", addr, size, "does not fit in the region");
        }
        MemoryRegionOps ops = ops();
        boolean targetBig = system.isTargetBigEndian();
        // no ops: QEMU's unassigned_mem_ops, DEVICE_NATIVE_ENDIAN, the target's order (no swap)
        boolean deviceBig = ops == null ? targetBig : MmioDispatch.isBigEndian(ops.endianness());
        // memory_region_add_eventfd: adjust_endianness(mr, &data, size | MO_TE), the target's order
        if (size != 0 && deviceBig != targetBig) {
            return new Ioeventfd(addr, size, matchData, MmioDispatch.swap(MmioDispatch.truncate(data, size), size),
                    notifier);
        }
        return fd;
    }

    /** @return the eventfds, in QEMU's order (offsets in this region, data in the device's order) */
    public final IoeventfdList ioeventfds() {
        return ioeventfds;
    }

    /**
     * Whether the region has an eventfd now: one read of the published list (an MMIO write's test
     * for its one-call path; {@link IoeventfdList#EMPTY} is the only empty list).
     *
     * @return whether {@link #ioeventfds()} is not empty
     */
    public final boolean hasIoeventfds() {
        return ioeventfds != IoeventfdList.EMPTY;
    }

    /**
     * QEMU's {@code memory_region_add_coalescing}: marks {@code [offset, offset + size)} as a window
     * whose writes an accelerator may buffer; listeners of every address space showing the region
     * hear {@link dev.guestmem.listener.MemoryListener#coalescedIoAdd} for each flat range it
     * touches, now. Also sets the flush flag ({@link #isFlushCoalesced()}). guestmem's own dispatch
     * delivers every write at once, so for it the window changes nothing beyond that flag.
     *
     * @param offset first byte, in this region
     * @param size length (not 0)
     * @throws InvalidRangeException if the window is empty or does not lie inside the region
     */
    public final void addCoalescing(long offset, long size) {
        CoalescedRange cmr = coalescedWindow(offset, size);
        lockOpen("addCoalescing");
        try {
            coalesced.add(cmr);
            setFlushFlag(true); // before the listeners: one that throws leaves the region whole
            SystemInternals.coalescedRangeChanged(system, this, cmr, true);
        } finally {
            unlock();
        }
    }

    /** The window {@code [offset, offset + size)}, refused if it is empty or does not fit the region. */
    private CoalescedRange coalescedWindow(long offset, long size) {
        CoalescedRange cmr = new CoalescedRange(offset, size);
        if (size == 0 || cmr.end().compareTo(Int128.ofSize(this.size)) > 0) {
            throw new InvalidRangeException("coalesced window in '" + name + "'", offset, size,
                    "must be non-empty and fit in the region");
        }
        return cmr;
    }

    /**
     * QEMU's {@code memory_region_set_coalescing}: the whole region becomes the one window.
     *
     * @throws InvalidRangeException if the region is empty (size 0); its windows stay as they were
     */
    public final void setCoalescing() {
        flushBeforeClear();
        lockOpen("setCoalescing");
        try {
            coalescedWindow(0, size); // checked before the old windows go: a refusal changes nothing
            clearCoalescingLocked();
            addCoalescing(0, size);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_clear_coalescing}: flushes the accelerator's coalesced MMIO
     * ({@link MemorySystem#flushCoalescedMmio}, before taking the lock) if the region has windows,
     * then removes every window (listeners hear {@code coalescedIoDel} for each) and clears the
     * flush flag.
     */
    public final void clearCoalescing() {
        flushBeforeClear();
        lockOpen("clearCoalescing");
        try {
            clearCoalescingLocked();
        } finally {
            unlock();
        }
    }

    /**
     * The flush QEMU's {@code memory_region_clear_coalescing} runs first, so the writes buffered in
     * the windows reach the device before accesses that no longer flush. Outside the lock, as
     * {@link MemorySystem#transactionBegin}'s; the volatile flag stands for "has windows" (windows
     * imply it), so a region with the flag alone flushes once more than QEMU would, which is harmless.
     */
    private void flushBeforeClear() {
        if (flushCoalescedMmio) {
            system.flushCoalescedMmio();
        }
    }

    /** {@link #clearCoalescing} with the lock held and the flush done. */
    private void clearCoalescingLocked() {
        if (coalesced.isEmpty()) {
            return;
        }
        setFlushFlag(false);
        List<CoalescedRange> removed = List.copyOf(coalesced);
        coalesced.clear();
        // Every window is gone whatever a listener does; each is announced, and the first
        // listener's throw comes after the last (the later ones suppressed in it).
        RuntimeException first = null;
        for (CoalescedRange cmr : removed) {
            try {
                SystemInternals.coalescedRangeChanged(system, this, cmr, false);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** @return whether the region has coalesced windows (no copy: for the topology passes) */
    public final boolean hasCoalescing() {
        return !coalesced.isEmpty();
    }

    /** @return the coalesced windows, oldest first (a snapshot) */
    public final List<CoalescedRange> coalescedRanges() {
        lock();
        try {
            return List.copyOf(coalesced);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_set_flush_coalesced}: an accelerator must flush buffered writes
     * before any access to this region. From the return of this call on, every device access to the
     * region through an address space first runs the system's
     * {@linkplain MemorySystem#setCoalescedMmioFlusher coalesced-MMIO flush} (QEMU's
     * {@code prepare_mmio_access}); no topology update, no listener call.
     */
    public final void setFlushCoalesced() {
        lockOpen("setFlushCoalesced");
        try {
            setFlushFlag(true);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_clear_flush_coalesced}: flushes the accelerator's coalesced MMIO
     * ({@link MemorySystem#flushCoalescedMmio}, before taking the lock), then clears the flag unless
     * windows remain.
     */
    public final void clearFlushCoalesced() {
        system.flushCoalescedMmio();
        lockOpen("clearFlushCoalesced");
        try {
            if (coalesced.isEmpty()) {
                setFlushFlag(false);
            }
        } finally {
            unlock();
        }
    }

    /**
     * Changes the flush flag (lock held). Setting it also drops this region's section from every
     * address space's fast MMIO slot: that plain-read fast path has no flush, and the slow path
     * that refills it refuses a flush-coalesced region. No re-render, no listener call (QEMU's
     * {@code memory_region_set_flush_coalesced} has none either): accesses read the flag itself.
     */
    private void setFlushFlag(boolean flush) {
        if (flushCoalescedMmio == flush) {
            return;
        }
        flushCoalescedMmio = flush;
        if (flush) {
            SystemInternals.flushCoalescedSet(system, this);
        }
    }

    /** @return QEMU's {@code flush_coalesced_mmio} flag */
    public final boolean isFlushCoalesced() {
        return flushCoalescedMmio;
    }

    /**
     * QEMU's {@code memory_region_set_log}: turns VGA dirty logging on or off. Reference-counted: each
     * {@code true} needs a matching {@code false}; views change only on 0-to-1 and 1-to-0.
     *
     * @param log whether to log
     * @param client the dirty-log client; only {@link #DIRTY_MEMORY_VGA} may be set this way
     * @throws IllegalArgumentException if {@code client} is not VGA, or logging is turned off more
     *         often than on
     */
    public final void setLog(boolean log, int client) {
        if (client != DIRTY_MEMORY_VGA) {
            throw new IllegalArgumentException("only DIRTY_MEMORY_VGA (0) can be set per region, not " + client);
        }
        lockOpenForChange("setLog");
        try {
            if (!log && vgaLoggingCount == 0) {
                throw new IllegalArgumentException("setLog(false) on '" + name + "' without a matching setLog(true)");
            }
            int old = vgaLoggingCount;
            vgaLoggingCount += log ? 1 : -1;
            if ((old != 0) == (vgaLoggingCount != 0)) {
                return;
            }
            int mask = 1 << client;
            flagChange(() -> ownDirtyLogMask = (ownDirtyLogMask & ~mask) | (log ? mask : 0));
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_get_dirty_log_mask}: the region's own (VGA) mask, plus MIGRATION while
     * global dirty tracking is on and the region has a migratable RAM block or is an IOMMU, plus CODE
     * when the system emulates with TCG and the region has a RAM block.
     *
     * @return the mask of active dirty-log clients ({@code 1 << client})
     */
    public final int dirtyLogMask() {
        int mask = ownDirtyLogMask;
        RamBlock rb = ramBlock();
        if (system.isGlobalDirtyTracking() && ((rb != null && isMigratable(rb)) || isIommu())) {
            mask |= 1 << DIRTY_MEMORY_MIGRATION;
        }
        if (system.isTcgEnabled() && rb != null) {
            mask |= 1 << DIRTY_MEMORY_CODE;
        }
        return mask;
    }

    /**
     * QEMU's {@code qemu_ram_is_migratable}. Hook for the RAM package: every block migrates until
     * blocks carry the flag.
     */
    private static boolean isMigratable(RamBlock rb) {
        return true;
    }

    // ---------------------------------------------------------------------------------------------
    // Region-level dirty logging (memory_region_set_dirty, _reset_dirty, _snapshot_and_clear_dirty,
    // _snapshot_get_dirty)
    //
    // Offsets are relative to this region; the bitmaps are indexed by ram_addr, and byte 0 of the
    // region is ramBlock().offset() (memory_region_get_ram_addr). QEMU asserts mr->ram_block and
    // trusts the range; here a region without a RAM block, a range outside the region or a bad client
    // throws before anything changes (no sync, no bit touched).
    //
    // Listeners hear log_clear after a reset (the whole pages cleared) or a snapshot (the range
    // asked), as QEMU's memory_region_clear_dirty_bitmap (MemorySystem.clearDirtyBitmap). TCG's
    // TLB re-arm is the DirtyMemory clean epoch, which every clear advances.

    /**
     * QEMU's {@code memory_region_set_dirty}: marks the pages of {@code [addr, addr + size)} dirty for
     * the clients that log this region right now ({@link #dirtyLogMask()}, read at the call); nothing
     * when the mask is 0. As {@code physical_memory_set_dirty_range}, a range touching part of a page
     * covers the whole page (a zero size at an unaligned offset covers the page holding it).
     * Under TCG the mask includes CODE, which is only set, as in QEMU: translated code on the pages
     * loses its protection without being invalidated. To report bytes a device wrote through the raw
     * segment, use {@link RamBlock#markWritten}, which invalidates translations too.
     *
     * @param addr offset in this region (unsigned)
     * @param size bytes (unsigned)
     * @throws RegionException if the region has no RAM block
     * @throws InvalidRangeException if the range does not lie inside the region
     */
    public final void setDirty(long addr, long size) {
        lockOpen("setDirty");
        try {
            long ramAddr = dirtyRamAddr(addr, size, "setDirty");
            int mask = dirtyLogMask();
            if (mask == 0) {
                return;
            }
            system.dirtyMemory().setDirtyRange(ramAddr, size, mask);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_flush_rom_device}: a ROM device model wrote its own memory (behind
     * the address space, through {@link RamBlock#segment()}); logs it as a guest write would
     * ({@code invalidate_and_set_dirty}): translated code in the range is invalidated (CODE) and the
     * pages marked for the other clients logging this region.
     *
     * @param addr offset in this region (unsigned)
     * @param size bytes (unsigned)
     * @throws RegionException if the region is not a ROM device
     * @throws InvalidRangeException if the range does not lie inside the region
     */
    public final void flushRomDevice(long addr, long size) {
        if (!isRomDevice()) {
            throw new RegionException("flushRomDevice on '" + name + "', which is not a ROM device");
        }
        lockOpen("flushRomDevice");
        try {
            long ramAddr = dirtyRamAddr(addr, size, "flushRomDevice");
            int mask = dirtyLogMask();
            if (mask != 0 && size != 0) {
                system.dirtyMemory().invalidateAndSetDirty(ramAddr, size, mask);
            }
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_is_logging}.
     *
     * @param client {@link #DIRTY_MEMORY_VGA}, {@link #DIRTY_MEMORY_CODE} or {@link #DIRTY_MEMORY_MIGRATION}
     * @return whether that client logs this region now
     * @throws IllegalArgumentException if {@code client} is not 0..2
     */
    public final boolean isLogging(int client) {
        checkDirtyClient(client);
        return (dirtyLogMask() & (1 << client)) != 0;
    }

    /**
     * QEMU's {@code memory_region_reset_dirty}: test-and-clear of one client's bits over
     * {@code [addr, addr + size)} (whole pages; QEMU's {@code physical_memory_test_and_clear_dirty}),
     * then {@code logClear} to listeners for the range ({@link MemorySystem#clearDirtyBitmap}). A zero
     * size does nothing, as in QEMU.
     *
     * @param addr offset in this region (unsigned)
     * @param size bytes (unsigned)
     * @param client {@link #DIRTY_MEMORY_VGA}, {@link #DIRTY_MEMORY_CODE} or {@link #DIRTY_MEMORY_MIGRATION}
     * @throws RegionException if the region has no RAM block
     * @throws InvalidRangeException if the range does not lie inside the region
     * @throws IllegalArgumentException if {@code client} is not 0..2
     */
    public final void resetDirty(long addr, long size, int client) {
        checkDirtyClient(client);
        lockOpen("resetDirty");
        try {
            long ramAddr = dirtyRamAddr(addr, size, "resetDirty");
            if (size == 0) {
                return;
            }
            system.dirtyMemory().testAndClearDirty(ramAddr, size, client);
            // physical_memory_test_and_clear_dirty reports the whole target pages it cleared
            long page = DirtyMemory.TARGET_PAGE_SIZE;
            long first = addr & -page;
            long end = (addr + size + page - 1) & -page; // no wrap: the range lies inside the region
            system.clearDirtyBitmap(this, first, end - first);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_snapshot_and_clear_dirty}: first {@code memory_region_sync_dirty_bitmap}
     * for this region ({@link MemorySystem#syncDirtyBitmap}: {@code logSync} on each listener for every
     * logging range of this region in its address space's view), then copies and clears one client's
     * bits. The snapshot window is {@code [ramAddr + addr, ramAddr + addr + size)} widened to
     * {@link DirtyMemory#SNAPSHOT_ALIGN} (64 pages) in ram_addr space, so it may be larger than asked
     * and every bit in it is cleared, as in QEMU; listeners then hear {@code logClear} for the
     * requested range ({@link MemorySystem#clearDirtyBitmap}) and {@code logGlobalAfterSync}. Query it with
     * {@link #snapshotGetDirty}.
     *
     * @param addr offset in this region (unsigned)
     * @param size bytes (unsigned)
     * @param client {@link #DIRTY_MEMORY_VGA}, {@link #DIRTY_MEMORY_CODE} or {@link #DIRTY_MEMORY_MIGRATION}
     * @return the snapshot (its start and end are ram_addrs)
     * @throws RegionException if the region has no RAM block
     * @throws InvalidRangeException if the range does not lie inside the region
     * @throws IllegalArgumentException if {@code client} is not 0..2
     */
    public final DirtyBitmapSnapshot snapshotAndClearDirty(long addr, long size, int client) {
        checkDirtyClient(client);
        lockOpen("snapshotAndClearDirty");
        try {
            long ramAddr = dirtyRamAddr(addr, size, "snapshotAndClearDirty");
            // One notification: a topology change made by a listener's logSync waits until the
            // clear and the after-sync have seen the view the sync began with.
            return SystemInternals.runAsOneNotification(system, () -> {
                system.syncDirtyBitmap(this);
                DirtyBitmapSnapshot snap = system.dirtyMemory().snapshotAndClearDirty(ramAddr, size, client);
                system.clearDirtyBitmap(this, addr, size); // the requested range only, as QEMU
                system.globalAfterDirtyLogSync();
                return snap;
            });
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_snapshot_get_dirty}: whether any page of {@code [addr, addr + size)}
     * (offsets in this region) is dirty in {@code snap}. The range, moved to ram_addr space, must lie
     * inside the snapshot's window (QEMU asserts it); it may reach beyond the range the snapshot was
     * asked for, up to the window's 64-page rounding. The snapshot is expected to come from
     * {@link #snapshotAndClearDirty} on this region; only its window is checked.
     *
     * @param snap a snapshot
     * @param addr offset in this region (unsigned)
     * @param size bytes (unsigned)
     * @return true if some page of the range is dirty in the snapshot
     * @throws NullPointerException if {@code snap} is null
     * @throws RegionException if the region has no RAM block
     * @throws IllegalArgumentException if the range does not lie inside the snapshot's window
     */
    public final boolean snapshotGetDirty(DirtyBitmapSnapshot snap, long addr, long size) {
        Objects.requireNonNull(snap, "snap");
        long base = dirtyRamBlock("snapshotGetDirty").offset();
        long ramAddr = base + addr;
        if (Long.compareUnsigned(ramAddr, base) < 0) {
            throw new IllegalArgumentException("snapshotGetDirty on '" + name + "': offset 0x"
                    + Long.toHexString(addr) + " size 0x" + Long.toHexString(size)
                    + " passes 2^64 in ram_addr space, not inside the snapshot [0x"
                    + Long.toHexString(snap.start()) + ", 0x" + Long.toHexString(snap.end()) + ")");
        }
        return snap.getDirty(ramAddr, size);
    }

    /** @return the RAM block, or a {@link RegionException} naming the operation */
    private RamBlock dirtyRamBlock(String op) {
        RamBlock rb = ramBlock();
        if (rb == null) {
            throw new RegionException(op + " on '" + name + "': the region has no RAM block ("
                    + getClass().getSimpleName() + "; QEMU asserts mr->ram_block)");
        }
        return rb;
    }

    /**
     * Validates a region-relative dirty range: it must lie inside the region and inside its block's
     * maximum length (the extent the dirty bitmaps hold for the block).
     *
     * @return the ram_addr of {@code addr}
     */
    private long dirtyRamAddr(long addr, long size, String op) {
        RamBlock rb = dirtyRamBlock(op);
        // Unsigned limit: a region size of -1L (2^64) compares as the largest value.
        long limit = Long.compareUnsigned(this.size, rb.maxLength()) < 0 ? this.size : rb.maxLength();
        if (Long.compareUnsigned(addr, limit) > 0 || Long.compareUnsigned(size, limit - addr) > 0) {
            throw new InvalidRangeException(op + " on '" + name + "'", addr, size,
                    "not inside the region's 0x" + Long.toHexString(limit) + " bytes");
        }
        return rb.offset() + addr;
    }

    private static void checkDirtyClient(int client) {
        if (client < 0 || client >= DirtyMemory.DIRTY_MEMORY_NUM) {
            throw new IllegalArgumentException("dirty client " + client + " not within 0.."
                    + (DirtyMemory.DIRTY_MEMORY_NUM - 1));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // RAM discard manager (the rules live in dev.guestmem.discard)

    /**
     * QEMU's {@code memory_region_set_ram_discard_manager}: gives this RAM region the manager that
     * knows which parts of it are populated. Only while the region is not mapped (directly or
     * through an alias), and at most one manager: to replace it, clear it first ({@code null}).
     * Clearing a {@link dev.guestmem.discard.BitmapRamDiscardManager} detaches it (its claim on the
     * discard policy goes back), as its {@code detach()} does.
     *
     * @param manager the manager, or null to clear
     * @throws dev.guestmem.discard.RamDiscardManagerException if the region is not RAM, is mapped,
     *     or already has a manager, the manager was made for another region or detached, or a
     *     cleared manager still has listeners; nothing changes then
     */
    public final void setRamDiscardManager(RamDiscardManager manager) {
        lock();
        try {
            if (manager != null && system.isClosed()) { // clearing one gives back, and the teardown does it
                throw closedRefusal("setRamDiscardManager");
            }
            ManagerAssignment.check(this, ramDiscardManager, manager);
            RamDiscardManager previous = ramDiscardManager;
            ramDiscardManager = manager;
            ManagerAssignment.dropped(previous);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_get_ram_discard_manager}: the manager of a RAM region, mapped or
     * not (since QEMU 8.1; before, NULL for an unmapped region, which hid the manager from a
     * listener's {@code region_del} of the region being removed).
     *
     * @return the manager, or null
     */
    public final RamDiscardManager ramDiscardManager() {
        return isRam() ? ramDiscardManager : null;
    }

    /** @return QEMU's {@code memory_region_has_ram_discard_manager}: {@link #ramDiscardManager()} is not null */
    public final boolean hasRamDiscardManager() {
        return ramDiscardManager() != null;
    }

    // ---------------------------------------------------------------------------------------------
    // Lookup

    /**
     * QEMU's {@code memory_region_find}: finds what the address space containing this region shows at
     * {@code [addr, addr + size)}, where {@code addr} is relative to this region. The region is
     * located by walking containers up to a root that is an address space's root; the answer comes
     * from that address space's current view, so it is resolved through aliases to a terminal region.
     * The returned section holds a reference on its region: call {@link MemoryRegionSection#release()}.
     *
     * @param addr offset relative to this region (unsigned)
     * @param size length in bytes (unsigned)
     * @return the first flat range intersecting the window, clipped to it, or
     *         {@link MemoryRegionSection#empty()} when nothing is mapped there or no address space
     *         shows this region's tree
     */
    public final MemoryRegionSection find(long addr, long size) {
        lock();
        try {
            MemoryRegionSection s = SystemInternals.find(system, this, addr, size);
            if (s.region() != null) {
                s.region().ref();
            }
            return s;
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_present}: whether something other than this region itself is mapped
     * at {@code offset}.
     *
     * @param offset offset in this region
     * @return whether a region other than this one serves that byte
     */
    public final boolean present(long offset) {
        lock();
        try {
            MemoryRegion mr = SystemInternals.find(system, this, offset, 1).region();
            return mr != null && mr != this;
        } finally {
            unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Reference counting

    /** QEMU's {@code memory_region_ref}: takes a reference. */
    public final void ref() {
        lock();
        try {
            if (finalized) {
                throw new IllegalStateException("region '" + name + "' is already finalized");
            }
            refCount++;
        } finally {
            unlock();
        }
    }

    /** QEMU's {@code memory_region_unref}: drops a reference; the last one on a destroyed region finalizes it. */
    public final void unref() {
        lock();
        try {
            if (refCount <= 0) {
                throw new IllegalStateException("unref of '" + name + "' with no reference left");
            }
            if (--refCount == 0) {
                finalizeRegion();
            }
        } finally {
            unlock();
        }
    }

    /**
     * Drops the creator's reference (QEMU's {@code object_unparent}). The region must not be mapped in
     * a container any more; it stays usable while others still reference it (old views, sections).
     *
     * <p>On a {@linkplain MemorySystem#close() closed} machine, destroying a destroyed region does
     * nothing: {@code close()} destroyed the regions it collected, so a device's unrealize that
     * destroys its region afterwards is not a double destroy.
     *
     * @throws IllegalStateException if it is still a subregion, or already destroyed (on a machine
     *     that is not closed)
     * @throws dev.guestmem.discard.RamDiscardManagerException if it still has a
     *     {@link RamDiscardManager} (detach it first, as virtio-mem's unrealize does; QEMU cannot
     *     delete a memory backend a device uses)
     */
    public final void destroy() {
        lockForChange();
        try {
            if (destroyed) {
                if (system.isClosed()) {
                    return; // close() destroyed it: the owner's own destroy comes after, and is no error
                }
                throw new IllegalStateException("region '" + name + "' destroyed twice");
            }
            if (container != null) {
                throw new IllegalStateException("region '" + name + "' is still a subregion of '"
                        + container.name + "'");
            }
            if (ramDiscardManager != null) {
                throw new dev.guestmem.discard.RamDiscardManagerException("region '" + name
                        + "' still has a RAM discard manager: detach it before destroying the region");
            }
            destroyed = true;
            unref();
        } finally {
            unlock();
        }
    }

    /** @return the current reference count */
    public final int refCount() {
        return refCount;
    }

    /** @return whether {@link #destroy()} was called */
    public final boolean isDestroyed() {
        return destroyed;
    }

    /** @return whether the last reference went after {@link #destroy()} */
    public final boolean isFinalized() {
        return finalized;
    }

    private void finalizeRegion() {
        if (!destroyed) {
            // Only transient references came and went (for example a find() and its release()).
            refCount = 0;
            return;
        }
        finalized = true;
        // memory_region_finalize: the subregions are deleted, so they are free to be added elsewhere
        // or destroyed. As QEMU, first clear the flag without a transaction: the region is in no
        // view, and a deletion from an enabled region would ask for a re-render, which could nest
        // inside the commit that is dropping the view holding our last reference.
        enabled = false;
        SystemInternals.transactionBegin(system);
        try {
            while (!subregionList.isEmpty()) {
                delSubregionCommon(subregionList.get(0));
            }
        } finally {
            SystemInternals.transactionCommit(system);
        }
        onFinalize();
    }

    /**
     * Makes {@code block} the backing of a RAM kind of this system: places it in the system's RAM list
     * if it is in none yet ({@code ram_block_add}) and takes a reference that {@link #onFinalize()}
     * gives back, so the block is unmapped only after the region is gone and no view shows it.
     *
     * @param system the region's system
     * @param block the block
     * @return the block
     * @throws IllegalArgumentException if the block is in another system's RAM list
     */
    static RamBlock adoptBlock(MemorySystem system, RamBlock block) {
        if (block.ramList() == null) {
            system.ramList().add(block);
        } else if (block.ramList() != system.ramList()) {
            throw new IllegalArgumentException("RAM block '" + block.idstr() + "' belongs to another system's RAM list");
        }
        return block.ref();
    }

    /** Enters this RAM kind as the region {@code block} backs ({@code block->mr}); the last step of its construction. */
    final void enterBlockRegion(RamBlock block) {
        lock();
        try {
            if (system.isClosed()) {
                // close() ran since the constructor's check; it could not see this region, so the
                // block reference the constructor took must not outlive the refusal, nor the place
                // in the closed machine's RAM list adoptBlock may have given it since
                try {
                    system.ramList().remove(block);
                } finally {
                    block.unref(); // even if a RAM list notifier threw
                }
                throw new MemorySystemClosedException("new region '" + name + "'");
            }
            system.ramBlockRegions().add(block, this);
        } finally {
            unlock();
        }
    }

    /** Undoes {@link #enterBlockRegion}; from {@link #onFinalize()}, before the block reference goes. */
    final void leaveBlockRegion(RamBlock block) {
        system.ramBlockRegions().remove(block, this);
    }

    /**
     * Called once, under the topology lock, when the last reference to a destroyed region goes: QEMU's
     * {@code memory_region_finalize}. Aliases stop referring to their target here. RAM kinds override
     * this to release their block (hook for the RAM package).
     */
    void onFinalize() {
    }

    // ---------------------------------------------------------------------------------------------
    // Internals shared with the kinds

    /** @return the aliases whose target is this region (topology lock held) */
    public final List<AliasRegion> aliasReferrers() {
        return Collections.unmodifiableList(aliasReferrers);
    }

    final void addAliasReferrer(AliasRegion a) {
        aliasReferrers.add(a);
    }

    final void removeAliasReferrer(AliasRegion a) {
        aliasReferrers.remove(a);
    }

    /** Marks this region's whole extent as changed (for the views that show it). */
    final void invalidateSelf() {
        SystemInternals.invalidate(system, this, Int128.ZERO, size128());
    }

    /** Marks only views rooted at this region (it moved; the container windows are marked separately). */
    private void invalidateSelfOnly() {
        SystemInternals.invalidateRootOnly(system, this);
    }

    final void lock() {
        system.lock().lock();
    }

    /**
     * {@link #lock()} for a change that opens a transaction: runs the coalesced-MMIO flush of that
     * transaction's begin first, outside the lock ({@link MemorySystem#transactionBegin}, called
     * with the lock held by the change itself, then does not flush again). A thread that already
     * holds the lock does not flush here: its begin flushes, as a nested one.
     */
    final void lockForChange() {
        if (!system.lock().isHeldByCurrentThread()) {
            system.flushCoalescedMmio();
        }
        lock();
    }

    final void unlock() {
        system.lock().unlock();
    }

    /**
     * {@link #lock()} for a call that changes the region, refused on a closed machine: checked under
     * the lock, which {@link MemorySystem#close()} sets its flag under, so a refused call changes
     * nothing and an accepted one runs before the teardown or not at all.
     *
     * @param call the call, for the refusal's message
     * @throws MemorySystemClosedException if the system is closed (the lock is released again)
     */
    final void lockOpen(String call) {
        lock();
        refuseIfClosed(call);
    }

    /**
     * {@link #lockForChange()}, refused on a closed machine as {@link #lockOpen(String)}.
     *
     * @param call the call, for the refusal's message
     * @throws MemorySystemClosedException if the system is closed (the lock is released again)
     */
    final void lockOpenForChange(String call) {
        lockForChange();
        refuseIfClosed(call);
    }

    /** With the lock just taken: on a closed machine, gives it back and refuses {@code call}. */
    private void refuseIfClosed(String call) {
        if (system.isClosed()) {
            unlock();
            throw closedRefusal(call);
        }
    }

    /** @return the refusal of {@code call} on this region of a closed machine */
    final MemorySystemClosedException closedRefusal(String call) {
        return new MemorySystemClosedException(call + " of region '" + name + "'");
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + "]";
    }
}
