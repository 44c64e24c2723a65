package dev.guestmem.iommu;

import dev.guestmem.MemorySystemClosedException;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.listener.ListenerList;
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
    /** While the model's flags hook runs (lock held, so only its own thread can see it true). */
    private boolean inFlagsHook;
    /** Per translation context, the JIT fast path's invalidation notifier, once created; copy on write. */
    private volatile TlbInvalidation[] tlbWatches = new TlbInvalidation[0];
    /** Contexts whose model refused the JIT's notifier; guarded by {@link #lock}. */
    private final java.util.Set<Integer> tlbRefused = new java.util.HashSet<>();
    /** Spaces that have this list's destroy hook: one each, whatever the contexts and model swaps. */
    private final java.util.Set<AddressSpace> hookedSpaces =
            java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

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

    /**
     * The notifiers registered by users, newest first. The JIT fast path's own notifiers
     * ({@link #watchForTlb}) count in {@link #flags()} and hear every event, but are not listed: they
     * cannot be unregistered from outside (TCG keeps its notifiers in the CPU's own list).
     *
     * @return the notifiers
     */
    public IommuNotifier[] registered() {
        return Arrays.stream(list).filter(n -> !n.internal).toArray(IommuNotifier[]::new);
    }

    /**
     * Registers {@code n} ({@code memory_region_register_iommu_notifier}). If the flags' union
     * changes, the model's {@link IommuOps#notifyFlagChanged} hook is asked first.
     *
     * @param n the notifier
     * @throws IommuException if {@code n} is already registered, its index is not below the region's
     *     {@code numIndexes()}, the model refuses the new flags, or the call comes from the model's
     *     {@link IommuOps#notifyFlagChanged} hook on this region; nothing changes then
     * @throws MemorySystemClosedException if the region's system is closed (a new listener of a
     *     machine that is gone, as {@code MemorySystem.registerListener}); nothing changes then.
     *     Unregistering stays possible.
     */
    public void register(IommuNotifier n) {
        Objects.requireNonNull(n, "notifier");
        // Not under the topology lock (the model's flags hook runs here): the teardown neither reads
        // nor changes the notifiers, so a registration racing close() is one made just before it.
        if (region.system().isClosed()) {
            throw new MemorySystemClosedException("register of an IOMMU notifier on '" + region.name() + "'");
        }
        synchronized (lock) {
            refuseFromFlagsHook("register " + n);
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
     * @throws IommuException if {@code n} is not registered on this region, or the call comes from
     *     the model's {@link IommuOps#notifyFlagChanged} hook on this region
     */
    public void unregister(IommuNotifier n) {
        Objects.requireNonNull(n, "notifier");
        synchronized (lock) {
            refuseFromFlagsHook("unregister " + n);
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
            } catch (RuntimeException refused) {
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
            callFlagsHook(ops, flags, wanted);
        }
        flags = wanted;
    }

    /** Runs the model's flags hook, marked so that it cannot change the list it is being told about. */
    private void callFlagsHook(IommuOps ops, int oldFlags, int newFlags) {
        inFlagsHook = true;
        try {
            ops.notifyFlagChanged(region, oldFlags, newFlags);
        } finally {
            inFlagsHook = false;
        }
    }

    /**
     * A hook that registered or unregistered here would change the list under the call that asked
     * it, which then publishes its own copy and loses the change (and the flags no longer match the
     * list); QEMU's stored flags go stale the same way. Lock held.
     */
    private void refuseFromFlagsHook(String what) {
        if (inFlagsHook) {
            throw new IommuException(what + ": called from the notifyFlagChanged hook of " + region.name()
                    + "'s model, which must not change the notifiers it is told about");
        }
    }

    /**
     * Sends one event to the notifiers of context {@code iommuIdx} ({@code memory_region_notify_iommu}):
     * each gets it cropped to its range if it overlaps and the type is one it wants
     * ({@link IommuNotifier#notifyOne}).
     *
     * <p>Every notifier hears the event even if one throws (QEMU's callbacks cannot fail, and a
     * notifier that misses an UNMAP keeps using memory that is gone); the first throw is rethrown
     * after the last notifier, later ones added to it as suppressed.
     *
     * @param iommuIdx the translation context
     * @param type {@link IommuNotifier#MAP}, {@link IommuNotifier#UNMAP} or
     *     {@link IommuNotifier#DEVIOTLB_UNMAP}
     * @param entry the translation (iova, mask, target, permissions); not kept
     * @throws IommuException for a type that is not one event, or an UNMAP that carries permissions;
     *     no notifier has seen the event then
     */
    public void notify(int iommuIdx, int type, IommuTlbEntry entry) {
        IommuNotifier.checkEvent(type, entry);
        VarHandle.fullFence(); // the model's table writes before our read of the list (see watchForTlb)
        Throwable failed = null;
        for (IommuNotifier n : list) {
            if (n.iommuIdx() == iommuIdx) {
                try {
                    n.deliver(type, entry);
                } catch (RuntimeException | Error t) {
                    if (failed == null) {
                        failed = t;
                    } else {
                        failed.addSuppressed(t);
                    }
                }
            }
        }
        if (failed instanceof RuntimeException re) {
            throw re;
        }
        if (failed instanceof Error e) {
            throw e;
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
            e.iova = addr;
            e.translatedAddr = 0;
            e.addrMask = granularity - 1;
            e.perm = IommuTlbEntry.NONE;
            e.pasid = 0; // one entry serves the walk: a page that sets no PASID must not show the last one's
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
     * context {@code iommuIdx} invalidates the translations {@code as} caches through this IOMMU
     * ({@link AddressSpace#invalidateTranslations()}). The first call per context registers an
     * {@link IommuNotifier#UNMAP} notifier over the whole region, as TCG does (the model's
     * {@link IommuOps#notifyFlagChanged} is asked; if it refuses, nothing may be cached through
     * this context until the model is replaced); later calls cost a scan of a short array. The
     * watch of {@code as} ends when the space is destroyed.
     *
     * @param iommuIdx the translation context
     * @param as the address space whose translations pass through here
     * @return whether events now reach {@code as}; false if the model refused the notifier
     */
    public boolean watchForTlb(int iommuIdx, AddressSpace as) {
        TlbInvalidation[] watches = tlbWatches;
        if (iommuIdx >= 0 && iommuIdx < watches.length && watches[iommuIdx] != null
                && watches[iommuIdx].covers(as)) {
            return true;
        }
        synchronized (lock) {
            if (iommuIdx < 0 || iommuIdx >= region.numIndexes() || tlbRefused.contains(iommuIdx)) {
                return false;
            }
            watches = tlbWatches.clone();
            if (iommuIdx >= watches.length) {
                watches = Arrays.copyOf(watches, iommuIdx + 1);
            }
            TlbInvalidation w = watches[iommuIdx];
            if (w == null) {
                w = new TlbInvalidation(iommuIdx, SystemInternals.owedInvalidations(region.system()));
                try {
                    register(w.notifier());
                } catch (RuntimeException refused) {
                    tlbRefused.add(iommuIdx); // QEMU's error_fatal; here: this context stays slow
                    return false;
                }
                watches[iommuIdx] = w;
            }
            if (!w.covers(as)) {
                w.add(as);
                if (hookedSpaces.add(as)) {
                    as.addDestroyHook(() -> forgetSpace(as));
                }
            }
            tlbWatches = watches;
        }
        VarHandle.fullFence(); // the watch is in place before the caller reads the model's tables
        return true;
    }

    /** A destroyed space: drop it from every watch, and a watch left with no space (as TCG's unrealize). */
    private void forgetSpace(AddressSpace as) {
        synchronized (lock) {
            hookedSpaces.remove(as);
            TlbInvalidation[] watches = tlbWatches.clone();
            for (int i = 0; i < watches.length; i++) {
                TlbInvalidation w = watches[i];
                if (w != null && w.remove(as) && w.isEmpty()) {
                    unregister(w.notifier());
                    watches[i] = null;
                }
            }
            tlbWatches = watches;
        }
    }

    /**
     * Replaces the model (what {@link IommuRegion#setIommuOps} does): the new model is told the
     * flags of the users' notifiers it takes over (and may refuse them: then nothing changes), the
     * old one that they are gone; the JIT fast path's notifiers are dropped and every space that
     * cached through this IOMMU is invalidated once {@code install} has stored the new model, so its
     * next fill asks the new model.
     *
     * @param old the model now installed, or null
     * @param next the new model, or null
     * @param install stores {@code next} where the access path reads it
     * @throws IommuException if a user notifier's context is not below {@code next}'s index count,
     *     or {@code next} refuses the flags; nothing changes then
     */
    public void changeModel(IommuOps old, IommuOps next, Runnable install) {
        Objects.requireNonNull(install, "install");
        TlbInvalidation[] dropped;
        synchronized (lock) {
            refuseFromFlagsHook("replace the model");
            IommuNotifier[] users = registered();
            int userFlags = union(users);
            if (next != null) {
                int indexes = next.numIndexes();
                for (IommuNotifier n : users) {
                    if (n.iommuIdx() >= indexes) {
                        throw new IommuException(n + ": index out of [0, " + indexes + ") of the new model of "
                                + region.name());
                    }
                }
                if (userFlags != 0) {
                    callFlagsHook(next, 0, userFlags); // may refuse: nothing changed yet
                }
            }
            if (old != null && flags != 0) {
                try {
                    callFlagsHook(old, flags, 0);
                } catch (RuntimeException ignored) {
                    // the old model is leaving; its objection changes nothing
                }
            }
            dropped = tlbWatches;
            for (TlbInvalidation w : dropped) {
                if (w != null) {
                    w.notifier().registeredOn = null;
                }
            }
            list = users;
            flags = userFlags;
            tlbWatches = new TlbInvalidation[0];
            tlbRefused.clear();
            install.run();
        }
        Throwable failed = null;
        for (TlbInvalidation w : dropped) { // after the new model is visible: refills ask it
            if (w != null) {
                try {
                    w.invalidateAll();
                } catch (RuntimeException | Error t) { // the other contexts' spaces must not stay stale
                    failed = ListenerList.merge(failed, t);
                }
            }
        }
        ListenerList.rethrow(failed);
    }

    @Override
    public String toString() {
        return "IommuNotifiers[" + region.name() + ": " + list.length + " notifiers, flags=" + flags + "]";
    }
}
