package dev.guestmem.access;

/**
 * Counts the accesses an address space served from its previous RAM section, so that every
 * {@link #PERIOD}th one promotes that section to the fast window ({@link AddressSpace#countPreviousHit}):
 * code that moved for good to the section the window held before gets the inline fast path back
 * after a few accesses, while code alternating between two sections swaps the slots only once per
 * period instead of refilling on every access.
 *
 * <p>Only accesses already on the out-of-line path write the count; it is padded onto cache lines
 * of its own (JCTools' class-hierarchy padding), so those writes never evict the line of the fast
 * slots that every other thread's hits read.
 *
 * <p><b>Thread safety.</b> A racy plain count: threads may lose increments, which only moves a
 * promotion a little.
 */
final class PreviousHits extends PreviousHitsCount {
    /** Hits of the previous RAM section per promotion: a power of two. */
    static final int PERIOD = 64;

    @SuppressWarnings("unused") // padding after the count
    private long p10, p11, p12, p13, p14, p15, p16, p17;

    /** @return whether this hit is the one of its period that promotes */
    boolean due() {
        int n = count + 1;
        count = n;
        return (n & (PERIOD - 1)) == 0;
    }
}

/** The count, after the padding before it. */
abstract class PreviousHitsCount extends PreviousHitsPad {
    /** Hits so far (wraps). */
    int count;
}

/** Padding before the count. */
abstract class PreviousHitsPad {
    @SuppressWarnings("unused")
    private long p00, p01, p02, p03, p04, p05, p06, p07;
}
