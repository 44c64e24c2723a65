package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The page server's pure helpers: partial-discard ranges ({@link CutRanges}) and the EAGAIN back-off ({@link EagainBackoff}). */
class PageServerHelpersTest {
    /**
     * Was: after the server read a REMOVE, every fill answered EAGAIN until the discarding thread
     * ran on, and the retry loops re-read the empty queue at full speed (a whole core of two the
     * discarding thread needed). Now a retry that read no event spins only a few rounds, then
     * yields, then sleeps on the queue.
     */
    @Test
    void anEagainRetryWithoutAnEventBacksOffFromSpinToYieldToSleep() {
        assertEquals(EagainBackoff.SPIN, EagainBackoff.after(0));
        assertEquals(EagainBackoff.SPIN, EagainBackoff.after(15));
        assertEquals(EagainBackoff.YIELD, EagainBackoff.after(16));
        assertEquals(EagainBackoff.YIELD, EagainBackoff.after(63));
        assertEquals(EagainBackoff.SLEEP, EagainBackoff.after(64));
        assertEquals(EagainBackoff.SLEEP, EagainBackoff.after(Integer.MAX_VALUE));
    }

    /** Partial cuts of a page merge: overlapping and adjacent ranges join, others stay apart, sorted. */
    @Test
    void cutsOfAPageMergeIntoSortedDisjointRanges() {
        long[] c = CutRanges.add(null, 4096, 8192);
        assertArrayEquals(new long[] {4096, 8192}, c);
        c = CutRanges.add(c, 12288, 16384);
        assertArrayEquals(new long[] {4096, 8192, 12288, 16384}, c);
        c = CutRanges.add(c, 0, 4096); // adjacent: joins
        assertArrayEquals(new long[] {0, 8192, 12288, 16384}, c);
        c = CutRanges.add(c, 8192, 12288); // fills the gap: one range, the whole 16 KiB page
        assertArrayEquals(new long[] {0, 16384}, c);
    }
}
