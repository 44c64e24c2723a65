package dev.guestmem.uffd;

import java.util.LinkedHashMap;

/**
 * What the page server knows of each page of the blocks it restores: present (served, prefetched,
 * or wholly discarded: nothing is to be copied there any more), and for pages not yet served the
 * parts the guest discarded meanwhile ({@link CutRanges}), which every later copy must zero.
 *
 * <p><b>Thread safety.</b> None: the page server's single thread.
 */
final class ServedPages {
    /** Bits of a cut key that hold the page number (the rest: the block). */
    private static final int PAGE_BITS = 40;

    private final long[][] present;
    private final long total;
    private long populated;
    /** Cut pages by key (block, page), in the order they were first cut: ranges of offsets in the page. */
    private final LinkedHashMap<Long, long[]> cuts = new LinkedHashMap<>();

    /**
     * @param pages the page count of each block
     */
    ServedPages(long[] pages) {
        present = new long[pages.length][];
        long t = 0;
        for (int b = 0; b < pages.length; b++) {
            present[b] = new long[(int) ((pages[b] + 63) >>> 6)];
            t += pages[b];
        }
        total = t;
    }

    int blocks() {
        return present.length;
    }

    long total() {
        return total;
    }

    long populated() {
        return populated;
    }

    /** @return whether every page is present */
    boolean complete() {
        return populated == total;
    }

    boolean isPresent(int b, long p) {
        return (present[b][(int) (p >>> 6)] & (1L << p)) != 0;
    }

    /** Marks {@code count} pages from {@code p} present (their cuts no longer matter). */
    void markPresent(int b, long p, long count) {
        for (long q = p; q < p + count; q++) {
            long[] w = present[b];
            int i = (int) (q >>> 6);
            if ((w[i] & (1L << q)) == 0) {
                w[i] |= 1L << q;
                populated++;
                if (!cuts.isEmpty()) {
                    cuts.remove(key(b, q));
                }
            }
        }
    }

    /**
     * Records that the guest discarded {@code [lo, hi)} of page {@code p} (offsets in the page) before
     * it was served. A page cut whole is marked present: nothing is to be copied there any more.
     *
     * @return whether the page is now wholly discarded
     */
    boolean cut(int b, long p, long lo, long hi, long pageSize) {
        long k = key(b, p);
        long[] c = CutRanges.add(cuts.get(k), lo, hi);
        if (c.length == 2 && c[0] == 0 && c[1] == pageSize) {
            cuts.remove(k);
            markPresent(b, p, 1);
            return true;
        }
        cuts.put(k, c);
        return false;
    }

    /** @return the discarded parts of page {@code p}, or null */
    long[] cutsOf(int b, long p) {
        return cuts.get(key(b, p));
    }

    boolean hasCuts(int b, long p) {
        return cuts.containsKey(key(b, p));
    }

    boolean anyCuts() {
        return !cuts.isEmpty();
    }

    /** @return the key of the page cut first (see {@link #block} and {@link #page}); call only if {@link #anyCuts} */
    long firstCut() {
        return cuts.keySet().iterator().next();
    }

    static int block(long key) {
        return (int) (key >>> PAGE_BITS);
    }

    static long page(long key) {
        return key & ((1L << PAGE_BITS) - 1);
    }

    private static long key(int b, long p) {
        return ((long) b << PAGE_BITS) | p;
    }
}
