package dev.guestmem.region;

import dev.guestmem.MemorySystem;

/**
 * An IOMMU region ({@code memory_region_init_iommu}): accesses are translated and redirected to
 * another address space. The translation hooks arrive with the IOMMU package.
 */
public final class IommuRegion extends MemoryRegion {
    /**
     * Creates an IOMMU region.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name
     * @param size size, {@code -1L} for 2^64
     */
    public IommuRegion(MemorySystem system, Object owner, String name, long size) {
        super(system, owner, name, size);
    }

    @Override
    public boolean terminates() {
        return true;
    }

    @Override
    public boolean isIommu() {
        return true;
    }
}
