package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.discard.RamDiscardPolicy;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.iommu.OwedInvalidations;
import dev.guestmem.ioeventfd.AddressSpaceIoeventfds;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.CoalescedIoNotify;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.mmio.ReentrancyGuards;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockNotifier;
import dev.guestmem.ram.RamList;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.ForeignRegionException;
import dev.guestmem.region.HostRegionLocation;
import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamBlockRegions;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Owns everything QEMU keeps in globals for one machine: address spaces (in creation order), the
 * transaction depth and pending update, listeners (the global list and one list per address space),
 * the cache of shared flat views, the RAM list ({@code ram_list}: every RAM block placed in one
 * ram_addr space), the dirty-memory bitmaps indexed by ram_addr, and global dirty-log state. Two systems
 * never interact, and a region belongs to exactly one system.
 *
 * <h2 id="tx">Transactions</h2>
 * {@link #transactionBegin()} / {@link #transactionCommit()} nest; only the outermost commit updates
 * views, and only if a change marked an update pending ({@code memory_region_transaction_commit}).
 * Then listeners see, in order: {@code begin} on every listener; per address space in creation order
 * the two topology passes; {@code commit} on every listener. Unlike QEMU, a commit re-renders only
 * views whose flat-view root's subtree changed, and within them only the changed address windows;
 * listeners of an address space whose view was reused still get their {@code regionNop} calls, so
 * what they observe is what QEMU does.
 *
 * <h2 id="nested">Topology changes from listener callbacks</h2>
 * A listener callback (of a commit, a registration or unregistration replay, an address space's
 * creation or destruction, {@code logGlobalStart/Stop}, a coalescing change, a dirty-log sync or
 * clear) may change the topology or open and commit a transaction. The change is not applied inside
 * the notification under way: its views were computed before it, and listeners would hear a second
 * diff in the middle of the first.
 * It stays pending, and when the outermost notification is over (every listener heard it, its views
 * published and cached) it runs as an update of its own ({@code begin}..{@code commit}), again while
 * callbacks keep asking, at most {@link #MAX_CHAINED_UPDATES} updates in a row; past that the call
 * throws {@link IllegalStateException} and the last change stays pending until the next commit.
 * Within the callback the change is not yet visible, as inside an open transaction. QEMU neither
 * forbids nor supports this: {@code memory_region_transaction_commit} lowers the depth before the
 * update, so a callback's begin/commit runs a second update inside the first, after which the outer
 * one publishes the view it computed earlier for its current address space and clears
 * {@code memory_region_update_pending}: the change can be lost. guestmem keeps QEMU's contract (a
 * change is visible once the outermost commit returns) instead.
 *
 * <p>A callback may also register or unregister listeners, destroy an address space, or start or
 * stop global dirty logging. That waits too (the lists are being walked, and a replay or a
 * {@code logGlobalStart} in the middle of an update would reach listeners that have not heard all
 * of it): checked at the call, it runs once the notification is over (inside an open transaction
 * too, where only the updates wait for the commit), in call order, before the updates callbacks
 * asked for, replaying the view published then. A global dirty-log start or stop then does what it
 * does outside a callback, its re-render included (a start's {@code logGlobalStart} before it, a
 * stop's {@code logGlobalStop} after it, as QEMU's); until it runs the flags are unchanged. QEMU's
 * {@code memory_listener_register} from a callback would insert into the list being walked. An
 * address space created from a callback exists at once (the caller gets it, and it serves accesses);
 * an update under way brings it to the update's view. Its replay to the listeners of every address
 * space waits like a registration (a replay inside the notification would nest a listener's
 * {@code begin}..{@code commit}, which QEMU never does): in call order with the other calls, before
 * the updates, it replays the view published then; what it throws comes out of the outermost call,
 * and the space stays (its creator holds it).
 *
 * <h2 id="views">View sharing</h2>
 * Address spaces whose roots resolve to the same {@linkplain FlatViewRoots flat-view root} share one
 * {@link FlatView} instance; a root resolving to nothing shares this system's permanent empty view.
 * Regions shown in a live view hold a reference ({@link MemoryRegion#ref()}) until the view is dropped
 * from the cache.
 *
 * <p><b>Thread safety.</b> All methods take {@link #lock()} (QEMU's BQL role), a reentrant lock, so
 * they may be called from any thread. Views are published to readers by {@link AddressSpace#publish}
 * (release); the access path never takes the lock.
 */
public final class MemorySystem implements AutoCloseable {
    /** Global dirty-log flag {@code GLOBAL_DIRTY_MIGRATION}. */
    public static final int GLOBAL_DIRTY_MIGRATION = 1;
    /** Global dirty-log flag {@code GLOBAL_DIRTY_DIRTY_RATE}. */
    public static final int GLOBAL_DIRTY_DIRTY_RATE = 2;
    /** Global dirty-log flag {@code GLOBAL_DIRTY_LIMIT}. */
    public static final int GLOBAL_DIRTY_LIMIT = 4;

    /**
     * How many updates one commit runs in a row while listener callbacks keep changing the
     * topology; past it the commit throws rather than loop for ever.
     */
    public static final int MAX_CHAINED_UPDATES = 100;

    private final ReentrantLock lock = new ReentrantLock();
    /** Set once by {@link #close()}, under the lock; volatile for the region constructors' early check. */
    private volatile boolean closed;
    private final boolean tcgEnabled;
    /** The guest CPU's byte order: what {@code Endianness.NATIVE} and the unsuffixed ld/st forms mean. */
    private final ByteOrder targetOrder;
    private final CoalescedMmioFlush coalescedFlush = new CoalescedMmioFlush();
    /** {@code RAMBlock->mr}: the region each block of {@link #ramList} backs. */
    private final RamBlockRegions ramBlockRegions = new RamBlockRegions();
    /**
     * {@code ram_list}: the blocks of this machine, placed in one ram_addr space. A block a region
     * still stands on (not finalized) leaves it only through {@link #close()}, the machine gone.
     */
    private final RamList ramList = new RamList(b -> !closed && ramBlockRegions.regionOf(b) != null,
            call -> checkOpen("ramList()." + call));
    private final ReentrancyGuards reentrancyGuards = new ReentrancyGuards();
    /** The TLB invalidations IOMMU UNMAPs owe when the notifying thread's MMIO write returns. */
    private final OwedInvalidations owedInvalidations = new OwedInvalidations();
    private final HostRegions hostRegions = new HostRegions(ramList, ramBlockRegions);
    /** {@code ram_list.dirty_memory}: one bitmap per dirty client, indexed by ram_addr page. */
    private final DirtyMemory dirtyMemory = new DirtyMemory();
    private final RamDiscardPolicy ramDiscardPolicy = new RamDiscardPolicy();
    /** Eventfd bookkeeping: the pending flag, which regions have any, what listeners were told. */
    private final SpaceIoeventfds eventfds = new SpaceIoeventfds();

    /** One per address space, creation order ({@code address_spaces}). */
    private final AddressSpaceList spaces = new AddressSpaceList(lock);
    /** {@code memory_listeners}, the listeners of every address space, and where each is registered. */
    private final ListenerRegistry listeners = new ListenerRegistry(this, spaces, eventfds);
    /**
     * Registrations, removals, destructions, global dirty-log starts and stops asked for from listener
     * callbacks, run when the notification ends.
     */
    private final DeferredCalls deferredCalls = new DeferredCalls();
    /** Global dirty-log state and the dirty-log calls to listeners ({@code logSync}, {@code logClear}...). */
    private final DirtyLogNotifications dirtyLog = new DirtyLogNotifications(this, listeners.globalListeners(),
            spaces);

    /** {@code flat_views} with what changed under each root, and the references the views hold. */
    private final ViewCache views = new ViewCache(lock);
    /** The body of an effective commit: render, tell the listeners, publish. */
    private final TopologyUpdate topologyUpdate = new TopologyUpdate(lock, spaces, views, eventfds,
            listeners.globalListeners());
    /** How many notifications are under way, whether a call waits for them, what listeners threw. */
    private final Notifications notifications = new Notifications(lock, deferredCalls, listeners, topologyUpdate,
            this::apply);
    /** The transaction depth, the pending update, the commit and the loop that runs what waits. */
    private final Transactions transactions = new Transactions(lock, notifications, deferredCalls, topologyUpdate,
            views, eventfds, spaces);
    /** Creating and destroying address spaces, at once or waiting for the notification under way. */
    private final AddressSpaceLifecycle lifecycle = new AddressSpaceLifecycle(this, spaces, views, eventfds,
            listeners, deferredCalls, notifications, transactions);

    static {
        // What region and discard code asks of a system stays off the public API.
        SystemInternals.setAccess(new Internals());
    }

    /** The way in for {@link SystemInternals}: each operation, on the system it is given. */
    private static final class Internals implements SystemInternals.Access {
        @Override
        public <T> T runAsOneNotification(MemorySystem system, Supplier<T> body) {
            return system.dirtyLog.asOneNotification(body);
        }

        @Override
        public void markUpdatePending(MemorySystem system) {
            system.markUpdatePending();
        }

        @Override
        public void invalidate(MemorySystem system, MemoryRegion region, Int128 start, Int128 end) {
            system.invalidate(region, start, end);
        }

        @Override
        public void invalidateRootOnly(MemorySystem system, MemoryRegion region) {
            system.invalidateRootOnly(region);
        }

        @Override
        public void markIoeventfdUpdatePending(MemorySystem system) {
            system.markIoeventfdUpdatePending();
        }

        @Override
        public void regionEventfdsAppeared(MemorySystem system) {
            system.regionEventfdsAppeared();
        }

        @Override
        public void regionEventfdsGone(MemorySystem system) {
            system.regionEventfdsGone();
        }

        @Override
        public void flushCoalescedSet(MemorySystem system, MemoryRegion region) {
            system.flushCoalescedSet(region);
        }

        @Override
        public void coalescedRangeChanged(MemorySystem system, MemoryRegion region, CoalescedRange cmr, boolean add) {
            system.coalescedRangeChanged(region, cmr, add);
        }

        @Override
        public MemoryRegionSection find(MemorySystem system, MemoryRegion region, long addr, long size) {
            return system.find(region, addr, size);
        }

        @Override
        public OwedInvalidations owedInvalidations(MemorySystem system) {
            return system.owedInvalidations;
        }

        @Override
        public void transactionBegin(MemorySystem system) {
            system.beginUnchecked();
        }

        @Override
        public void transactionCommit(MemorySystem system) {
            system.transactions.commit();
        }
    }

    /** Creates an empty system (no TCG: the CODE dirty client stays off). */
    public MemorySystem() {
        this(false);
    }

    /**
     * Creates an empty system.
     *
     * @param tcgEnabled whether a TCG-style translator runs (QEMU's {@code tcg_enabled()}: RAM regions
     *        then log the CODE client)
     */
    public MemorySystem(boolean tcgEnabled) {
        this(tcgEnabled, ByteOrder.nativeOrder());
    }

    /**
     * Creates an empty system for a target whose byte order may differ from the host's (a big-endian
     * PowerPC, m68k, SPARC or MIPS board on an x86 host): QEMU's {@code TARGET_BIG_ENDIAN}. It is what
     * {@link dev.guestmem.region.Endianness#NATIVE} devices ({@code DEVICE_NATIVE_ENDIAN}), the
     * address spaces' unsuffixed ld/st forms ({@code address_space_ldl}...) and eventfd data
     * ({@code memory_region_add_eventfd}'s {@code MO_TE}) follow. The other constructors take the
     * host's order.
     *
     * @param tcgEnabled whether a TCG-style translator runs (QEMU's {@code tcg_enabled()}: RAM regions
     *        then log the CODE client)
     * @param targetOrder the target's byte order
     * @throws NullPointerException if {@code targetOrder} is null
     */
    public MemorySystem(boolean tcgEnabled, ByteOrder targetOrder) {
        this.tcgEnabled = tcgEnabled;
        this.targetOrder = Objects.requireNonNull(targetOrder, "targetOrder");
        ramList.addNotifier(new DirtyBitmapSizer());
    }

    /**
     * Keeps the dirty bitmaps as large as the ram_addr space; new blocks start dirty (QEMU's
     * ram_block_add); bytes written behind the address spaces are marked for every client.
     */
    private final class DirtyBitmapSizer implements RamBlockNotifier {
        @Override
        public void ramBlockAdded(RamBlock block) {
            dirtyMemory.extend(block.offset() + block.maxLength());
            dirtyMemory.newBlockDirty(block.offset(), block.usedLength(), block.maxLength());
        }

        @Override
        public void ramBlockResized(RamBlock block, long oldSize, long newSize) {
            dirtyMemory.resizeDirty(block.offset(), oldSize, newSize);
        }

        /**
         * Sections keep the block's used segment, so a region over it (or an alias of one) would
         * go on serving the old length, and soft TLBs with it, until something re-rendered its
         * range. Rare (QEMU resizes on an incoming migration), so every view is re-rendered; inside
         * {@code RamRegion.ramResize} this joins its one commit.
         */
        @Override
        public void ramBlockUsedLengthChanged(RamBlock block) {
            rerenderAll();
        }

        /**
         * Re-renders every view in one update (a change every section on a block must see). Not
         * refused on a closed machine: a block's notification is no call of the user's (and such a
         * machine has no view left to render).
         */
        private void rerenderAll() {
            beginUnchecked();
            try {
                markAllStale();
            } finally {
                transactions.commit();
            }
        }

        @Override
        public void ramBlockWritten(RamBlock block, long offset, long length) {
            dirtyMemory.invalidateAndSetDirty(block.offset() + offset, length, DirtyMemory.DIRTY_CLIENTS_ALL);
        }

        /** {@code cpu_physical_memory_set_dirty_lebitmap}'s clients; CODE invalidated as for a write. */
        @Override
        public void ramBlockDirtyLogged(RamBlock block, long offset, long length) {
            int clients = tcgEnabled ? DirtyMemory.DIRTY_CLIENTS_ALL : DirtyMemory.DIRTY_CLIENTS_NOCODE;
            if (!isGlobalDirtyTracking()) {
                clients &= ~(1 << DirtyMemory.DIRTY_MEMORY_MIGRATION);
            }
            dirtyMemory.invalidateAndSetDirty(block.offset() + offset, length, clients);
        }

        /**
         * A block became fault-prone or stopped being so: sections on it must take (or leave) the
         * fenced path. Rare (a lazy restore's start and end), so every view is re-rendered rather
         * than tracking which regions and aliases reach the block.
         */
        @Override
        public void ramBlockFaultProneChanged(RamBlock block) {
            if (block.canFault() && lock.isHeldByCurrentThread() && (transactions.depth() > 0 || notifications.underWay())) {
                // The fence must be in the published views before the caller lets pages fault; inside
                // an open transaction, or a listener callback, they would change only later.
                throw new IllegalStateException("RAM block '" + block.idstr() + "' held fault-prone inside an open"
                        + " transaction or a memory listener callback: take the hold outside it, so address"
                        + " spaces fence the block at once");
            }
            rerenderAll();
        }
    }

    /**
     * @return who may discard this machine's RAM (QEMU's global {@code ram_block_discard_*} counters,
     *     here per system)
     */
    public RamDiscardPolicy ramDiscardPolicy() {
        return ramDiscardPolicy;
    }

    /** @return the RAM list: every RAM block of this system with its ram_addr offset */
    public RamList ramList() {
        return ramList;
    }

    /** @return which region each RAM block of this system backs ({@code RAMBlock->mr}) */
    public RamBlockRegions ramBlockRegions() {
        return ramBlockRegions;
    }

    /**
     * QEMU's {@code memory_region_from_host}: the region whose RAM block holds a host address, and
     * the address's offset in it. Any address in the block's reservation counts, up to its max
     * length ({@code qemu_ram_block_from_host}), so after a resizeable block shrinks its tail still
     * resolves. Lock-free.
     *
     * @param hostAddress a host address
     * @return the region and offset, or null if no block of this system holds the address, or its
     *     block backs no region (the regions over it are finalized; QEMU has no such state)
     */
    public HostRegionLocation regionFromHost(long hostAddress) {
        return hostRegions.regionFromHost(hostAddress);
    }

    /**
     * {@link #regionFromHost(long)} for the address of a native segment (a slice of
     * {@link RamBlock#segment()}, a {@code DmaMapping}'s segment).
     *
     * @param host a native segment
     * @return the region and offset of its first byte, or null
     * @throws IllegalArgumentException if the segment is not native
     * @throws NullPointerException if {@code host} is null
     */
    public HostRegionLocation regionFromHost(MemorySegment host) {
        return hostRegions.regionFromHost(host);
    }

    /**
     * {@link #regionFromHost(long)} without the result object, for paths that must not allocate:
     * the offset is {@code hostAddress - region.ramBlock().hostAddress()}.
     *
     * @param hostAddress a host address
     * @return the region whose block holds the address, or null
     */
    public MemoryRegion regionAtHost(long hostAddress) {
        return hostRegions.regionAtHost(hostAddress);
    }

    /**
     * The MMIO re-entrancy guards of this machine's devices: one per region owner, shared by all of
     * the owner's regions (QEMU keeps the guard in the DeviceState).
     *
     * @return the registry
     */
    public ReentrancyGuards reentrancyGuards() {
        return reentrancyGuards;
    }

    /** @return the dirty-memory bitmaps (VGA, CODE, MIGRATION clients) indexed by ram_addr page */
    public DirtyMemory dirtyMemory() {
        return dirtyMemory;
    }

    /** @return the topology lock */
    public ReentrantLock lock() {
        return lock;
    }

    /** @return whether the CODE dirty client is on for RAM ({@code tcg_enabled()}) */
    public boolean isTcgEnabled() {
        return tcgEnabled;
    }

    /** @return the target's byte order ({@code TARGET_BIG_ENDIAN}); the host's unless given at construction */
    public ByteOrder targetOrder() {
        return targetOrder;
    }

    /** @return whether the target is big-endian (QEMU's {@code target_big_endian()}): {@link #targetOrder()} is big-endian */
    public boolean isTargetBigEndian() {
        return targetOrder == ByteOrder.BIG_ENDIAN;
    }

    /** @return whether global dirty tracking is on ({@code global_dirty_tracking != 0}) */
    public boolean isGlobalDirtyTracking() {
        return dirtyLog.globalDirtyTrackingFlags() != 0;
    }

    /** @return the global dirty-tracking flags */
    public int globalDirtyTrackingFlags() {
        return dirtyLog.globalDirtyTrackingFlags();
    }

    /** @return this system's permanent empty view */
    public FlatView emptyView() {
        return views.emptyView();
    }

    // ---------------------------------------------------------------------------------------------
    // Coalesced MMIO

    /**
     * Sets the accelerator's coalesced-MMIO flush (QEMU's {@code qemu_flush_coalesced_mmio_buffer},
     * which calls KVM's {@code kvm_flush_coalesced_mmio_buffer}): it must deliver the MMIO writes the
     * accelerator buffered in {@linkplain dev.guestmem.listener.MemoryListener#coalescedIoAdd
     * coalesced windows}, typically with {@link AddressSpace#write}. It runs (see
     * {@link #flushCoalescedMmio}) before every device access made through an address space (loads
     * and stores, buffer reads and writes, DMA bounce buffers, {@link
     * dev.guestmem.access.MemoryRegionCache}, a soft TLB's slow path) to a region whose
     * {@link MemoryRegion#isFlushCoalesced()} is set, as QEMU's {@code prepare_mmio_access}, and at the
     * start of every {@link #transactionBegin()}. Direct RAM accesses and other devices never call it.
     *
     * @param flusher the flush, or null for none (the default)
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed} (its flush was
     *     dropped then)
     */
    public void setCoalescedMmioFlusher(Runnable flusher) {
        lock.lock();
        try {
            checkOpen("setCoalescedMmioFlusher");
            coalescedFlush.set(flusher);
        } finally {
            lock.unlock();
        }
    }

    /** @return the flush set by {@link #setCoalescedMmioFlusher}, or null */
    public Runnable coalescedMmioFlusher() {
        return coalescedFlush.get();
    }

    /**
     * QEMU's {@code qemu_flush_coalesced_mmio_buffer}: runs the flush set by
     * {@link #setCoalescedMmioFlusher}, if any, unless this thread is already inside it (a flush
     * that writes its buffered entries to a flush-coalesced region, or opens a transaction, does not
     * flush again, as KVM's {@code coalesced_flush_in_progress}). A flush that throws is logged and
     * this call returns normally.
     */
    public void flushCoalescedMmio() {
        coalescedFlush.flush();
    }

    // ---------------------------------------------------------------------------------------------
    // Transactions

    /**
     * QEMU's {@code memory_region_transaction_begin}: flushes the accelerator's coalesced MMIO
     * ({@link #flushCoalescedMmio}, before taking the lock), then takes the lock and deepens the
     * transaction. A nested begin flushes too (under the lock, as QEMU's under the BQL); a begin by a
     * thread that holds the lock outside any transaction does not: that is a region's change, which
     * flushed before taking the lock (a flusher waiting for a thread that takes the lock would
     * otherwise deadlock).
     *
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed}; no
     *     transaction is open then
     */
    public void transactionBegin() {
        flushForBegin();
        lock.lock();
        try {
            checkOpen("transactionBegin"); // under the lock, which close() sets the flag under
            transactions.begin();
        } finally {
            lock.unlock(); // the begin holds it once more, until the commit
        }
    }

    /**
     * {@link #transactionBegin()} without the closed check: for region code that checked already
     * (under the lock it still holds), a finalization and the teardown, which run on a closed
     * machine too.
     */
    private void beginUnchecked() {
        flushForBegin();
        transactions.begin();
    }

    /** The coalesced-MMIO flush of a begin (see {@link #transactionBegin()}: not for a region's own change). */
    private void flushForBegin() {
        // depth read only while this thread holds the lock, which guards it
        if (!lock.isHeldByCurrentThread() || transactions.depth() > 0) {
            coalescedFlush.flush();
        }
    }

    /**
     * QEMU's {@code memory_region_transaction_commit}: ends one level; at depth 0 with an update
     * pending, rebuilds stale views and tells listeners. Releases the lock taken by the matching begin.
     * Called from a listener callback, it leaves the update pending for after the current
     * notification (see <a href="#nested">topology changes from listener callbacks</a>).
     *
     * @throws IllegalStateException without a matching {@link #transactionBegin()} on this thread, or
     *     when listener callbacks changed the topology during {@link #MAX_CHAINED_UPDATES} updates
     *     in a row
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed} (no
     *     transaction of the user's can be open then: {@code close()} refuses inside one)
     */
    public void transactionCommit() {
        checkOpen("transactionCommit");
        transactions.commit();
    }

    /**
     * Topology lock held, outside any notification: the body of a call a listener callback asked
     * for, for {@link Notifications#applyDeferredCalls()}.
     *
     * @return what its replays threw, or null
     */
    private Throwable apply(DeferredCalls.Change c) {
        assert lock.isHeldByCurrentThread();
        return switch (c.kind()) {
            case REGISTER -> listeners.register(c.listener(), c.as());
            case UNREGISTER -> listeners.unregister(c.listener());
            case DESTROY -> lifecycle.destroy(c.as());
            case ANNOUNCE -> listeners.announce(spaces.entry(c.as()), c.as().currentMap());
            case GLOBAL_START -> dirtyLog.start(c.flags());
            case GLOBAL_STOP -> dirtyLog.stop(c.flags());
        };
    }

    /** Topology lock held, for {@link DirtyLogNotifications}: see {@link Transactions#deferGlobalDirtyLog}. */
    boolean deferGlobalDirtyLog(boolean start, int flags) {
        return transactions.deferGlobalDirtyLog(start, flags);
    }

    /**
     * @param now the global dirty-tracking flags now
     * @return the flags once the starts and stops waiting in {@link #deferredCalls} have run
     */
    int globalDirtyFlagsOnceDeferredRun(int now) {
        return deferredCalls.globalDirtyFlagsAfter(now);
    }

    /** Topology lock held: see {@link Transactions#rerenderForGlobalDirtyLog()}. */
    Throwable rerenderForGlobalDirtyLog() {
        return transactions.rerenderForGlobalDirtyLog();
    }

    /** Topology lock held: see {@link Transactions#runDeferred()}. */
    Throwable runDeferred() {
        return transactions.runDeferred();
    }

    /** Topology lock held: see {@link Notifications#rethrowListenerFailures}. */
    void rethrowListenerFailures(Throwable first) {
        notifications.rethrowListenerFailures(first);
    }

    /** Topology lock held: a listener notification begins; pair with {@link #exitNotification()}. */
    void enterNotification() {
        notifications.enter();
    }

    /** Topology lock held: the notification begun by {@link #enterNotification()} is over. */
    void exitNotification() {
        notifications.exit();
    }

    /** Topology lock held: every view must be re-rendered at the next effective commit. */
    void markAllStale() {
        transactions.markAllStale();
    }

    /** @return the current transaction depth */
    public int transactionDepth() {
        return transactions.depth();
    }

    // ---------------------------------------------------------------------------------------------
    // Eventfds

    /**
     * QEMU's {@code as->ioeventfds}, computed now: the eventfds guest writes to {@code as} can signal,
     * at guest addresses (see {@link AddressSpaceIoeventfds}).
     *
     * @param as an address space of this system
     * @return the eventfds, in the order listeners hear them
     * @throws IllegalStateException if {@code as} is not one of this system's
     */
    public List<Ioeventfd> ioeventfds(AddressSpace as) {
        lock.lock();
        try {
            return List.copyOf(AddressSpaceIoeventfds.collect(spaces.entry(as).as.currentMap()));
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Region changes: what region code tells its system, through SystemInternals

    /** For {@code MemoryRegion.addEventfd/delEventfd}: eventfds changed (topology lock held). */
    private void markIoeventfdUpdatePending() {
        assert lock.isHeldByCurrentThread();
        eventfds.markUpdatePending();
    }

    /**
     * For {@code MemoryRegion}'s flush flag: {@code region} became flush-coalesced, so no
     * address space may keep serving it from its fast MMIO slot (which does not flush).
     *
     * @param region the region
     */
    private void flushCoalescedSet(MemoryRegion region) {
        assert lock.isHeldByCurrentThread();
        for (SpaceEntry e : spaces) {
            e.as.dropFastIo(region);
        }
    }

    /**
     * For {@code MemoryRegion.addCoalescing/clearCoalescing}: QEMU's
     * {@code memory_region_update_coalesced_range}, telling every address space's listeners about
     * one window of {@code region} in each flat range of it, now.
     *
     * @param region the region
     * @param cmr the window
     * @param add whether it was added or removed
     */
    private void coalescedRangeChanged(MemoryRegion region, CoalescedRange cmr, boolean add) {
        assert lock.isHeldByCurrentThread();
        notifications.enter();
        try {
            for (SpaceEntry e : spaces) {
                FlatView view = e.as.currentMap();
                for (int i = 0; i < view.rangeCount(); i++) {
                    if (view.range(i).region() == region) {
                        CoalescedIoNotify.one(e.listeners, view.range(i), view, cmr, add);
                    }
                }
            }
        } finally {
            notifications.exit();
        }
        rethrowListenerFailures(runDeferred());
    }

    /** For {@code MemoryRegion.addEventfd}: a region's eventfd list stopped being empty. */
    private void regionEventfdsAppeared() {
        assert lock.isHeldByCurrentThread();
        eventfds.regionEventfdsAppeared();
    }

    /** For {@code MemoryRegion.delEventfd}: a region's eventfd list became empty. */
    private void regionEventfdsGone() {
        assert lock.isHeldByCurrentThread();
        eventfds.regionEventfdsGone();
    }

    /** For region setters: a change that needs new views happened (topology lock held). */
    private void markUpdatePending() {
        transactions.markUpdatePending();
    }

    /**
     * For region setters: the window {@code [start, end)} of {@code region} (region-local) may
     * render differently.
     *
     * @param region the region
     * @param start first changed offset
     * @param end end of the change (exclusive)
     */
    private void invalidate(MemoryRegion region, Int128 start, Int128 end) {
        assert lock.isHeldByCurrentThread();
        views.invalidate(region, start, end);
    }

    /**
     * For region setters: views rendered from {@code region} itself must be rebuilt (it moved).
     *
     * @param region the region
     */
    private void invalidateRootOnly(MemoryRegion region) {
        assert lock.isHeldByCurrentThread();
        views.invalidateRootOnly(region);
        // Deviation from QEMU: moving a region that is some address space's flat-view root inside a
        // disabled container sets no pending update there, leaving that view stale. Here it does.
        if (spaces.showsViewOf(region)) {
            transactions.markUpdatePending();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Address spaces

    /**
     * QEMU's {@code address_space_init}: creates an address space and renders and publishes its view
     * at once, even inside a transaction. Listeners registered for every address space hear it as a
     * registration to it ({@code begin}, {@code regionAdd} and {@code logStart(0, mask)} per range,
     * {@code commit}; no second {@code logGlobalStart}). A listener that throws is still told the
     * rest, and then, since the caller gets the throw and not the handle, the space is destroyed
     * again ({@link #destroyAddressSpace}: every listener that heard it appear hears it go; listeners
     * registered to it meanwhile are removed first) before the first throw comes out, with what the
     * rollback threw suppressed in it. So a call either returns the space or throws and leaves none.
     *
     * <p>Called from a listener callback, the space is created and published at once (accesses
     * through it work), but its replay to the listeners of every address space waits until the
     * notification under way is over, as a registration made there does (a replay now would nest in
     * the notification's {@code begin}..{@code commit}): it runs in call order with the other waiting
     * calls, before the updates callbacks asked for, and replays the view published then. A listener
     * that throws there does not undo the creation (the callback holds the space); the throw comes
     * out of the outermost call.
     *
     * @param root the root region (of this system)
     * @param name the name shown by mtree
     * @return the address space
     * @throws ForeignRegionException if {@code root} belongs to another system
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed}
     * @throws RuntimeException what a listener threw (the space is gone again; outside callbacks)
     */
    public AddressSpace addressSpace(MemoryRegion root, String name) {
        lock.lock();
        try {
            checkOpen("addressSpace");
            return lifecycle.create(root, name);
        } finally {
            lock.unlock();
        }
    }

    /**
     * QEMU's {@code address_space_destroy}: forgets an address space. Listeners registered to it alone
     * must be unregistered first; listeners of every address space hear it go as an unregistration
     * from it ({@code begin}, {@code logStop}/{@code regionDel} per range, {@code commit}). The space
     * then shows the empty view, as QEMU's detached space does: later accesses through it are decode
     * errors, its generation moves and spaces whose translations passed through it (soft TLBs behind
     * an IOMMU) invalidate them. A listener that throws is still told the rest; the first throw
     * comes once the space is destroyed.
     *
     * <p>Called from a listener callback, the destruction waits until the notification under way is
     * over (it is checked now), in call order with listener (un)registrations asked for there: a
     * callback may {@link #removeListeners} and then destroy.
     *
     * @param as the address space
     * @throws IllegalStateException if it is not one of this system's (or is waiting to be destroyed),
     *     or still has its own listeners (or will have, once the waiting registrations have run)
     */
    public void destroyAddressSpace(AddressSpace as) {
        lifecycle.destroyAddressSpace(as);
    }

    /** @return the address spaces in creation order */
    public List<AddressSpace> addressSpaces() {
        lock.lock();
        try {
            return spaces.addressSpaces();
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Closing

    /**
     * Tears the machine down: every listener is unregistered (each hears its removal replay), every
     * address space destroyed (a handle kept elsewhere then answers decode errors, as a destroyed
     * space does), and every region an address space showed or a RAM block backs (with the trees
     * they and their aliases are in) taken out of its container, freed of its RAM discard manager
     * and destroyed. What the machine allocated goes with them: a RAM region made by
     * {@code RamRegion.allocate} unmaps its block once no view, section or cache references the
     * region any more. A {@code RamBlock} you built yourself keeps your reference and leaves the
     * machine's RAM list: close it yourself, or give it to another machine (the machine's regions no
     * longer hold it). Other machines of the JVM are untouched. Closing twice does nothing.
     *
     * <p>Stop first what still works on the machine's RAM from outside it: a lazy restore (its page
     * server would copy into memory that is gone; {@code LazyRestore} is yours to close), a share
     * stream, vCPU and device threads. {@code DmaMapping}s and {@code MemoryRegionCache}s still held
     * keep their block mapped until they are unmapped or destroyed, a {@code VcpuTlb} until it is
     * flushed or closed.
     *
     * <p>Afterwards every call that would change the machine is refused with a
     * {@link MemorySystemClosedException} naming the call, and changes nothing: new regions, address
     * spaces, listener registrations ({@link #registerListener}, {@code RamList.addNotifier}, an IOMMU
     * region's notifiers), {@link #transactionBegin()}/{@link #transactionCommit()},
     * {@link #globalDirtyLogStart()}/{@link #globalDirtyLogStop()} (the flags stay as the close left
     * them), {@link #setCoalescedMmioFlusher}, {@code RamList.add}, and every region change (see
     * <a href="region/MemoryRegion.html#setters">the region setters</a>), on the regions the
     * teardown destroyed and on those it never collected alike. A region being built on another
     * thread while the machine closes is refused too, and gives its block reference back. A listener
     * callback made during the teardown itself (a removal replay) is refused the same way: the
     * machine is closed from the start of the teardown. What keeps working: the getters and other
     * queries; unregistering ({@link #unregisterListener}, {@code RamList.remove} and
     * {@code removeNotifier}, an IOMMU notifier's {@code unregister}); releasing what you hold
     * (unmapping a {@code DmaMapping}, destroying a {@code MemoryRegionCache}, flushing or closing a
     * {@code VcpuTlb}, {@code MemoryRegionSection.release}, a region's {@code ref}/{@code unref}, a
     * {@code RamBlock}'s lifetime); destroying regions the teardown left ({@code destroy()}, or
     * {@code RegionTeardown.destroy}, which also takes them out of their containers) and clearing a
     * RAM discard manager; the dirty-log syncs and clears, which have no listener left to tell. A
     * kept address space handle answers accesses with {@code DECODE_ERROR}.
     *
     * <p>A listener or region that throws does not stop the teardown: the first throw comes out once
     * everything is done, the rest suppressed in it. The coalesced-MMIO flusher runs once first (as
     * for any topology change) and is then dropped.
     *
     * @throws IllegalStateException from a listener callback or inside an open transaction (the
     *     machine is left as it was)
     */
    @Override
    public void close() {
        flushCoalescedMmio();
        lock.lock();
        try {
            if (closed) {
                return;
            }
            if (notifications.underWay() || transactions.depth() > 0) {
                throw new IllegalStateException("close() from a memory listener callback or inside an open"
                        + " transaction: close the machine once its changes are over");
            }
            closed = true; // from here on, new regions and spaces are refused
            Throwable failed = new MachineTeardown(this).run(listeners.globalListeners().snapshot());
            coalescedFlush.set(null);
            rethrowListenerFailures(failed);
        } finally {
            lock.unlock();
        }
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Refuses a call that would change a closed machine. Under the lock for a call that then changes
     * something (close() sets the flag under it, so the call sees the machine as it will stay).
     *
     * @param call the refused call, for the message
     * @throws MemorySystemClosedException if {@link #close()} was called
     */
    void checkOpen(String call) {
        if (closed) {
            throw new MemorySystemClosedException(call);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Listeners

    /**
     * QEMU's {@code memory_listener_register}: registers a listener for one address space (or, with
     * {@code as == null}, for every address space, including ones created later) and replays the
     * current view: {@code begin}, {@code logGlobalStart} if global tracking is on, per range
     * {@code regionAdd} and {@code logStart(0, mask)} if the range logs, {@code commit}. A listener of
     * every address space gets that replay per address space, but {@code logGlobalStart} once (in the
     * first, or alone if there is no address space yet), to pair with the one {@code logGlobalStop}.
     * A call that throws does not stop the replay; the first throw comes at the end, the listener
     * registered all the same.
     *
     * <p>Called from a listener callback, the registration waits until the notification under way is
     * over (as a topology change made there): it is checked now, and then runs before the updates
     * callbacks asked for, replaying the view published at that moment; what the replay throws comes
     * out of the outermost call (see <a href="#nested">topology changes from listener callbacks</a>).
     *
     * @param listener the listener
     * @param as the address space, or null for all
     * @throws IllegalStateException if the listener is already registered (or, from a callback, will
     *     be once the waiting registrations have run), or {@code as} is not one of this system's
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed}
     */
    public void registerListener(MemoryListener listener, AddressSpace as) {
        Objects.requireNonNull(listener, "listener");
        lock.lock();
        try {
            checkOpen("registerListener");
            if (deferredCalls.willBeRegistered(listener, listeners.registrations())) {
                throw new IllegalStateException("listener " + listener + " is already registered");
            }
            if (as != null) {
                lifecycle.liveEntry(as); // throws if it is not ours
            }
            if (notifications.mustDefer()) { // a listener callback: the lists are being walked
                transactions.defer(DeferredCalls.Kind.REGISTER, listener, as);
                return;
            }
            Throwable failed = listeners.register(listener, as);
            failed = ListenerList.merge(failed, runDeferred());
            rethrowListenerFailures(failed); // registered, and told of everything
        } finally {
            lock.unlock();
        }
    }

    /**
     * QEMU's {@code memory_listener_unregister}: replays removal ({@code begin}, per range
     * {@code logStop(mask, 0)} if it logs and {@code regionDel}, ascending, {@code commit}) and forgets
     * the listener. Unregistering a listener that is not registered does nothing. A call that throws
     * does not stop the replay; the first throw comes at the end, the listener gone from every space.
     * Called from a listener callback (the listener's own, say), the removal waits until the
     * notification under way is over, as {@link #registerListener} does: the listener hears the rest
     * of it, then the removal replay of the view published at that moment.
     *
     * @param listener the listener
     */
    public void unregisterListener(MemoryListener listener) {
        lock.lock();
        try {
            if (!deferredCalls.willBeRegistered(listener, listeners.registrations())) {
                return;
            }
            if (notifications.mustDefer()) { // a listener callback: the lists are being walked
                transactions.defer(DeferredCalls.Kind.UNREGISTER, listener, null);
                return;
            }
            Throwable failed = listeners.unregister(listener);
            failed = ListenerList.merge(failed, runDeferred());
            rethrowListenerFailures(failed); // off every address space, and told of everything
        } finally {
            lock.unlock();
        }
    }

    /**
     * QEMU's {@code address_space_remove_listeners}: {@link #unregisterListener} for every listener
     * registered for {@code as} alone, in the order they are called, each hearing the removal replay;
     * what a device does before {@link #destroyAddressSpace}. Listeners of every address space
     * ({@code registerListener(l, null)}, which QEMU does not have) stay registered. A listener whose
     * replay throws is removed all the same and does not keep the later ones on; the first throw
     * comes after the last removal.
     *
     * @param as an address space of this system
     * @throws IllegalStateException if {@code as} is not one of this system's
     */
    public void removeListeners(AddressSpace as) {
        lock.lock();
        try {
            Throwable failed = null;
            // From a callback, the removals wait (unregisterListener); registrations waiting too go.
            List<MemoryListener> own = new ArrayList<>();
            for (MemoryListener l : spaces.entry(as).listeners.snapshot()) {
                if (deferredCalls.willBeRegisteredFor(l, as, listeners.registrations())) {
                    own.add(l);
                }
            }
            own.addAll(deferredCalls.waitingFor(as, listeners.registrations()));
            for (MemoryListener l : own) {
                try {
                    unregisterListener(l); // off even if its replay throws
                } catch (RuntimeException | Error t) { // the later ones must come off too
                    failed = ListenerList.merge(failed, t);
                }
            }
            ListenerList.rethrow(failed);
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Global dirty logging

    /**
     * QEMU's {@code memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION)}.
     *
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed}
     */
    public void globalDirtyLogStart() {
        globalDirtyLogStart(GLOBAL_DIRTY_MIGRATION);
    }

    /**
     * QEMU's {@code memory_global_dirty_log_start}: on the first flag, {@code logGlobalStart} on every
     * listener (forward), then a re-render so RAM ranges gain the MIGRATION bit ({@code logStart}).
     *
     * <p>Called from a listener callback, the start waits until the notification under way is over,
     * in call order with the other calls waiting there (see <a href="#nested">topology changes from
     * listener callbacks</a>), and then does what it does outside a callback. Until it runs the flags
     * are unchanged: within the callback {@link #globalDirtyTrackingFlags()} does not show it yet.
     * What its listeners throw comes out of the outermost call.
     *
     * @param flags {@code GLOBAL_DIRTY_*} flags
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed}; the flags stay
     */
    public void globalDirtyLogStart(int flags) {
        dirtyLog.globalDirtyLogStart(flags);
    }

    /**
     * QEMU's {@code memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION)}.
     *
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed}
     */
    public void globalDirtyLogStop() {
        globalDirtyLogStop(GLOBAL_DIRTY_MIGRATION);
    }

    /**
     * QEMU's {@code memory_global_dirty_log_stop} (applied at once; QEMU postpones it while the VM is
     * stopped): when the last flag goes, a re-render ({@code logStop}), then {@code logGlobalStop} on
     * every listener (reverse), even if a listener threw during the re-render (the first throw comes
     * after it).
     *
     * <p>Called from a listener callback, the stop waits like {@link #globalDirtyLogStart(int)}:
     * checked at the call against the flags the waiting starts and stops will leave (so a start
     * then a stop from one callback is accepted, and runs in that order), it changes the flags and
     * tells listeners once the notification under way is over.
     *
     * @param flags {@code GLOBAL_DIRTY_*} flags, all currently set (from a callback: set once the
     *     waiting calls have run)
     * @throws IllegalStateException if a flag is not set
     * @throws MemorySystemClosedException if the system is {@linkplain #close() closed}; the flags stay
     *     as close() left them
     */
    public void globalDirtyLogStop(int flags) {
        dirtyLog.globalDirtyLogStop(flags);
    }

    /**
     * QEMU's {@code memory_region_clear_dirty_bitmap}: tells each listener with a logging range of
     * {@code region} in its address space's view that {@code [start, start + len)} (region offsets)
     * was cleared ({@code logClear}), with the section cut to that range. The region's
     * {@code resetDirty} and {@code snapshotAndClearDirty} call it; code that clears bits with
     * {@link DirtyMemory#snapshotAndClearDirty} (a migration round) calls it itself, so that a
     * listener keeping a dirty log of its own (KVM's manual protection) re-arms it. A listener that throws stops no other {@code logClear}: every one is made, then the
     * first throw (later ones suppressed in it) is rethrown, after the changes callbacks asked for.
     *
     * @param region the region whose bits were cleared
     * @param start first cleared offset in the region
     * @param len bytes cleared (unsigned)
     * @throws ForeignRegionException if {@code region} belongs to another system
     */
    public void clearDirtyBitmap(MemoryRegion region, long start, long len) {
        checkOwn(region, "clearDirtyBitmap");
        dirtyLog.clearDirtyBitmap(region, start, len);
    }

    /**
     * QEMU's {@code memory_region_sync_dirty_bitmap}: calls {@code logSync} on each listener for every
     * logging range of its address space's current view, optionally only ranges of one region.
     *
     * @param region only ranges of this region, or null for all
     * @throws ForeignRegionException if {@code region} belongs to another system
     */
    public void syncDirtyBitmap(MemoryRegion region) {
        syncDirtyBitmap(region, false);
    }

    /**
     * QEMU's {@code memory_region_sync_dirty_bitmap(mr, last_stage)}: in listener order, a listener
     * that {@linkplain MemoryListener#syncsGlobally() syncs globally} gets one
     * {@code logSyncGlobal(lastStage)} (whatever {@code region} is), every other one
     * {@code logSync(section, lastStage)} per logging range of its address spaces' current views
     * ({@code region}'s only, unless null). A listener that throws stops no other sync: every
     * listener is synced for every range, then the first throw (later ones suppressed in it) is
     * rethrown, after the changes callbacks asked for (so a region's {@code snapshotAndClearDirty}
     * whose sync throws clears nothing: the bits stay for the next snapshot).
     *
     * @param region only ranges of this region, or null for all
     * @param lastStage whether this is the last sync of a migration
     * @throws ForeignRegionException if {@code region} belongs to another system
     */
    public void syncDirtyBitmap(MemoryRegion region, boolean lastStage) {
        if (region != null) {
            checkOwn(region, "syncDirtyBitmap");
        }
        dirtyLog.syncDirtyBitmap(region, lastStage);
    }

    /**
     * QEMU's {@code memory_global_dirty_log_sync}: {@link #syncDirtyBitmap(MemoryRegion, boolean)}
     * for every region.
     *
     * @param lastStage whether this is the last sync of a migration
     */
    public void globalDirtyLogSync(boolean lastStage) {
        syncDirtyBitmap(null, lastStage);
    }

    /**
     * QEMU's {@code memory_global_after_dirty_log_sync}: {@code logGlobalAfterSync} on every listener,
     * under the lock. A listener must not wait there for a thread that may need the lock (a vCPU
     * whose device changes the topology): it asks, and the caller waits after this returns (see
     * {@link MemoryListener#logGlobalAfterSync}).
     */
    public void globalAfterDirtyLogSync() {
        dirtyLog.globalAfterDirtyLogSync();
    }

    /** A region of another system handed to one of this system's calls is refused before anything runs. */
    private void checkOwn(MemoryRegion region, String call) {
        if (region.system() != this) {
            throw new ForeignRegionException(region, call);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Lookup

    /**
     * For {@code MemoryRegion.find/present}: QEMU's {@code memory_region_find_rcu} (no reference taken;
     * see {@link MemoryRegion#find}).
     * A zero size finds nothing.
     *
     * @param region the region addresses are relative to
     * @param addr offset in it
     * @param size length
     * @return the section, or {@link MemoryRegionSection#empty()}
     * @throws ForeignRegionException if {@code region} belongs to another system
     */
    private MemoryRegionSection find(MemoryRegion region, long addr, long size) {
        checkOwn(region, "find");
        lock.lock();
        try {
            if (size == 0) {
                return MemoryRegionSection.empty();
            }
            addr += region.addr();
            MemoryRegion root = region;
            while (root.container() != null) {
                root = root.container();
                addr += root.addr();
            }
            AddressSpace as = spaces.withRoot(root);
            if (as == null) {
                return MemoryRegionSection.empty();
            }
            FlatView view = as.currentMap();
            int i = view.firstIntersecting(addr, size);
            if (i < 0) {
                return MemoryRegionSection.empty();
            }
            FlatRange fr = view.range(i);
            Int128 wEnd = Int128.min(Int128.ofUnsigned(addr).addUnsigned(size), Int128.TWO_64);
            Int128 start = Int128.max(Int128.ofUnsigned(addr), Int128.ofUnsigned(fr.start()));
            Int128 end = Int128.min(wEnd, fr.end());
            long secSize = end.sub(start).lo(); // 2^64 wraps to 0, the section's encoding of 2^64
            return new MemoryRegionSection(fr.region(), view, fr.offsetInRegion() + (start.lo() - fr.start()),
                    secSize, start.lo(), fr.readonly(), fr.nonvolatile(), fr.unmergeable());
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Diagnostics

    /** @return how many views were rendered in full (diagnostics for tests and benchmarks) */
    public long fullRenderCount() {
        return views.fullRenderCount();
    }

    /** @return how many views were patched by re-rendering only changed windows */
    public long windowRenderCount() {
        return views.windowRenderCount();
    }
}
