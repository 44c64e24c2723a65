package dev.guestmem.uffd;

import java.util.Arrays;

/**
 * The page server's counters (faults, bytes, zero pages, prefetched pages, refills after a
 * discard) and fault service times, turned into {@link FaultMetrics} on request.
 *
 * <p>Thread safety: the page server's single thread.
 */
final class FaultStats {
    private static final int MAX_SAMPLES = 1 << 20;

    long faults;
    long faultBytes;
    long zeroFaults;
    long prefetched;
    /** Faults on pages served (or discarded) before, answered with zeros. */
    long refilled;
    private final long[] samples = new long[MAX_SAMPLES];
    private int sampleCount;

    /** Records one fault's service time (the first {@value #MAX_SAMPLES} only). */
    void sample(long nanos) {
        if (sampleCount < MAX_SAMPLES) {
            samples[sampleCount++] = nanos;
        }
    }

    FaultMetrics metrics(ServedPages served) {
        long[] s = Arrays.copyOf(samples, sampleCount);
        Arrays.sort(s);
        return new FaultMetrics(faults, faultBytes, zeroFaults, prefetched, served.populated(), served.total(), pct(s, 0.50),
                pct(s, 0.90),
                pct(s, 0.99), s.length == 0 ? 0 : s[s.length - 1]);
    }

    private static long pct(long[] sorted, double q) {
        return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    }
}
