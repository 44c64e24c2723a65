package dev.guestmem.uffd;

import java.util.HashMap;
import java.util.Map;

/**
 * What a page server has done, as it reports it over the control socket.
 *
 * <p>Latencies are the server's service time for one fault: from reading the fault message to the
 * end of the UFFDIO_COPY/ZEROPAGE that wakes the faulting thread (the kernel's wake-up and the
 * thread's retry come on top).
 *
 * <p>Thread safety: immutable.
 *
 * @param faults page faults served
 * @param faultBytes bytes installed to serve faults
 * @param zeroFaults faults served with a zero page
 * @param prefetchedPages pages installed by background prefetch
 * @param populatedPages pages present so far, all causes
 * @param totalPages pages in the restore
 * @param p50Nanos median fault service time
 * @param p90Nanos 90th percentile
 * @param p99Nanos 99th percentile
 * @param maxNanos slowest fault
 */
public record FaultMetrics(long faults, long faultBytes, long zeroFaults, long prefetchedPages, long populatedPages,
        long totalPages, long p50Nanos, long p90Nanos, long p99Nanos, long maxNanos) {

    /** No activity. */
    public static final FaultMetrics NONE = new FaultMetrics(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /** @return the wire form, {@code key=value} pairs separated by spaces */
    public String toWire() {
        return "faults=" + faults + " bytes=" + faultBytes + " zero=" + zeroFaults + " prefetched=" + prefetchedPages
                + " populated=" + populatedPages + " total=" + totalPages + " p50=" + p50Nanos + " p90=" + p90Nanos
                + " p99=" + p99Nanos + " max=" + maxNanos;
    }

    /**
     * Parses the wire form.
     *
     * @param text what {@link #toWire()} produced, possibly with other words around it
     * @return the metrics (missing keys read as 0)
     */
    public static FaultMetrics fromWire(String text) {
        Map<String, Long> m = new HashMap<>();
        for (String word : text.trim().split("\\s+")) {
            int eq = word.indexOf('=');
            if (eq > 0) {
                try {
                    m.put(word.substring(0, eq), Long.parseLong(word.substring(eq + 1)));
                } catch (NumberFormatException ignored) {
                    // not a metric
                }
            }
        }
        return new FaultMetrics(m.getOrDefault("faults", 0L), m.getOrDefault("bytes", 0L), m.getOrDefault("zero", 0L),
                m.getOrDefault("prefetched", 0L), m.getOrDefault("populated", 0L), m.getOrDefault("total", 0L),
                m.getOrDefault("p50", 0L), m.getOrDefault("p90", 0L), m.getOrDefault("p99", 0L), m.getOrDefault("max", 0L));
    }

    @Override
    public String toString() {
        return String.format("%d faults (%d zero, %d bytes), %d prefetched, %d/%d pages present, service p50 %.1f us p90 %.1f us p99 %.1f us max %.1f us",
                faults, zeroFaults, faultBytes, prefetchedPages, populatedPages, totalPages, p50Nanos / 1e3, p90Nanos / 1e3,
                p99Nanos / 1e3, maxNanos / 1e3);
    }
}
