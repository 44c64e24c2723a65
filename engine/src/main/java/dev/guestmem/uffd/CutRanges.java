package dev.guestmem.uffd;

import java.util.Arrays;

/**
 * The discarded parts of one page the page server has not served yet, as offsets in the page:
 * {@code lo, hi} pairs, sorted and merged, in a {@code long[]} (null for none).
 */
final class CutRanges {
    private CutRanges() {
    }

    /**
     * Adds {@code [lo, hi)}.
     *
     * @param ranges the ranges so far, or null
     * @param lo first offset cut
     * @param hi the offset after the last cut
     * @return the ranges with it, sorted; overlapping and adjacent ranges joined
     */
    static long[] add(long[] ranges, long lo, long hi) {
        int n = ranges == null ? 0 : ranges.length / 2;
        long[][] all = new long[n + 1][];
        for (int i = 0; i < n; i++) {
            all[i] = new long[] {ranges[2 * i], ranges[2 * i + 1]};
        }
        all[n] = new long[] {lo, hi};
        Arrays.sort(all, (x, y) -> Long.compare(x[0], y[0]));
        long[] out = new long[2 * (n + 1)];
        int m = 0;
        for (long[] r : all) {
            if (m > 0 && r[0] <= out[2 * m - 1]) {
                out[2 * m - 1] = Math.max(out[2 * m - 1], r[1]);
            } else {
                out[2 * m] = r[0];
                out[2 * m + 1] = r[1];
                m++;
            }
        }
        return Arrays.copyOf(out, 2 * m);
    }
}
