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
    /**
     * Grown as faults come (doubling), up to {@value #MAX_SAMPLES}: a server that serves few faults
     * keeps a few KiB. Small at first so that the warm-up's rounds (256 faults each) grow it too:
     * C2 then compiles the growth in, instead of a trap that throws the compiled serve loop away
     * at the guest's 1,025th fault (and again at each doubling).
     */
    private long[] samples = new long[64];
    private int sampleCount;

    /** Records one fault's service time (the first {@value #MAX_SAMPLES} only). */
    void sample(long nanos) {
        if (sampleCount == samples.length && samples.length < MAX_SAMPLES) {
            samples = Arrays.copyOf(samples, Math.min(MAX_SAMPLES, samples.length * 2));
        }
        if (sampleCount < samples.length) {
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
