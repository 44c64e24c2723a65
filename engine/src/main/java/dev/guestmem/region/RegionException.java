package dev.guestmem.region;

/**
 * Base of the typed exceptions thrown by region-tree setup calls. When one is thrown the tree and
 * every rendered view are exactly as before the call.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public class RegionException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was wrong, with the values
     */
    public RegionException(String message) {
        super(message);
    }
}
