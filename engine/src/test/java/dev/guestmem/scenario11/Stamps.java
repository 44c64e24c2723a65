package dev.guestmem.scenario11;

/**
 * What a device writes, and what the guest checks: every word a DMA writes names the context and the
 * IOVA page it was written through, so a word found on a data page shows which mapping carried it.
 * A freed page holds its canary until the guest maps it again.
 */
final class Stamps {
    private static final long MAGIC = 0x5AL << 56;
    private static final long CANARY = 0xC0DEL << 48;

    private Stamps() {
    }

    static long stamp(int ctx, long iovaPfn, long seq) {
        return MAGIC | (long) ctx << 48 | (iovaPfn & 0xFFFFFFFL) << 20 | (seq & 0xFFFFF);
    }

    /** Whether {@code word} may sit on a page mapped at {@code ctx}/{@code iovaPfn}: zero, or its own stamp. */
    static boolean fits(long word, int ctx, long iovaPfn, boolean writable) {
        if (word == 0) {
            return true;
        }
        return writable && (word & (0xFFL << 56)) == MAGIC && (int) (word >>> 48 & 0xFF) == ctx
                && (word >>> 20 & 0xFFFFFFFL) == (iovaPfn & 0xFFFFFFFL);
    }

    static long canary(long page) {
        return CANARY | page >>> 12;
    }
}
