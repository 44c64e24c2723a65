package dev.guestmem.ram;

/**
 * A checked access ({@link RamBlock#ldqHe}, {@link RamBlock#stqHe}...) touched a page that no
 * longer has backing store: the file under the mapping was truncated, the memfd shrunk, the
 * hugetlb pool ran dry or the file system was full when the page needed a block, so the kernel
 * raised SIGBUS and the JDK turned it into an
 * {@link InternalError}. The block is marked broken ({@link RamBlock#isBroken()}) and every later
 * checked access fails at once.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class RamBlockBrokenException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The broken block's name. */
    private final String idstr;

    /**
     * Creates the exception.
     *
     * @param idstr the block name
     * @param message what happened, with the ram offset
     * @param cause the JDK's unsafe-access error, or {@code null} for later accesses
     */
    public RamBlockBrokenException(String idstr, String message, Throwable cause) {
        super("RAM block '" + idstr + "' is broken: " + message, cause);
        this.idstr = idstr;
    }

    /** @return the block name */
    public String idstr() {
        return idstr;
    }
}
