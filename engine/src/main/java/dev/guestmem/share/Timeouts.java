package dev.guestmem.share;

import java.time.Duration;

/**
 * Timeouts as the waits need them. A {@link Duration} may be longer than a long of nanoseconds
 * holds (292 years), so one beyond a century is a century: no limit in practice, and
 * {@code System.nanoTime() + nanos} cannot overflow.
 *
 * <p><b>Thread safety.</b> Stateless.
 */
final class Timeouts {
    /** The longest wait: a century. */
    static final Duration NO_LIMIT = Duration.ofDays(36525);

    private Timeouts() {
    }

    /** @return the timeout in nanoseconds, at most a century's */
    static long nanos(Duration timeout) {
        return capped(timeout).toNanos();
    }

    /** @return the timeout in milliseconds, at most a century's */
    static long millis(Duration timeout) {
        return capped(timeout).toMillis();
    }

    /** @return the timeout as a message gives it: milliseconds, or "no limit" beyond a century */
    static String describe(Duration timeout) {
        return timeout.compareTo(NO_LIMIT) >= 0 ? "no limit" : timeout.toMillis() + " ms";
    }

    private static Duration capped(Duration timeout) {
        return timeout.compareTo(NO_LIMIT) > 0 ? NO_LIMIT : timeout;
    }
}
