package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.IommuTranslator;

/**
 * An IOMMU region ({@code memory_region_init_iommu}): accesses are translated and redirected to
 * another address space. The translation hooks arrive with the IOMMU package.
 */
public final class IommuRegion extends MemoryRegion {
    /** Translation hook; volatile: set by the IOMMU model, read by any accessing thread. */
    private volatile IommuTranslator translator;

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

    /**
     * Returns the translation hook the access path calls ({@code IOMMUMemoryRegionClass.translate}).
     *
     * @return the hook, or null while none is set (accesses then hit the unassigned section)
     */
    public IommuTranslator translator() {
        return translator;
    }

    /**
     * Sets the translation hook (volatile store; accesses see it from their next translation).
     *
     * @param translator the hook, or null
     */
    public void setTranslator(IommuTranslator translator) {
        this.translator = translator;
    }
}
