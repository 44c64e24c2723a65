package dev.guestmem.uffd;

import java.lang.foreign.MemorySegment;

/**
 * Where a lazily restored page comes from: a snapshot file ({@link SnapshotPageSource}) or a remote
 * process serving pages over a Unix socket, postcopy style ({@link RemotePageSource}). Blocks are
 * numbered in the order the restore lists them.
 *
 * <p>Thread safety: used by one thread, the page server's loop.
 */
public interface PageSource extends AutoCloseable {
    /**
     * Returns a page's contents.
     *
     * @param block the block's index in the restore's layout
     * @param page the page's index in the block
     * @return a native segment of the block's page size holding the page, valid until the next call
     *     (or, if {@link #stablePages()}, until {@link #close()}); null if the page is all zeros
     * @throws PageSourceException if the page cannot be had (source gone, corrupt page): the page
     *     server then fails the faulting accesses instead of inventing bytes
     */
    MemorySegment page(int block, long page);

    /**
     * Whether pages returned by {@link #page} stay valid until close, so the server may batch
     * neighbouring pages into one copy.
     *
     * @return true for mapped files, false for sources that reuse one buffer
     */
    default boolean stablePages() {
        return false;
    }

    /** Releases the source. */
    @Override
    void close();
}
