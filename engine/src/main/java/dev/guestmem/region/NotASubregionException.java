package dev.guestmem.region;

/** {@code delSubregion} was called with a region that is not a subregion of that container. */
public final class NotASubregionException extends RegionException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param region the region
     * @param container the container it was to be removed from
     */
    public NotASubregionException(MemoryRegion region, MemoryRegion container) {
        super("region '" + region.name() + "' is not a subregion of '" + container.name() + "'");
    }
}
