package dev.guestmem.ram;

/**
 * A {@link RamBlock} was asked for with arguments that can never work: size 0, sizes that overflow
 * or exceed the maximum, unknown flags, an offset beyond the backing file, a writeable shared
 * mapping of a read-only file, a duplicate name in a {@link RamList}. Thrown before anything is
 * mapped or opened, or after everything already done was undone.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class InvalidRamBlockException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** The block the request was for. */
    private final String idstr;

    /**
     * Creates the exception.
     *
     * @param idstr the block name
     * @param message what is wrong, with the bad values
     */
    public InvalidRamBlockException(String idstr, String message) {
        super("RAM block '" + idstr + "': " + message);
        this.idstr = idstr;
    }

    /** @return the block name */
    public String idstr() {
        return idstr;
    }
}
