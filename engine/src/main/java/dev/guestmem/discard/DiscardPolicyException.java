package dev.guestmem.discard;

/**
 * A {@link RamDiscardPolicy} claim that contradicts one in force (QEMU's {@code -EBUSY}): a device
 * that needs discards next to one that pins memory. Nothing changed when it is thrown.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public final class DiscardPolicyException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message who asked for what, and what stands in the way
     */
    public DiscardPolicyException(String message) {
        super(message);
    }
}
