package dev.guestmem.share;

import java.io.Serial;

/**
 * Sharing failed: a peer sent something else than expected, went away, or did not answer in time.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public class ShareException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong, with the values involved
     */
    public ShareException(String message) {
        super(message);
    }

    /**
     * Creates the exception with a cause.
     *
     * @param message what went wrong, with the values involved
     * @param cause the underlying failure
     */
    public ShareException(String message, Throwable cause) {
        super(message, cause);
    }
}
