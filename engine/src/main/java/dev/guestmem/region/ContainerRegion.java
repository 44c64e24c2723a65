package dev.guestmem.region;

import dev.guestmem.MemorySystem;

/**
 * A pure container ({@code memory_region_init}): renders only its subregions; where none lies, what
 * is below it shows through.
 */
public final class ContainerRegion extends MemoryRegion {
    /**
     * Creates a container.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name
     * @param size size in bytes, {@code -1L} for 2^64
     */
    public ContainerRegion(MemorySystem system, Object owner, String name, long size) {
        super(system, owner, name, size);
    }

    @Override
    public boolean terminates() {
        return false;
    }
}
