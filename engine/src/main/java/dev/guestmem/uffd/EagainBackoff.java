package dev.guestmem.uffd;

/**
 * How the page server waits after a fill answered EAGAIN and reading the queue brought no event:
 * the kernel refuses fills until the discarding thread has run on, so spinning would only take a
 * core (of two) that thread may need. A few rounds of spinning, then yields, then short sleeps on
 * the queue; the count starts again once a copy makes progress.
 */
enum EagainBackoff {
    /** {@code Thread.onSpinWait()}. */
    SPIN,
    /** {@code Thread.yield()} ({@code sched_yield}). */
    YIELD,
    /** A poll of the userfaultfd for at most a millisecond. */
    SLEEP;

    /**
     * @param attempt EAGAIN answers in a row so far
     * @return how to wait now
     */
    static EagainBackoff after(int attempt) {
        return attempt < 16 ? SPIN : attempt < 64 ? YIELD : SLEEP;
    }
}
