package dev.guestmem.snapshot;

/**
 * Told how far a long save or restore has got. Called from the thread doing the work, after each
 * chunk of about {@link SnapshotFormat#PROGRESS_STEP} bytes and once at the end with
 * {@code done == total}; it must be quick and must not throw.
 *
 * <p>Thread safety: called from one thread at a time.
 */
@FunctionalInterface
public interface ProgressListener {
    /** A listener that ignores progress. */
    ProgressListener NONE = (done, total) -> { };

    /**
     * Reports progress.
     *
     * @param doneBytes guest bytes processed so far
     * @param totalBytes guest bytes to process in all
     */
    void progress(long doneBytes, long totalBytes);
}
