package dev.guestmem.discard;

import dev.guestmem.ram.RamBackendException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.Int128;
import dev.guestmem.region.InvalidRangeException;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link RamDiscardManager} over one RAM region, split into blocks of a fixed power-of-two size,
 * each plugged (populated) or unplugged (discarded): the shape of QEMU's virtio-mem
 * ({@code hw/virtio/virtio-mem.c}), for device models that hand memory to a guest and take it back.
 *
 * {@snippet lang=java :
 * RamRegion mem = RamRegion.allocate(sys, null, "vmem0", 64L << 20);
 * BitmapRamDiscardManager vmem = BitmapRamDiscardManager.attach(mem, 2L << 20); // all unplugged
 * system.addSubregion(0x1_0000_0000L, mem);                                     // then map it
 * vmem.plug(0, 4L << 20);      // listeners told first; any may refuse
 * vmem.unplug(2L << 20, 2L << 20); // RAM discarded, then listeners told
 * }
 *
 * <h2 id="order">Order of events (virtio-mem's {@code virtio_mem_set_block_state})</h2>
 * <ul>
 * <li>{@link #plug}: the range is checked (block-aligned, inside the region, every block unplugged);
 * every registered listener whose section meets the range hears {@code notifyPopulate} for its part,
 * newest registration first (QEMU inserts at the list head); only then are the blocks marked plugged.
 * If a listener refuses, the listeners told before it hear {@code notifyDiscard} for their part, the
 * range is discarded again (a listener may have populated it) and the refusal is rethrown: the blocks
 * stay unplugged.</li>
 * <li>{@link #unplug}: the range is checked (every block plugged); the RAM is discarded
 * ({@link RamBlock#discard}); then every listener hears {@code notifyDiscard} for its part; then the
 * blocks are marked unplugged. If the discard fails nothing changed and no listener heard anything.
 * This is QEMU's order: {@code notify_discard} reports memory that <em>was</em> discarded.</li>
 * <li>{@link #unplugAll}: the whole region is discarded, then each listener hears of it once for its
 * whole section if it supports double discard, else once per plugged run.</li>
 * </ul>
 * {@link #attach} discards the whole region, as virtio-mem's realize does, so unplugged memory
 * holds nothing (anonymous memory reads as zeros); it claims that coordinated discards work
 * ({@link RamDiscardPolicy#requireCoordinated}), so it is refused while a device has disabled every
 * discard, and {@link #detach} gives the claim back.
 *
 * <h2 id="listeners">Listeners</h2>
 * {@link #registerListener} keeps a copy of the section (a reference on its region, QEMU's
 * {@code memory_region_section_new_copy}) and replays the populated runs at once;
 * {@link #unregisterListener} tells it the populated parts are discarded and drops the copy. Deviation
 * from QEMU: if the listener refuses during registration, QEMU logs the error and keeps it registered
 * half-told; here the runs it accepted are discarded again for it, it is not registered, and the
 * refusal is rethrown, so a refused registration changes nothing.
 *
 * <p>The manager covers the region's size when attached; a later resize of the region does not
 * change it.
 *
 * <p><b>Thread safety.</b> Every method takes the region's {@linkplain dev.guestmem.MemorySystem#lock()
 * system lock} (QEMU's BQL, under which virtio-mem and its listeners run), so it may be called from
 * any thread; listeners are called with it held. Listeners must not register or unregister listeners
 * of this manager from their callbacks.
 */
public final class BitmapRamDiscardManager implements RamDiscardManager {
    private final RamRegion region;
    private final RamBlock block;
    private final long blockSize;
    private final long regionSize;
    private final ReentrantLock lock;
    private final BlockBitmap bitmap;
    /** Registered listeners, newest first (QEMU's {@code QLIST_INSERT_HEAD}). */
    private final List<Registration> listeners = new ArrayList<>();
    private long pluggedSize;
    /** The claim that coordinated discards work, taken by {@link #attach}, given back by {@link #detach}. */
    private RamDiscardPolicy.Claim claim;

    /** A listener and the copy of its section. */
    private record Registration(RamDiscardListener listener, MemoryRegionSection section) {
    }

    private BitmapRamDiscardManager(RamRegion region, long blockSize) {
        this.region = region;
        this.block = region.ramBlock();
        this.blockSize = blockSize;
        this.regionSize = region.size();
        this.lock = region.system().lock();
        this.bitmap = new BlockBitmap(regionSize / blockSize);
    }

    /**
     * Creates a manager for {@code region}, with every block unplugged, sets it as the region's
     * manager ({@link MemoryRegion#setRamDiscardManager}) and discards the whole region, as
     * virtio-mem's realize does.
     *
     * @param region an unmapped RAM region without a manager
     * @param blockSize the block size: a power of two, at least the RAM block's page size and 4 KiB;
     *     the region's size must be a nonzero multiple of it
     * @return the manager
     * @throws RamDiscardManagerException if the block size does not fit the region, or the region is
     *     mapped or already has a manager; nothing changes then
     * @throws DiscardPolicyException if a device has disabled every RAM discard
     *     ({@link RamDiscardPolicy#disable}); nothing changes then
     * @throws RamBackendException if the region's memory cannot be discarded (caller-owned memory);
     *     the region has no manager then
     */
    public static BitmapRamDiscardManager attach(RamRegion region, long blockSize) {
        Objects.requireNonNull(region, "region");
        ReentrantLock lock = region.system().lock();
        lock.lock();
        try {
            RamBlock rb = region.ramBlock();
            if (region.isRomDevice() || region.isReadonly() || !region.isRam() || rb == null
                    || (rb.flags() & dev.guestmem.ram.RamFlags.READONLY) != 0) {
                throw new RamDiscardManagerException("'" + region.name() + "' is not writable RAM: virtio-mem"
                        + " refuses a ROM or read-only memdev");
            }
            long size = region.size();
            long minBlock = Math.max(rb.pageSize(), 4096);
            if (blockSize <= 0 || Long.bitCount(blockSize) != 1 || blockSize < minBlock) {
                throw new RamDiscardManagerException("block size 0x" + Long.toHexString(blockSize) + " for '"
                        + region.name() + "': must be a power of two of at least 0x" + Long.toHexString(minBlock));
            }
            if (size <= 0 || size % blockSize != 0) {
                throw new RamDiscardManagerException("region '" + region.name() + "' of 0x" + Long.toHexString(size)
                        + " bytes is not a nonzero multiple of the block size 0x" + Long.toHexString(blockSize));
            }
            if ((size / blockSize + 63) >>> 6 > Integer.MAX_VALUE) {
                throw new RamDiscardManagerException("region '" + region.name() + "' has too many blocks of 0x"
                        + Long.toHexString(blockSize) + " bytes");
            }
            BitmapRamDiscardManager m = new BitmapRamDiscardManager(region, blockSize);
            // virtio-mem's realize: ram_block_coordinated_discard_require(true), refused while a
            // device has disabled every discard
            m.claim = region.system().ramDiscardPolicy().requireCoordinated("virtio-mem-like manager of '"
                    + region.name() + "'");
            try {
                region.setRamDiscardManager(m);
            } catch (RuntimeException e) {
                m.claim.close();
                throw e;
            }
            try {
                rb.discard(0, size);
            } catch (RuntimeException e) {
                region.setRamDiscardManager(null); // still unmapped: we hold the lock; closes the claim
                throw e;
            }
            return m;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes the manager off its region (virtio-mem's unrealize): the region must be unmapped and have
     * no listener registered here; its memory stays as it is, and the manager's claim that
     * coordinated discards work ({@link RamDiscardPolicy#requireCoordinated}) is given back. Calling
     * it again does nothing. {@code region.setRamDiscardManager(null)} does the same; a detached
     * manager cannot be set again (attach a new one).
     *
     * @throws RamDiscardManagerException if the region is mapped or listeners are registered;
     *     nothing changes then
     */
    public void detach() {
        lock.lock();
        try {
            if (!isDetached()) {
                region.setRamDiscardManager(null); // refuses while mapped or listened to; gives the claim back
            }
        } finally {
            lock.unlock();
        }
    }

    /** @return whether the manager is off its region: {@link #detach} ran, or the region's manager was set null */
    boolean isDetached() {
        return claim != null && claim.isClosed();
    }

    /** Refuses to leave the region while a listener is registered (it would never hear of the region again). */
    void checkNoListeners() {
        if (!listeners.isEmpty()) {
            throw new RamDiscardManagerException("manager of '" + region.name() + "' still has "
                    + listeners.size() + " listener(s)");
        }
    }

    /** Gives the claim back once the region has dropped the manager; idempotent. Caller holds the lock. */
    void releaseClaim() {
        if (claim != null) {
            claim.close();
        }
    }

    /** @return the region this manager manages */
    public RamRegion region() {
        return region;
    }

    /** @return the block size: the granularity of plug, unplug and notifications */
    public long blockSize() {
        return blockSize;
    }

    /** @return the bytes managed: the region's size when attached */
    public long regionSize() {
        return regionSize;
    }

    /** @return the plugged bytes (virtio-mem's {@code size}) */
    public long pluggedSize() {
        lock.lock();
        try {
            return pluggedSize;
        } finally {
            lock.unlock();
        }
    }

    /** @return the registered listeners, newest first (QEMU's {@code rdl_list}) */
    public List<RamDiscardListener> listeners() {
        lock.lock();
        try {
            return listeners.stream().map(Registration::listener).toList();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The section a listener registered with (the manager's copy, QEMU's {@code rdl->section}).
     *
     * @param listener a listener
     * @return its section, or null if it is not registered
     */
    public MemoryRegionSection registeredSection(RamDiscardListener listener) {
        lock.lock();
        try {
            int i = indexOf(listener);
            return i < 0 ? null : listeners.get(i).section();
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // State changes

    /**
     * Plugs {@code [offset, offset + length)} (virtio-mem's plug request): listeners first, then the
     * blocks are marked plugged. See <a href="#order">the order of events</a>.
     *
     * @param offset region offset, a multiple of the block size
     * @param length bytes, a nonzero multiple of the block size
     * @throws InvalidRangeException if the range is unaligned, empty or outside the region
     * @throws DiscardStateException if some block of it is plugged already
     * @throws PopulateRefusedException (or another runtime exception a listener threw) if a listener
     *     refused; the blocks stay unplugged and the range discarded
     */
    public void plug(long offset, long length) {
        lock.lock();
        try {
            checkChange("plug", offset, length, false);
            notifyPopulate(offset, length);
            bitmap.fill(offset / blockSize, length / blockSize, true);
            pluggedSize += length;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Unplugs {@code [offset, offset + length)} (virtio-mem's unplug request): the RAM is discarded,
     * then listeners are told, then the blocks are marked unplugged. See
     * <a href="#order">the order of events</a>.
     *
     * @param offset region offset, a multiple of the block size
     * @param length bytes, a nonzero multiple of the block size
     * @throws InvalidRangeException if the range is unaligned, empty or outside the region
     * @throws DiscardStateException if some block of it is not plugged
     * @throws RamBackendException if the kernel refuses the discard; nothing changed then
     */
    public void unplug(long offset, long length) {
        lock.lock();
        try {
            checkChange("unplug", offset, length, true);
            block.discard(offset, length);
            // The memory is gone now: every listener hears of it, even if one throws (notify_discard
            // cannot fail in QEMU), then the blocks are unplugged; the first throw is rethrown after.
            Throwable failed = null;
            for (Registration r : List.copyOf(listeners)) {
                MemoryRegionSection s = DiscardSections.intersect(r.section(), offset, length);
                if (s != null) {
                    failed = tellDiscard(r.listener(), s, failed);
                }
            }
            bitmap.fill(offset / blockSize, length / blockSize, false);
            pluggedSize -= length;
            rethrow(failed);
        } finally {
            lock.unlock();
        }
    }

    /** Tells one listener a discard; a throw is kept (the first) or added to it, never stops the caller. */
    private static Throwable tellDiscard(RamDiscardListener l, MemoryRegionSection s, Throwable failed) {
        try {
            l.notifyDiscard(s);
        } catch (Throwable t) {
            if (failed == null) {
                return t;
            }
            failed.addSuppressed(t);
        }
        return failed;
    }

    private static void rethrow(Throwable failed) {
        if (failed instanceof RuntimeException re) {
            throw re;
        }
        if (failed instanceof Error e) {
            throw e;
        }
        if (failed != null) {
            throw new IllegalStateException(failed);
        }
    }

    /**
     * Unplugs every block (virtio-mem's unplug-all request): if anything is plugged, the whole region
     * is discarded, then each listener hears {@code notifyDiscard} once for its whole section if it
     * supports double discard, else once per plugged run inside it.
     *
     * @throws RamBackendException if the kernel refuses the discard; nothing changed then
     */
    public void unplugAll() {
        lock.lock();
        try {
            checkAttached("unplugAll");
            if (pluggedSize == 0) {
                return;
            }
            block.discard(0, regionSize);
            Throwable failed = null; // every listener hears of it, then the bits are cleared
            for (Registration r : List.copyOf(listeners)) {
                failed = discardAllFor(r, failed);
            }
            bitmap.fill(0, bitmap.size(), false);
            pluggedSize = 0;
            rethrow(failed);
        } finally {
            lock.unlock();
        }
    }

    /** virtio-mem's {@code virtio_mem_notify_plug}: tell each listener; on a refusal, roll back and rethrow. */
    private void notifyPopulate(long offset, long length) {
        List<Registration> told = List.copyOf(listeners);
        for (int i = 0; i < told.size(); i++) {
            Registration r = told.get(i);
            MemoryRegionSection s = DiscardSections.intersect(r.section(), offset, length);
            if (s == null) {
                continue;
            }
            try {
                r.listener().notifyPopulate(s);
            } catch (Throwable refusal) {
                for (int j = 0; j < i; j++) {
                    Registration back = told.get(j);
                    MemoryRegionSection bs = DiscardSections.intersect(back.section(), offset, length);
                    if (bs != null) {
                        tellDiscard(back.listener(), bs, refusal); // a throw here joins the refusal
                    }
                }
                // "Could be preallocation or a notifier populated memory."
                try {
                    block.discard(offset, length);
                } catch (Throwable e) {
                    refusal.addSuppressed(e);
                }
                rethrow(refusal);
            }
        }
    }

    /**
     * virtio-mem's {@code virtio_mem_notify_unplug_all} for one listener (the bits still set); a
     * throw joins {@code failed} and stops nothing.
     */
    private Throwable discardAllFor(Registration r, Throwable failed) {
        if (r.listener().doubleDiscardSupported()) {
            return tellDiscard(r.listener(), r.section(), failed);
        }
        Throwable[] f = {failed};
        forEachRun(r.section(), true, s -> f[0] = tellDiscard(r.listener(), s, f[0]));
        return f[0];
    }

    // ---------------------------------------------------------------------------------------------
    // RamDiscardManager

    /** {@inheritDoc} Here: the block size. */
    @Override
    public long minGranularity(MemoryRegion mr) {
        if (mr != region) {
            throw foreign("minGranularity", mr);
        }
        return blockSize;
    }

    /**
     * {@inheritDoc} Here: the section is widened to whole blocks (virtio-mem's
     * {@code virtio_mem_rdm_is_populated}); every block must be plugged and inside the region.
     */
    @Override
    public boolean isPopulated(MemoryRegionSection section) {
        lock.lock();
        try {
            checkSection("isPopulated", section);
            Int128 start = Int128.ofUnsigned(section.offsetWithinRegion());
            Int128 end = DiscardSections.regionEnd(section);
            if (end.compareTo(Int128.ofUnsigned(regionSize)) > 0) {
                return false;
            }
            long first = start.lo() / blockSize;
            long endBit = (end.lo() + blockSize - 1) / blockSize; // end <= regionSize < 2^63: no overflow
            return bitmap.nextClear(first) >= endBit;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void replayPopulated(MemoryRegionSection section, RamDiscardReplay replay) {
        Objects.requireNonNull(replay, "replay");
        lock.lock();
        try {
            checkSection("replayPopulated", section);
            forEachRun(section, true, replay);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void replayDiscarded(MemoryRegionSection section, RamDiscardReplay replay) {
        Objects.requireNonNull(replay, "replay");
        lock.lock();
        try {
            checkSection("replayDiscarded", section);
            forEachRun(section, false, replay);
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@inheritDoc} Here: the listener goes to the head of the list (it hears later changes first),
     * and its section must lie inside the region. If it refuses a run, it is told {@code notifyDiscard}
     * for the runs it accepted, it is not registered, and the refusal is rethrown (QEMU keeps it
     * registered and logs the error).
     */
    @Override
    public void registerListener(RamDiscardListener listener, MemoryRegionSection section) {
        Objects.requireNonNull(listener, "listener");
        lock.lock();
        try {
            checkSection("registerListener", section);
            if (!DiscardSections.within(section, regionSize)) {
                throw new RamDiscardManagerException("registerListener on '" + region.name() + "': section "
                        + range(section.offsetWithinRegion(), section.size()) + " passes the region's 0x"
                        + Long.toHexString(regionSize) + " bytes");
            }
            if (indexOf(listener) >= 0) {
                throw new RamDiscardManagerException("registerListener on '" + region.name() + "': " + listener
                        + " is registered already");
            }
            MemoryRegionSection copy = section.copy();
            listeners.addFirst(new Registration(listener, copy));
            List<MemoryRegionSection> accepted = new ArrayList<>();
            try {
                forEachRun(copy, true, s -> {
                    listener.notifyPopulate(s);
                    accepted.add(s);
                });
            } catch (Throwable refusal) {
                for (MemoryRegionSection s : accepted) {
                    tellDiscard(listener, s, refusal);
                }
                listeners.removeFirst();
                copy.release();
                rethrow(refusal);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void unregisterListener(RamDiscardListener listener) {
        Objects.requireNonNull(listener, "listener");
        lock.lock();
        try {
            int i = indexOf(listener);
            if (i < 0) {
                throw new RamDiscardManagerException("unregisterListener on '" + region.name() + "': " + listener
                        + " is not registered");
            }
            Registration r = listeners.get(i);
            listeners.remove(i);
            Throwable failed = pluggedSize != 0 ? discardAllFor(r, null) : null;
            r.section().release(); // forgotten even if the listener threw
            rethrow(failed);
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * virtio-mem's {@code virtio_mem_for_each_plugged_section} / {@code _unplugged_section}: every
     * maximal run of plugged (or unplugged) blocks from the section's first block on, cut to the
     * section, ascending; stops at the first run past the section.
     */
    private void forEachRun(MemoryRegionSection section, boolean plugged, RamDiscardReplay fn) {
        long nbits = bitmap.size();
        long firstBit = Long.divideUnsigned(section.offsetWithinRegion(), blockSize);
        if (Long.compareUnsigned(firstBit, nbits) >= 0) {
            return;
        }
        long bit = plugged ? bitmap.nextSet(firstBit) : bitmap.nextClear(firstBit);
        while (bit < nbits) {
            long last = (plugged ? bitmap.nextClear(bit + 1) : bitmap.nextSet(bit + 1)) - 1;
            MemoryRegionSection s = DiscardSections.intersect(section, bit * blockSize, (last - bit + 1) * blockSize);
            if (s == null) {
                break;
            }
            fn.replay(s);
            bit = plugged ? bitmap.nextSet(last + 2) : bitmap.nextClear(last + 2);
        }
    }

    /**
     * The checks of a plug ({@code plugged} false: every block of the range must be unplugged) or
     * an unplug ({@code plugged} true): attached, a valid range, every block in the state wanted.
     */
    private void checkChange(String op, long offset, long length, boolean plugged) {
        checkAttached(op);
        checkRange(op, offset, length);
        long first = offset / blockSize;
        long wrong = plugged ? bitmap.nextClear(first) : bitmap.nextSet(first);
        if (wrong < first + length / blockSize) {
            throw new DiscardStateException(op + " of '" + region.name() + "' " + range(offset, length) + ": block 0x"
                    + Long.toHexString(wrong * blockSize) + (plugged ? " is not plugged" : " is plugged already"));
        }
    }

    /** A detached manager manages nothing: its region may be mapped or destroyed by now. */
    private void checkAttached(String op) {
        if (claim.isClosed()) {
            throw new RamDiscardManagerException(op + " on the manager of '" + region.name() + "': detached");
        }
    }

    private void checkRange(String op, long offset, long length) {
        if (length == 0 || offset % blockSize != 0 || length % blockSize != 0
                || Long.compareUnsigned(offset, regionSize) >= 0
                || Long.compareUnsigned(length, regionSize - offset) > 0) {
            throw new InvalidRangeException(op + " on '" + region.name() + "'", offset, length,
                    "is not a nonzero run of 0x" + Long.toHexString(blockSize) + "-byte blocks inside the region's 0x"
                            + Long.toHexString(regionSize) + " bytes");
        }
    }

    private void checkSection(String op, MemoryRegionSection section) {
        Objects.requireNonNull(section, "section");
        if (section.region() != region) {
            throw foreign(op, section.region());
        }
    }

    private RamDiscardManagerException foreign(String op, MemoryRegion mr) {
        return new RamDiscardManagerException(op + ": region '" + (mr == null ? "(none)" : mr.name())
                + "' is not '" + region.name() + "', the region this manager manages");
    }

    private int indexOf(RamDiscardListener listener) {
        for (int i = 0; i < listeners.size(); i++) {
            if (listeners.get(i).listener() == listener) {
                return i;
            }
        }
        return -1;
    }

    private static String range(long offset, long length) {
        return "[0x" + Long.toHexString(offset) + ", +0x" + Long.toHexString(length) + ")";
    }

    @Override
    public String toString() {
        return "BitmapRamDiscardManager[" + region.name() + ", block 0x" + Long.toHexString(blockSize) + "]";
    }
}
