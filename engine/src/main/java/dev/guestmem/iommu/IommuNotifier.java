package dev.guestmem.iommu;

import java.util.Objects;

/**
 * A subscription to an IOMMU's translation changes, as QEMU's {@code IOMMUNotifier}: which events
 * ({@link #UNMAP}, {@link #MAP}, {@link #DEVIOTLB_UNMAP}), which range of the IOMMU region
 * ({@code [start, end]}, inclusive, unsigned) and which translation context ({@code iommuIdx}).
 * Register it with {@link IommuNotifiers#register}; it is on at most one region at a time.
 *
 * <p>A vfio-like consumer registers one per IOMMU section it sees in
 * {@link dev.guestmem.listener.MemoryListener#regionAdd} (range = the section's part of the region),
 * replays it ({@link IommuNotifiers#replay}) to learn the mappings present, then keeps its shadow
 * map up to date from the events.
 *
 * <p><b>Thread safety.</b> Immutable apart from its registration, which {@link IommuNotifiers}
 * guards. The callback runs on the thread that notifies (the IOMMU model's, or the replaying
 * one).
 */
public final class IommuNotifier {
    /** A translation went away ({@code IOMMU_NOTIFIER_UNMAP}); its entry has no permission. */
    public static final int UNMAP = 1;
    /** A translation appeared ({@code IOMMU_NOTIFIER_MAP}). */
    public static final int MAP = 1 << 1;
    /** A device-IOTLB invalidation ({@code IOMMU_NOTIFIER_DEVIOTLB_UNMAP}). */
    public static final int DEVIOTLB_UNMAP = 1 << 2;
    /** {@code IOMMU_NOTIFIER_IOTLB_EVENTS}: {@link #MAP} and {@link #UNMAP}. */
    public static final int IOTLB_EVENTS = MAP | UNMAP;
    /** {@code IOMMU_NOTIFIER_ALL}. */
    public static final int ALL = IOTLB_EVENTS | DEVIOTLB_UNMAP;

    /** What a notifier runs for each event ({@code IOMMUNotify}). */
    @FunctionalInterface
    public interface Callback {
        /**
         * One event.
         *
         * @param notifier the notifier
         * @param entry the translation, cropped to the notifier's range (a copy the callback owns)
         */
        void notify(IommuNotifier notifier, IommuTlbEntry entry);
    }

    private final Callback callback;
    private final int flags;
    private final long start;
    private final long end;
    private final int iommuIdx;
    /** The list this notifier is registered on, or null; guarded by that list's lock. */
    volatile IommuNotifiers registeredOn;
    /** The JIT fast path's own notifier (not listed, not unregistrable from outside). */
    boolean internal;

    /**
     * Creates a notifier ({@code iommu_notifier_init}).
     *
     * @param callback what to run per event
     * @param flags the events wanted, a non-empty subset of {@link #ALL}
     * @param start first address of the range, an offset in the IOMMU region
     * @param end last address of the range (inclusive, unsigned, not below {@code start})
     * @param iommuIdx the translation context (checked against the region at registration)
     * @throws IommuException for empty or unknown flags, {@code end < start}, or a negative index
     */
    public IommuNotifier(Callback callback, int flags, long start, long end, int iommuIdx) {
        this.callback = Objects.requireNonNull(callback, "callback");
        if (flags == 0 || (flags & ~ALL) != 0) {
            throw new IommuException("notifier flags 0x" + Integer.toHexString(flags)
                    + ": need a non-empty subset of UNMAP|MAP|DEVIOTLB_UNMAP");
        }
        if (Long.compareUnsigned(start, end) > 0) {
            throw new IommuException("notifier range [0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end)
                    + "]: end below start");
        }
        if (iommuIdx < 0) {
            throw new IommuException("iommu index " + iommuIdx + " is negative");
        }
        this.flags = flags;
        this.start = start;
        this.end = end;
        this.iommuIdx = iommuIdx;
    }

    /** @return the events wanted */
    public int flags() {
        return flags;
    }

    /** @return the range's first address */
    public long start() {
        return start;
    }

    /** @return the range's last address (inclusive) */
    public long end() {
        return end;
    }

    /** @return the translation context */
    public int iommuIdx() {
        return iommuIdx;
    }

    /** @return whether the notifier is registered on a region now */
    public boolean isRegistered() {
        return registeredOn != null;
    }

    /**
     * {@code memory_region_notify_iommu_one}: sends one event to this notifier alone (an IOMMU model's
     * own {@link IommuOps#replay} does this, as QEMU's VT-d and SMMU models do). The event reaches
     * the callback if its type is one the notifier wants and it overlaps the notifier's range, cropped
     * to that range: {@code iova} and {@code addrMask} cover only the overlap (so {@code addrMask + 1}
     * is then the overlap's length, not always a power of two), and {@code translatedAddr} moves with
     * {@code iova}, so the cropped entry still maps each iova where the event did (QEMU crops iova and
     * mask only).
     *
     * @param type {@link #MAP}, {@link #UNMAP} or {@link #DEVIOTLB_UNMAP}
     * @param entry the translation; not kept
     * @throws IommuException for a type that is not one event, or an UNMAP with a permission
     */
    public void notifyOne(int type, IommuTlbEntry entry) {
        checkEvent(type, entry);
        deliver(type, entry);
    }

    /** The checks of {@code memory_region_notify_iommu(_one)}, before any notifier sees the event. */
    static void checkEvent(int type, IommuTlbEntry entry) {
        Objects.requireNonNull(entry, "entry");
        if (type != MAP && type != UNMAP && type != DEVIOTLB_UNMAP) {
            throw new IommuException("event type 0x" + Integer.toHexString(type) + " is not one of UNMAP, MAP, "
                    + "DEVIOTLB_UNMAP");
        }
        if (type == UNMAP && entry.perm != IommuTlbEntry.NONE) {
            throw new IommuException("an UNMAP event must carry no permission, got " + entry.perm);
        }
    }

    /** Delivers a checked event (see {@link #notifyOne}). */
    void deliver(int type, IommuTlbEntry entry) {
        long entryLast = entry.iovaLast();
        if (Long.compareUnsigned(start, entryLast) > 0 || Long.compareUnsigned(end, entry.iova) < 0
                || (type & flags) == 0) {
            return;
        }
        IommuTlbEntry cropped = entry.copy();
        if (Long.compareUnsigned(entry.iova, start) < 0) {
            cropped.iova = start;
            cropped.translatedAddr = entry.translatedStart() + (start - entry.iova);
        }
        long last = Long.compareUnsigned(entryLast, end) < 0 ? entryLast : end;
        cropped.addrMask = last - cropped.iova;
        callback.notify(this, cropped);
    }

    /** Runs the callback with {@code entry} as it is (replay: no range or type filter, as QEMU). */
    void deliverUnfiltered(IommuTlbEntry entry) {
        callback.notify(this, entry.copy());
    }

    /**
     * {@code memory_region_unmap_iommu_notifier_range}: tells this notifier that everything in its
     * range is unmapped (an IOMMU model does this on reset or when it is switched off). The event's
     * target space is null (QEMU names its global system memory, which guestmem does not have).
     */
    public void unmapRange() {
        deliver(UNMAP, new IommuTlbEntry(null, start, 0, end - start, IommuTlbEntry.NONE));
    }

    @Override
    public String toString() {
        return "IommuNotifier[flags=" + flags + " [0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end)
                + "] idx=" + iommuIdx + "]";
    }
}
