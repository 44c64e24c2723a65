package dev.guestmem.uffd;

import java.io.Serial;

/**
 * A {@link PageSource} could not supply a page: the remote source closed its socket or died, a
 * page failed its checksum, or the snapshot could not be read.
 *
 * <p>Thread safety: immutable after construction.
 */
public class PageSourceException extends RuntimeException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * Creates one.
     *
     * @param message what failed, with the block and page
     */
    public PageSourceException(String message) {
        super(message);
    }

    /**
     * Creates one with a cause.
     *
     * @param message what failed, with the block and page
     * @param cause the underlying failure
     */
    public PageSourceException(String message, Throwable cause) {
        super(message, cause);
    }
}
