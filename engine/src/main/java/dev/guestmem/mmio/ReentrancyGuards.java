package dev.guestmem.mmio;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.HashMap;
import java.util.Map;

/**
 * The re-entrancy guards of one memory system: one {@link ReentrancyGuard} per device (region
 * owner object, by identity as QEMU's {@code DeviceState} pointer), so that every region of a device
 * shares it, two devices never do even when their owner objects are {@code equals} (records,
 * strings), and two machines in one JVM never share a guard even when a device object is reused.
 *
 * <p><b>Thread safety.</b> Thread-safe (synchronized); looked up only when dispatch tables are
 * built and on a region's first {@link dev.guestmem.region.MemoryRegion#dispatchRead} or
 * {@code dispatchWrite} (which caches the guard), never per access. Owners are held weakly, so
 * dropped devices do not leak.
 */
public final class ReentrancyGuards {
    private final Map<OwnerKey, ReentrancyGuard> byOwner = new HashMap<>();
    private final ReferenceQueue<Object> dropped = new ReferenceQueue<>();

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
        for (Object k = dropped.poll(); k != null; k = dropped.poll()) {
            byOwner.remove(k);
        }
        return byOwner.computeIfAbsent(new OwnerKey(owner, dropped), k -> new ReentrancyGuard());
    }

    /** A weak reference compared by the referent's identity (a key stays equal to itself once cleared). */
    private static final class OwnerKey extends WeakReference<Object> {
        private final int hash;

        OwnerKey(Object owner, ReferenceQueue<Object> queue) {
            super(owner, queue);
            this.hash = System.identityHashCode(owner);
        }

        @Override
        public boolean equals(Object o) {
            if (this == o) {
                return true;
            }
            if (!(o instanceof OwnerKey k) || k.hash != hash) {
                return false;
            }
            Object mine = get();
            return mine != null && mine == k.get();
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
