package dev.guestmem.uffd;

import java.io.Serial;

/**
 * A lazy restore could not start, or broke: the page source failed, the page server died, or a page
 * was populated outside the restore (another mapping of a shared target touched it first). Pages
 * that were still missing are poisoned, so accesses to them fail (SIGBUS, which the JVM reports as
 * an {@code InternalError} at the access) rather than hang or read invented bytes.
 *
 * <p>Thread safety: immutable after construction.
 */
public class LazyRestoreException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * Creates one.
     *
     * @param message what failed
     */
    public LazyRestoreException(String message) {
        super(message);
    }

    /**
     * Creates one with a cause.
     *
     * @param message what failed
     * @param cause the underlying failure
     */
    public LazyRestoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
