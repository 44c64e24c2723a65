package dev.guestmem.region;

import dev.guestmem.MemorySystem;

/**
 * An MMIO region ({@code memory_region_init_io}). With null ops it is a reservation: it terminates
 * and claims its range, and accesses to it behave as unassigned.
 */
public final class IoRegion extends MemoryRegion {
    private final MemoryRegionOps ops;

    /**
     * Creates an I/O region.
     *
     * @param system the owning system
     * @param owner owner object (a device), or null
     * @param ops callbacks, or null for a reservation; {@link Endianness#NATIVE} ops are held in the
     *        system's target order ({@link #ops()} answers a copy that says which)
     * @param name name
     * @param size size in bytes, {@code -1L} for 2^64
     */
    public IoRegion(MemorySystem system, Object owner, MemoryRegionOps ops, String name, long size) {
        super(system, owner, name, size);
        this.ops = ops == null ? null : ops.forTarget(system.targetOrder());
    }

    @Override
    public boolean terminates() {
        return true;
    }

    @Override
    public MemoryRegionOps ops() {
        return ops;
    }
}
