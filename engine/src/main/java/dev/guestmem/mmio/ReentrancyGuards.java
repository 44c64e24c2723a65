package dev.guestmem.mmio;

import java.util.Map;
import java.util.WeakHashMap;

/**
 * The re-entrancy guards of one memory system: one {@link ReentrancyGuard} per device (region
 * owner), so that every region of a device shares it, while two machines in one JVM never share a
 * guard even when a device object is reused.
 *
 * <p><b>Thread safety.</b> Thread-safe (synchronized); looked up only when dispatch tables are
 * built, never on the access path. Owners are held weakly, so dropped devices do not leak.
 */
public final class ReentrancyGuards {
    private final Map<Object, ReentrancyGuard> byOwner = new WeakHashMap<>();

    /** Creates an empty registry (one per memory system). */
    public ReentrancyGuards() {
    }

    /**
     * The guard of an owner (device).
     *
     * @param owner the owner object
     * @return its guard, created on first use
     */
    public synchronized ReentrancyGuard of(Object owner) {
        return byOwner.computeIfAbsent(owner, o -> new ReentrancyGuard());
    }
}
