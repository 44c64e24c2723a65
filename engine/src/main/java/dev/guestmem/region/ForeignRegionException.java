package dev.guestmem.region;

/** A region of one {@link dev.guestmem.MemorySystem} was used in another system's tree. */
public final class ForeignRegionException extends RegionException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param region the foreign region
     * @param where the region of the other system it was combined with
     */
    public ForeignRegionException(MemoryRegion region, MemoryRegion where) {
        super("region '" + region.name() + "' belongs to another MemorySystem than '" + where.name() + "'");
    }

    /**
     * Creates an exception for a region handed to a call of another system.
     *
     * @param region the foreign region
     * @param call the call it was handed to
     */
    public ForeignRegionException(MemoryRegion region, String call) {
        super("region '" + region.name() + "' belongs to another MemorySystem than the one whose " + call
                + " it was handed to");
    }
}
