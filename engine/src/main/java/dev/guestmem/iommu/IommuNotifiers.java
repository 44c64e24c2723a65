package dev.guestmem.iommu;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Objects;

/**
 * The notifiers of one IOMMU region and the events sent to them: QEMU's
 * {@code memory_region_register_iommu_notifier}, {@code _unregister_}, {@code memory_region_notify_iommu},
 * {@code memory_region_iommu_replay} and the notifier-flags bookkeeping behind
 * {@code notify_flag_changed}. Reach it with {@link IommuRegion#notifiers()}.
 *
 * <p>QEMU's order is kept: a new notifier goes first in the list, so events reach the newest
 * notifier first. An event is checked before any notifier sees it, so a malformed one reaches none.
 *
 * <p><b>Thread safety.</b> Registration, unregistration and the flags hook are serialized by this
 * object's lock. {@link #notify} and {@link #replay} take no lock: they read the list published by
 * the last registration (a notifier registered while an event is being delivered may or may not
 * see it) and run the callbacks on the calling thread, so a callback may register or unregister.
 */
public final class IommuNotifiers {
    private static final IommuNotifier[] NONE = {};

    private final IommuRegion region;
    private final Object lock = new Object();
    /** Newest first; replaced, never mutated (copy on write). */
    private volatile IommuNotifier[] list = NONE;
    /** The flags the model last accepted ({@code iommu_notify_flags}); guarded by {@link #lock}. */
    private int flags;
    /** Per translation context, the JIT fast path's invalidation notifier, once created. */
    private volatile TlbInvalidation[] tlbWatches = new TlbInvalidation[0];

    /**
     * Creates the list of {@code region} (the region does this).
     *
     * @param region the IOMMU region
     */
    public IommuNotifiers(IommuRegion region) {
        this.region = Objects.requireNonNull(region, "region");
    }

    /**
     * The IOMMU region behind {@code mr}: itself, or the end of its alias chain, as QEMU's
     * registration follows {@code mr->alias}.
     *
     * @param mr an IOMMU region or an alias of one
     * @return the IOMMU region
     * @throws IommuException if there is no IOMMU region behind {@code mr}
     */
    public static IommuRegion of(MemoryRegion mr) {
        Objects.requireNonNull(mr, "mr");
        MemoryRegion r = mr;
        for (int hops = 0; r instanceof AliasRegion a && hops < 1 << 16; hops++) {
            r = a.target();
        }
        if (r instanceof IommuRegion iommu) {
            return iommu;
        }
        throw new IommuException("region " + mr.name() + " is not an IOMMU region"
                + (r == mr ? "" : " (its alias chain ends at " + r.name() + ")"));
    }

    /** @return the union of the registered notifiers' flags, as last accepted by the model */
    public int flags() {
        synchronized (lock) {
            return flags;
        }
    }

    /** @return the registered notifiers, newest first */
    public IommuNotifier[] registered() {
        return list.clone();
    }

    /**
     * Registers {@code n} ({@code memory_region_register_iommu_notifier}). If the flags' union
     * changes, the model's {@link IommuOps#notifyFlagChanged} hook is asked first.
     *
     * @param n the notifier
     * @throws IommuException if {@code n} is already registered, its index is not below the region's
     *     {@code numIndexes()}, or the model refuses the new flags; nothing changes then
     */
    public void register(IommuNotifier n) {
        Objects.requireNonNull(n, "notifier");
        synchronized (lock) {
            if (n.registeredOn != null) {
                throw new IommuException(n + " is already registered on " + n.registeredOn.region.name());
            }
            int indexes = region.numIndexes();
            if (n.iommuIdx() >= indexes) {
                throw new IommuException(n + ": index out of [0, " + indexes + ") of " + region.name());
            }
            IommuNotifier[] old = list;
            IommuNotifier[] grown = new IommuNotifier[old.length + 1];
            grown[0] = n;
            System.arraycopy(old, 0, grown, 1, old.length);
            changeFlags(union(grown)); // throws before anything is published
            list = grown;
            n.registeredOn = this;
        }
    }

    /**
     * Unregisters {@code n} ({@code memory_region_unregister_iommu_notifier}). The model's flags
     * hook is told of the smaller union; if it refuses, the old flags are kept, as QEMU does.
     *
     * @param n a notifier registered here
     * @throws IommuException if {@code n} is not registered on this region
     */
    public void unregister(IommuNotifier n) {
        Objects.requireNonNull(n, "notifier");
        synchronized (lock) {
            if (n.registeredOn != this) {
                throw new IommuException(n + " is not registered on " + region.name());
            }
            IommuNotifier[] old = list;
            IommuNotifier[] shrunk = new IommuNotifier[old.length - 1];
            for (int i = 0, j = 0; i < old.length; i++) {
                if (old[i] != n) {
                    shrunk[j++] = old[i];
                }
            }
            list = shrunk;
            n.registeredOn = null;
            try {
                changeFlags(union(shrunk));
            } catch (IommuException refused) {
                // QEMU ignores the error on unregistration and keeps the flags it had
            }
        }
    }

    private static int union(IommuNotifier[] ns) {
        int f = 0;
        for (IommuNotifier n : ns) {
            f |= n.flags();
        }
        return f;
    }

    /** {@code memory_region_update_iommu_notify_flags}; lock held. */
    private void changeFlags(int wanted) {
        IommuOps ops = region.iommuOps();
        if (wanted != flags && ops != null) {
            ops.notifyFlagChanged(region, flags, wanted);
        }
        flags = wanted;
    }

