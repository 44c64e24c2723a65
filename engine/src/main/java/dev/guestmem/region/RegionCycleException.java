package dev.guestmem.region;

/**
 * A change would make the region graph (container to subregion, alias to target) cyclic, so that
 * rendering would never end: adding a region into its own subtree.
 */
public class RegionCycleException extends RegionException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message the regions involved
     */
    public RegionCycleException(String message) {
        super(message);
    }
}
