package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The page server's pure helpers: partial-discard bookkeeping and the EAGAIN back-off. */
class PageServerMainTest {
    /**
     * Was: after the server read a REMOVE, every fill answered EAGAIN until the discarding thread
     * ran on, and the retry loops re-read the empty queue at full speed (a whole core of two the
     * discarding thread needed). Now a retry that read no event spins only a few rounds, then
     * yields, then sleeps on the queue.
     */
    @Test
    void anEagainRetryWithoutAnEventBacksOffFromSpinToYieldToSleep() {
        assertEquals(PageServerMain.Backoff.SPIN, PageServerMain.backoff(0));
        assertEquals(PageServerMain.Backoff.SPIN, PageServerMain.backoff(15));
        assertEquals(PageServerMain.Backoff.YIELD, PageServerMain.backoff(16));
        assertEquals(PageServerMain.Backoff.YIELD, PageServerMain.backoff(63));
        assertEquals(PageServerMain.Backoff.SLEEP, PageServerMain.backoff(64));
        assertEquals(PageServerMain.Backoff.SLEEP, PageServerMain.backoff(Integer.MAX_VALUE));
    }

    /** Partial cuts of a page merge: overlapping and adjacent ranges join, others stay apart, sorted. */
    @Test
    void cutsOfAPageMergeIntoSortedDisjointRanges() {
        long[] c = PageServerMain.addCut(null, 4096, 8192);
        assertArrayEquals(new long[] {4096, 8192}, c);
        c = PageServerMain.addCut(c, 12288, 16384);
        assertArrayEquals(new long[] {4096, 8192, 12288, 16384}, c);
        c = PageServerMain.addCut(c, 0, 4096); // adjacent: joins
        assertArrayEquals(new long[] {0, 8192, 12288, 16384}, c);
        c = PageServerMain.addCut(c, 8192, 12288); // fills the gap: one range, the whole 16 KiB page
        assertArrayEquals(new long[] {0, 16384}, c);
    }
}
