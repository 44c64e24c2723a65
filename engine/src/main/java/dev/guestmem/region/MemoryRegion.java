package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import java.util.Objects;

/**
 * A node of the memory-region tree, as QEMU's {@code MemoryRegion}. The kinds form a closed set:
 * {@link ContainerRegion}, {@link RamRegion} (RAM, ROM, RAM device), {@link IoRegion} (MMIO),
 * {@link RomDeviceRegion}, {@link AliasRegion} and {@link IommuRegion}.
 *
 * <p>Sizes are unsigned 64-bit; as in QEMU's {@code memory_region_init}, a size argument of
 * {@code -1L} ({@code UINT64_MAX}) means 2^64, and {@link #size()} reports 2^64 as {@code -1L}.
 *
 * <p><b>Thread safety.</b> Every mutating method must be called with the owning
 * {@link MemorySystem}'s topology lock held (or takes it). Getters read plain fields and are meant
 * for the topology thread; the access path never reads regions' mutable state, only the immutable
 * {@link dev.guestmem.flat.FlatView} rendered from them.
 */
public abstract sealed class MemoryRegion
        permits ContainerRegion, RamRegion, IoRegion, RomDeviceRegion, AliasRegion, IommuRegion {

    /** QEMU's {@code UINT64_MAX} size argument: a region of 2^64 bytes. */
    public static final long SIZE_2_64 = -1L;

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

    MemoryRegion(MemorySystem system, Object owner, String name, long size) {
        this.system = Objects.requireNonNull(system, "system");
        this.owner = owner;
        this.name = name == null ? "anonymous" : name;
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

    /** @return whether this is an IOMMU region */
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

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + name + "]";
    }
}
