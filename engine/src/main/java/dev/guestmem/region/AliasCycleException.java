package dev.guestmem.region;

/** A cycle that passes through an alias: an alias whose target (transitively) contains the alias. */
public final class AliasCycleException extends RegionCycleException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message the regions involved
     */
    public AliasCycleException(String message) {
        super(message);
    }
}