    /**
     * Sends one event to the notifiers of context {@code iommuIdx} ({@code memory_region_notify_iommu}):
     * each gets it cropped to its range if it overlaps and the type is one it wants.
     *
     * @param iommuIdx the translation context
     * @param type {@link IommuNotifier#MAP}, {@link IommuNotifier#UNMAP} or
     *     {@link IommuNotifier#DEVIOTLB_UNMAP}
     * @param entry the translation (iova, mask, target, permissions); not kept
     * @throws IommuException for a type that is not one event, or an UNMAP that carries permissions;
     *     no notifier has seen the event then
     */
    public void notify(int iommuIdx, int type, IommuTlbEntry entry) {
        Objects.requireNonNull(entry, "entry");
        if (type != IommuNotifier.MAP && type != IommuNotifier.UNMAP && type != IommuNotifier.DEVIOTLB_UNMAP) {
            throw new IommuException("event type 0x" + Integer.toHexString(type) + " is not one of UNMAP, MAP, "
                    + "DEVIOTLB_UNMAP");
        }
        if (type == IommuNotifier.UNMAP && entry.perm != IommuTlbEntry.NONE) {
            throw new IommuException("an UNMAP event must carry no permission, got " + entry.perm);
        }
        VarHandle.fullFence(); // the model's table writes before our read of the list (see watchForTlb)
        for (IommuNotifier n : list) {
            if (n.iommuIdx() == iommuIdx) {
                n.deliver(type, entry);
            }
        }
    }

    /**
     * {@code memory_region_iommu_replay}: tells {@code n} every translation present for its index,
     * through the model's {@link IommuOps#replay} (by default {@link #replayByWalk}).
     *
     * @param n the notifier (registered or not, as in QEMU)
     */
    public void replay(IommuNotifier n) {
        Objects.requireNonNull(n, "notifier");
        IommuOps ops = region.iommuOps();
        if (ops != null) {
            ops.replay(region, n);
        }
    }

    /**
     * QEMU's generic replay: translates every {@link IommuOps#minPageSize()} step of the region with
     * flag {@link IommuTlbEntry#NONE} and hands each translation with a permission to {@code n}
     * as the model returned it (no range or type filter, as QEMU). Over a large region this is a long
     * walk, which is why models override {@link IommuOps#replay}.
     *
     * @param n the notifier
     * @throws IommuException if the model's minimum page size is not a power of two
     */
    public void replayByWalk(IommuNotifier n) {
        IommuOps ops = region.iommuOps();
        if (ops == null) {
            return;
        }
        long granularity = ops.minPageSize();
        if (granularity <= 0 || Long.bitCount(granularity) != 1) {
            throw new IommuException("minimum page size " + granularity + " of " + region.name()
                    + " is not a power of two");
        }
        long size = region.size(); // -1L: 2^64
        if (size == 0) {
            return;
        }
        long sizeMinusOne = size == MemoryRegion.SIZE_2_64 ? -1L : size - 1;
        IommuTlbEntry e = new IommuTlbEntry();
        for (long addr = 0;; addr += granularity) {
            e.targetAs = null;
            e.perm = IommuTlbEntry.NONE;
            ops.translate(addr, IommuTlbEntry.NONE, n.iommuIdx(), e);
            if (e.perm != IommuTlbEntry.NONE) {
                n.deliverUnfiltered(e);
            }
            long next = addr + granularity;
            if (Long.compareUnsigned(next, addr) < 0 || Long.compareUnsigned(next, sizeMinusOne) > 0) {
                return; // past the region's end, or wrapped past 2^64
            }
        }
    }

    /**
     * For the JIT fast path ({@code tcg_register_iommu_notifier}): makes sure that an event of
     * context {@code iommuIdx} invalidates the translations {@code as} cached through this IOMMU
     * ({@link AddressSpace#invalidateTranslations()}). The first call per context registers an
     * {@link IommuNotifier#UNMAP} notifier over the whole region, as TCG does; later calls cost a
     * scan of a short array.
     *
     * @param iommuIdx the translation context
     * @param as the address space whose translations pass through here
     * @return whether events now reach {@code as}; false if the model refused the notifier (then
     *     nothing may be cached through this IOMMU)
     */
    public boolean watchForTlb(int iommuIdx, AddressSpace as) {
        TlbInvalidation[] watches = tlbWatches;
        if (iommuIdx >= 0 && iommuIdx < watches.length && watches[iommuIdx] != null
                && watches[iommuIdx].covers(as)) {
            return true;
        }
        synchronized (lock) {
            if (iommuIdx < 0 || iommuIdx >= region.numIndexes()) {
                return false;
            }
            watches = tlbWatches;
            if (iommuIdx >= watches.length) {
                watches = Arrays.copyOf(watches, iommuIdx + 1);
            }
            TlbInvalidation w = watches[iommuIdx];
            if (w == null) {
                w = new TlbInvalidation(iommuIdx);
                try {
                    register(w.notifier());
                } catch (IommuException refused) {
                    return false;
                }
                watches[iommuIdx] = w;
                tlbWatches = watches;
            }
            w.add(as);
        }
        VarHandle.fullFence(); // the watch is in place before the caller reads the model's tables
        return true;
    }

    /**
     * Invalidates every address space that cached a translation through this IOMMU (the model's
     * hooks were replaced, so any answer may differ).
     */
    public void invalidateTlbs() {
        for (TlbInvalidation w : tlbWatches) {
            if (w != null) {
                w.invalidateAll();
            }
        }
    }

    @Override
    public String toString() {
        return "IommuNotifiers[" + region.name() + ": " + list.length + " notifiers, flags=" + flags + "]";
    }
}
