package dev.guestmem.snapshot;

import java.io.Serial;

/**
 * A snapshot could not be written, read or applied: a corrupt or truncated file (with the offset
 * and what was expected), a checksum mismatch, a block table that does not match the target RAM, a
 * broken incremental chain, or an I/O error (as the cause).
 *
 * <p>Thread safety: immutable after construction.
 */
public class SnapshotException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * Creates one.
     *
     * @param message what went wrong, with the values involved
     */
    public SnapshotException(String message) {
        super(message);
    }

    /**
     * Creates one with a cause.
     *
     * @param message what went wrong, with the values involved
     * @param cause the underlying failure
     */
    public SnapshotException(String message, Throwable cause) {
        super(message, cause);
    }
}
