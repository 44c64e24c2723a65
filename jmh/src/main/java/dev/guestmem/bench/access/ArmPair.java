package dev.guestmem.bench.access;

/**
 * Times a guest arm and its baseline back to back with {@code System.nanoTime()}, in the order the
 * caller asks (the interleaved benchmarks alternate it every invocation), and keeps the pair unless
 * it took over three times its recent typical time (an exponential moving average of kept pairs):
 * on a shared 2-core machine a preemption (milliseconds) inside one arm (microseconds) would
 * otherwise land on that arm alone. A dropped pair is dropped whole, so neither arm is favoured. A
 * timer read costs about 20-40 ns against 1-400 us per arm.
 *
 * <p>The arms are {@link Runnable}s made once in setup (method references to
 * {@code CompilerControl.Mode.DONT_INLINE} methods, so each arm stays its own compile unit).
 *
 * <p><b>Thread safety.</b> None: one per benchmark thread and arm pair.
 */
final class ArmPair {
    private final Runnable guest;
    private final Runnable raw;
    private double typical;
    private long guestNs;
    private long rawNs;

    ArmPair(Runnable guest, Runnable raw) {
        this.guest = guest;
        this.raw = raw;
    }

    /** Runs both arms once, untimed (warm-up: the typical pair time is not touched). */
    void warm() {
        guest.run();
        raw.run();
    }

    /**
     * Runs both arms once.
     *
     * @param guestFirst whether the guest arm runs first
     * @return whether the pair is kept ({@link #guestNs()} and {@link #rawNs()} hold its times)
     */
    boolean run(boolean guestFirst) {
        long a = System.nanoTime();
        if (guestFirst) {
            guest.run();
            long b = System.nanoTime();
            raw.run();
            rawNs = System.nanoTime() - b;
            guestNs = b - a;
        } else {
            raw.run();
            long b = System.nanoTime();
            guest.run();
            guestNs = System.nanoTime() - b;
            rawNs = b - a;
        }
        long pair = guestNs + rawNs;
        if (typical > 0 && pair > 3 * typical) {
            return false;
        }
        typical = typical == 0 ? pair : typical + (pair - typical) / 64.0;
        return true;
    }

    /** @return the guest arm's nanoseconds in the last run */
    long guestNs() {
        return guestNs;
    }

    /** @return the baseline arm's nanoseconds in the last run */
    long rawNs() {
        return rawNs;
    }
}
