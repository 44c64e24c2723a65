package dev.guestmem.internal;

import dev.guestmem.MemorySystem;
import java.util.function.Supplier;

/**
 * Runs a dirty-log operation made of several listener calls ({@code logSync}, {@code logClear},
 * {@code logGlobalAfterSync}) as one notification of its {@link MemorySystem}: a topology change
 * or listener (un)registration its callbacks ask for waits until it is over (the rest of it sees
 * the view it began with), then runs as an update of its own, as one made at commit time (see
 * {@code MemorySystem}, "topology changes from listener callbacks"). If the operation throws, the
 * waiting changes run all the same and its throw comes first.
 *
 * <p>For the engine's region and discard code only: this package is not exported. The way in is
 * the JDK's {@code SharedSecrets} pattern: {@link MemorySystem} hands its {@link Access} over when
 * its class initialises, so the operation stays off its public API.
 *
 * <p><b>Thread safety.</b> Any thread; the operation runs under the system's topology lock.
 */
public final class OneNotification {
    /** What {@link MemorySystem} provides: the notification around an operation. */
    public interface Access {
        /**
         * Runs {@code body} as one notification of {@code system}.
         *
         * @param system the system
         * @param body the operation
         * @param <T> what it returns
         * @return what {@code body} returned
         */
        <T> T run(MemorySystem system, Supplier<T> body);
    }

    /** Set once, by {@link MemorySystem}'s class initialisation; volatile so any thread sees it. */
    private static volatile Access access;

    private OneNotification() {
    }

    /**
     * Installs the access; {@link MemorySystem} calls it once.
     *
     * @param a the access
     * @throws IllegalStateException if one is installed already
     */
    public static synchronized void setAccess(Access a) {
        if (access != null) {
            throw new IllegalStateException("OneNotification access installed already");
        }
        access = a;
    }

    /**
     * Runs {@code body} under {@code system}'s lock as one notification.
     *
     * @param system the system whose listeners the operation calls
     * @param body the operation
     * @param <T> what it returns
     * @return what {@code body} returned
     * @throws RuntimeException what {@code body} threw first, or what the waiting changes' listeners threw
     */
    public static <T> T run(MemorySystem system, Supplier<T> body) {
        // A caller holds a system, so MemorySystem has initialised and installed the access.
        return access.run(system, body);
    }
}
