package dev.guestmem.region;

/**
 * A region that already sits in a container was added as a subregion again (QEMU asserts
 * {@code !subregion->container}).
 */
public final class RegionAlreadyMappedException extends RegionException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param region the region being added
     * @param container its current container
     * @param target the container it was being added to
     */
    public RegionAlreadyMappedException(MemoryRegion region, MemoryRegion container, MemoryRegion target) {
        super("region '" + region.name() + "' is already a subregion of '" + container.name()
                + "'; cannot add it to '" + target.name() + "'");
    }
}
