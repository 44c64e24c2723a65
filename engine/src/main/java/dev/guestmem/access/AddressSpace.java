package dev.guestmem.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.AddressSpaceDispatch;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.dispatch.PhysPageMap;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.flat.FlatView;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.region.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A view of the region tree from one bus master (a CPU, a DMA-capable device), as QEMU's
 * {@code AddressSpace}: a root region, the {@link FlatView} currently rendered from it, and the
 * accessors of {@code system/physmem.c} and {@code memory_ldst.c.inc}.
 *
 * <h2 id="access">Accessing memory</h2>
 * The ld/st family ({@code ldub} ... {@code stqBe}) comes from {@link LoadStoreAccessors}; buffers,
 * DMA mapping and translation are here.
 * {@snippet lang=java :
 * AddressSpace as = ...;                       // from MemorySystem.addressSpace(root, "memory")
 * MemTxResultHolder r = new MemTxResultHolder(); // reuse: accesses allocate nothing
 * int v = as.ldlLe(0x1000, MemTxAttrs.UNSPECIFIED, r);
 * if (!r.isOk()) { ... }                       // DECODE_ERROR for holes, ERROR, ACCESS_ERROR
 * int res = as.stqBe(0x2000, 42L, MemTxAttrs.UNSPECIFIED);
 * res |= as.write(0x3000, MemTxAttrs.UNSPECIFIED, bytes, 0, bytes.length);
 * }
 * Loads and stores of 2, 4 and 8 bytes to RAM are single host loads and stores (never byte copies,
 * so a concurrent reader never sees a torn aligned value). An access that crosses from one section
 * into another goes, as in QEMU, as MMIO to the first region (RAM then answers DECODE_ERROR);
 * guests make aligned accesses. MMIO follows {@link dev.guestmem.mmio.MmioDispatch}'s size rules.
 * Accesses whose end would wrap past 2^64 are refused with {@link MemTxResult#DECODE_ERROR}.
 *
 * <h2 id="lifetime">RAM lifetime</h2>
 * A thread may still use a view that was replaced a moment ago. Its RAM segments belong to shared
 * arenas: once a block is released its arena is closed, and an access that meets the closed segment
 * runs again on the view published since (whatever is at that address now; {@link MemTxResult#ERROR}
 * only where that view still shows the released block), never touching unmapped memory; a SIGBUS on
 * a truncated file mapping gives {@link MemTxResult#ERROR} and marks the block broken.
 *
 * <p><b>Thread safety.</b> The one happens-before edge: everything written before the topology
 * thread publishes a view with {@link #publish(FlatView)} (release) is visible to a thread that
 * loads it with {@link #currentMap()} or an accessor (acquire). Accesses never take the topology
 * lock and may run on any number of threads; {@link #generation()} changes (release, after the view)
 * with every publication.
 */
public final class AddressSpace implements LoadStoreAccessors {
    /** QEMU's {@code DEFAULT_MAX_BOUNCE_BUFFER_SIZE}: bounce bytes a space may have mapped at once. */
    public static final long DEFAULT_MAX_BOUNCE_BUFFER_SIZE = 4096;

    private static final VarHandle CURRENT_MAP;
    private static final VarHandle DISPATCH;
    private static final VarHandle GENERATION;
    private static final VarHandle FAST;
    private static final VarHandle FAST_IO;
    private static final VarHandle FAST_IO_STORE;
    private static final VarHandle PREVIOUS_RAM;
    private static final VarHandle PREVIOUS_IO;
    private static final VarHandle PREVIOUS_IO_STORE;
    private static final VarHandle SLOT_LOCK;
    /**
     * Bits of a generation that count this space's changes; the bits above hold a number unique to
     * the space, so two spaces never share a value (a vCPU's one TLB holds entries of all its spaces,
     * and every commit moves every space's counter in step).
     */
    private static final int GENERATION_COUNT_BITS = 44;
    /** Numbers spaces for their generations (see {@link #generationBase}). */
    private static final AtomicLong SPACES = new AtomicLong();
    /** Distinct space numbers a generation's high bits hold: 1 to 2^20 - 1 (0 is never one). */
    private static final long SPACE_NUMBERS = (1L << (64 - GENERATION_COUNT_BITS)) - 1;

    /**
     * The first generation of the {@code n}th space a process creates: its space number in the high
     * bits, cycling through 1 to 2^20 - 1, so that no space starts at 0, an unfilled
     * {@code TlbEntry}'s generation (a plain shift gave the 2^20th space 0).
     *
     * @param n the space's creation number, from 1
     * @return its first generation
     */
    static long generationBase(long n) {
        return (1 + Long.remainderUnsigned(n - 1, SPACE_NUMBERS)) << GENERATION_COUNT_BITS;
    }

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            CURRENT_MAP = l.findVarHandle(AddressSpace.class, "currentMap", FlatView.class);
            DISPATCH = l.findVarHandle(AddressSpace.class, "currentDispatch", AddressSpaceDispatch.class);
            GENERATION = l.findVarHandle(AddressSpace.class, "generation", long.class);
            FAST = l.findVarHandle(AddressSpace.class, "fastWindow", DirectWindow.class);
            FAST_IO = l.findVarHandle(AddressSpace.class, "fastIo", PhysSection.class);
            FAST_IO_STORE = l.findVarHandle(AddressSpace.class, "fastIoStore", PhysSection.class);
            PREVIOUS_RAM = l.findVarHandle(AddressSpace.class, "previousRam", PhysSection.class);
            PREVIOUS_IO = l.findVarHandle(AddressSpace.class, "previousIo", PhysSection.class);
            PREVIOUS_IO_STORE = l.findVarHandle(AddressSpace.class, "previousIoStore", PhysSection.class);
            SLOT_LOCK = l.findVarHandle(AddressSpace.class, "slotLock", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final MemorySystem system;
    /** The target is big-endian: the byte order of the unsuffixed ld/st forms ({@code ldl_p}). */
    private final boolean targetBig;
    private final MemoryRegion root;
    private final String name;
    @SuppressWarnings("unused") // accessed through CURRENT_MAP
    private FlatView currentMap;
    @SuppressWarnings("unused") // accessed through DISPATCH
    private AddressSpaceDispatch currentDispatch;
    @SuppressWarnings("unused") // accessed through GENERATION
    private long generation;
    @SuppressWarnings("unused") // accessed through FAST
    private DirectWindow fastWindow;
    @SuppressWarnings("unused") // accessed through FAST_IO
    private PhysSection fastIo;
    @SuppressWarnings("unused") // accessed through FAST_IO_STORE
    private PhysSection fastIoStore;
    @SuppressWarnings("unused") // accessed through PREVIOUS_RAM
    private PhysSection previousRam;
    /** Hits of {@link #previousRam}, for its promotion (on lines of their own: hits write it). */
    private final PreviousHits previousHits = new PreviousHits();
    @SuppressWarnings("unused") // accessed through PREVIOUS_IO
    private PhysSection previousIo;
    @SuppressWarnings("unused") // accessed through PREVIOUS_IO_STORE
    private PhysSection previousIoStore;
    /** Hits of {@link #previousIo}, for its promotion. */
    private final PreviousHits previousIoHits = new PreviousHits();
    /** 1 while a publication or a refill updates the fast slots (see {@link #cacheFastSection}). */
    @SuppressWarnings("unused") // accessed through SLOT_LOCK
    private int slotLock;
    final AtomicLong bounceBufferSize = new AtomicLong();
    private volatile long maxBounceBufferSize = DEFAULT_MAX_BOUNCE_BUFFER_SIZE;
    private final List<Runnable> mapClients = new ArrayList<>();
    final AtomicLong liveMappings = new AtomicLong();
    /** Spaces whose cached translations pass through this one; copy on write. */
    private final CopyOnWriteArrayList<AddressSpace> translationDependents = new CopyOnWriteArrayList<>();
    /** Run when the space is destroyed. */
    private final CopyOnWriteArrayList<Runnable> destroyHooks = new CopyOnWriteArrayList<>();
    /** Told of every {@link #invalidateTranslations()}. */
    private final CopyOnWriteArrayList<Runnable> invalidationListeners = new CopyOnWriteArrayList<>();

    /**
     * Creates an address space with an empty view. Internal: use the system's factory, which renders
     * and publishes the first view ({@code address_space_init}).
     *
     * @param system the owning system
     * @param root the root region
     * @param name the name shown by mtree
     */
    public AddressSpace(MemorySystem system, MemoryRegion root, String name) {
        this.system = Objects.requireNonNull(system, "system");
        this.targetBig = system.isTargetBigEndian();
        this.root = Objects.requireNonNull(root, "root");
        this.name = Objects.requireNonNull(name, "name");
        FlatView empty = system.emptyView();
        CURRENT_MAP.setRelease(this, empty);
        DISPATCH.setRelease(this, empty.dispatch());
        FAST.setRelease(this, empty.dispatch().unassignedSection().window());
        FAST_IO.setRelease(this, empty.dispatch().unassignedSection());
        FAST_IO_STORE.setRelease(this, empty.dispatch().unassignedSection());
        PREVIOUS_RAM.setRelease(this, empty.dispatch().unassignedSection());
        PREVIOUS_IO.setRelease(this, empty.dispatch().unassignedSection());
        PREVIOUS_IO_STORE.setRelease(this, empty.dispatch().unassignedSection());
        GENERATION.setRelease(this, generationBase(SPACES.incrementAndGet()));
    }

    /** @return whether the unsuffixed ld/st forms are big-endian (the system's target order) */
    boolean targetBig() {
        return targetBig;
    }

    /** @return the owning system */
    public MemorySystem system() {
        return system;
    }

    /** @return the root region */
    public MemoryRegion root() {
        return root;
    }

    /** @return the name */
    public String name() {
        return name;
    }

    /**
     * Loads the current view with acquire semantics; pairs with the release in {@link #publish}.
     *
     * @return the current flat view
     */
    public FlatView currentMap() {
        return (FlatView) CURRENT_MAP.getAcquire(this);
    }

    /**
     * The current view's dispatch table (acquire; pairs with the release in {@link #publish}).
     *
     * @return the dispatch table
     * @implNote Hot path: one acquire load (a plain load on x86).
     */
    public AddressSpaceDispatch dispatch() {
        return (AddressSpaceDispatch) DISPATCH.getAcquire(this);
    }

    /**
     * Publishes a new view ({@code address_space_set_flatview}'s RCU store). Internal: topology lock
     * held, so there is one writer. Order: view, then dispatch, then generation, each a release
     * store; a reader that sees the new generation therefore sees the new view (TLB fills read the
     * generation first, so an entry is never tagged newer than the view it was built from).
     *
     * @param view the new view
     */
    public void publish(FlatView view) {
        Objects.requireNonNull(view, "view");
        lockSlots(); // a refill in progress finishes first; later ones see the new table
        try {
            CURRENT_MAP.setRelease(this, view);
            DISPATCH.setRelease(this, view.dispatch());
            FAST.setRelease(this, view.dispatch().unassignedSection().window());
            FAST_IO.setRelease(this, view.dispatch().unassignedSection());
            FAST_IO_STORE.setRelease(this, view.dispatch().unassignedSection());
            PREVIOUS_RAM.setRelease(this, view.dispatch().unassignedSection());
            PREVIOUS_IO.setRelease(this, view.dispatch().unassignedSection());
            PREVIOUS_IO_STORE.setRelease(this, view.dispatch().unassignedSection());
            GENERATION.setRelease(this, (long) GENERATION.getOpaque(this) + 1);
        } finally {
            unlockSlots();
        }
        VarHandle.fullFence(); // the new table before the read of the dependents (see GuestTlb)
        Throwable failed = null;
        for (AddressSpace d : translationDependents) {
            if (d != this) {
                try {
                    d.invalidateTranslations();
                } catch (RuntimeException | Error t) { // the others must not keep stale entries
                    failed = ListenerList.merge(failed, t);
                }
            }
        }
        ListenerList.rethrow(failed);
    }

    /**
     * Moves {@link #generation()} without a new view: translations handed out for this space may
     * have changed for a reason the view does not show (an IOMMU on the way changed a mapping, a
     * space a translation passed through published a view). Soft TLBs flush on it.
     *
     * @implNote Lock-free apart from the fast slots' few-store lock shared with {@link #publish}, so
     *     the two never lose an increment; may be called from any thread.
     */
    public void invalidateTranslations() {
        lockSlots();
        try {
            GENERATION.setRelease(this, (long) GENERATION.getOpaque(this) + 1);
        } finally {
            unlockSlots();
        }
        Throwable failed = null;
        for (Runnable l : invalidationListeners) {
            try {
                l.run();
            } catch (RuntimeException | Error t) { // every listener is told, then the first throw
                failed = ListenerList.merge(failed, t);
            }
        }
        ListenerList.rethrow(failed);
    }

    /**
     * Runs {@code listener} after every {@link #invalidateTranslations()}: the generation moved with
     * no new view, so no {@link dev.guestmem.listener.MemoryListener} hears of it. A CPU loop that
     * raises its exit request from a topology listener raises it here too, so a running loop flushes
     * its TLB (TCG's {@code tlb_flush} kicks the vCPU). The listener runs on the invalidating thread
     * (an IOMMU model's, or the one publishing a space behind an IOMMU) and must be quick and must
     * not block. One that throws does not keep the others, or other spaces, from being invalidated:
     * the first throw reaches the invalidating caller afterwards.
     *
     * @param listener what to run
     */
    public void addInvalidationListener(Runnable listener) {
        invalidationListeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /**
     * Removes a listener added with {@link #addInvalidationListener} (a vCPU that goes away).
     *
     * @param listener the listener (compared by identity)
     * @return whether it was there
     */
    public boolean removeInvalidationListener(Runnable listener) {
        return invalidationListeners.remove(listener);
    }

    /**
     * Records that {@code dependent} caches translations that pass through this space (a TLB fill
     * in {@code dependent} went through an IOMMU into here): every later {@link #publish} of this
     * space then also invalidates {@code dependent}'s translations. Called by
     * {@link dev.guestmem.tlb.GuestTlb}; once per pair, kept for the life of this space.
     *
     * @param dependent the space whose cached translations depend on this one's view
     */
    public void addTranslationDependent(AddressSpace dependent) {
        if (translationDependents.addIfAbsent(Objects.requireNonNull(dependent, "dependent"))) {
            dependent.addDestroyHook(() -> translationDependents.remove(dependent));
        }
    }

    /**
     * Runs {@code hook} when this space is destroyed ({@link MemorySystem#destroyAddressSpace}): the
     * IOMMU and dependency bookkeeping of the JIT fast path lets go of it there, as QEMU's
     * {@code tcg_iommu_free_notifier_list} does when a CPU goes.
     *
     * @param hook what to run, once, with the system's lock held
     */
    public void addDestroyHook(Runnable hook) {
        destroyHooks.add(Objects.requireNonNull(hook, "hook"));
    }

    /** @return how many destroy hooks wait for this space's destruction (diagnostics) */
    public int destroyHookCount() {
        return destroyHooks.size();
    }

    /**
     * Runs and forgets the destroy hooks. Internal: {@link MemorySystem#destroyAddressSpace}.
     */
    public void runDestroyHooks() {
        List<Runnable> hooks = List.copyOf(destroyHooks);
        destroyHooks.removeAll(hooks);
        hooks.forEach(Runnable::run);
    }

    /** @return whether {@link #addTranslationDependent} recorded {@code space} */
    public boolean hasTranslationDependent(AddressSpace space) {
        return translationDependents.contains(space);
    }

    /**
     * Takes the fast slots' lock for a publication, waiting for a refill that holds it (a refill
     * holds it for a few stores, never while it could block).
     */
    private void lockSlots() {
        while (!SLOT_LOCK.compareAndSet(this, 0, 1)) {
            Thread.onSpinWait();
        }
    }

    private void unlockSlots() {
        SLOT_LOCK.setRelease(this, 0);
    }

    /**
     * The fast window: the {@link DirectWindow} of the last directly accessible RAM section an
     * access of this space resolved (a per-space copy of the dispatch table's MRU, one load closer to
     * the data). Starts, and is reset by every {@link #publish}, as the unassigned section's window,
     * whose slices are empty so no access takes it.
     *
     * @return the window (acquire; never null)
     * @implNote Hot path (P1, P2, P8): one acquire load (a plain load on x86) of an immutable object
     *     whose final fields give the guest start and the read and write slices.
     */
    DirectWindow fastWindow() {
        return (DirectWindow) FAST.getAcquire(this);
    }

    /**
     * The fast window for a load: {@link #fastWindow()}'s value, read after an acquire fence
     * instead of with an acquire load. The fence keeps every load a fresh read (a polling loop of
     * loads is never hoisted: the window and the bytes are read again each time, after whatever the
     * thread read before); the window's fields and the bytes it leads to are ordered after the read
     * by their address dependency (final fields, and a segment address taken from them). What it
     * allows: a store that follows with no synchronization between ({@link #fastWindowForStore()})
     * may reuse this value, and then the two share the segment's checks (TARGETS P1).
     *
     * @return the window (never null)
     * @implNote Hot path (P1, P2): no instruction for the fence on x86, one plain load.
     */
    DirectWindow fastWindowForLoad() {
        VarHandle.acquireFence();
        return (DirectWindow) FAST.get(this);
    }

    /**
     * The fast window for a store: a plain read, which C2 may merge with a load's read just before
     * (nothing synchronizes between them: the store then uses the view that load saw, as a TCG vCPU
     * keeps its view for a whole block). Every store ends with {@link #fastWindow()}'s acquire read
     * (it compares the window with the current one for the dirty-log race), so two stores never share
     * a read, and a store loop is never hoisted.
     *
     * @return the window (never null)
     * @implNote Hot path (P1, P8): one plain load, or none where merged.
     */
    DirectWindow fastWindowForStore() {
        return (DirectWindow) FAST.get(this);
    }

    /**
     * Makes the window of {@code s}, found in {@code d}, the fast window. Called by the slow path
     * after a lookup. A window looked up in an older table must never be installed once a newer table
     * is published (an access started after {@link #publish} returned would reach memory the commit
     * unmapped). So a refill installs only under the slots' lock and only if {@code d} is still the
     * current table; {@link #publish} swaps table and slots under the same lock. A refill that finds
     * the lock taken simply does not cache: the access itself is already done, and the next miss
     * tries again, so readers never wait. The section the window replaces becomes the
     * {@linkplain #previousRam() previous RAM section} (a slot holds only the current table's).
     *
     * @param d the table {@code s} was looked up in
     * @param s a directly readable RAM section of {@code d}
     */
    void cacheFastSection(AddressSpaceDispatch d, PhysSection s) {
        DirectWindow w = s.window();
        if (FAST.getOpaque(this) == w || !SLOT_LOCK.compareAndSet(this, 0, 1)) {
            return;
        }
        if (DISPATCH.getAcquire(this) == d) {
            PhysSection replaced = ((DirectWindow) FAST.getOpaque(this)).section();
            if (replaced != null) { // null: the empty window of a fresh table
                PREVIOUS_RAM.setRelease(this, replaced);
            }
            FAST.setRelease(this, w);
        }
        unlockSlots();
    }

    /**
     * The RAM section the fast window held before its last refill: an access that misses the fast
     * window tries it out of line before the full dispatch ({@link FlatViewAccess#loadMissed},
     * {@link FlatViewAccess#storeMissed}), so code that alternates between two RAM sections (an
     * interpreter's code and its stack in two regions, two threads in two sections) takes neither
     * the radix walk nor a refill; every {@link PreviousHits#PERIOD}th such access swaps it with the
     * fast window ({@link #countPreviousHit}), so code that moved for good to it is inline again soon.
     * Reset by {@link #publish}, set only under the slots' lock from the current table, so it never
     * outlives its view, as {@link #fastWindow()}.
     *
     * @return the section (acquire; never null: the unassigned section when there is none)
     */
    PhysSection previousRam() {
        return (PhysSection) PREVIOUS_RAM.getAcquire(this);
    }

    /**
     * Counts an access served from {@code s}, the {@link #previousRam()} it read, and on every
     * {@link PreviousHits#PERIOD}th swaps it with the fast window, so code that moved for good to
     * that section gets the inline path back. Under the slots' lock, and only while the previous
     * slot still holds {@code s}: a publication empties the slot under the same lock, so a section
     * still there is the current table's.
     *
     * @param s the previous RAM section an access was just served from
     */
    void countPreviousHit(PhysSection s) {
        if (!previousHits.due() || !SLOT_LOCK.compareAndSet(this, 0, 1)) {
            return;
        }
        if (PREVIOUS_RAM.getOpaque(this) == s) {
            PhysSection replaced = ((DirectWindow) FAST.getOpaque(this)).section();
            PREVIOUS_RAM.setRelease(this, replaced != null ? replaced
                    : ((AddressSpaceDispatch) DISPATCH.getOpaque(this)).unassignedSection());
            FAST.setRelease(this, s.window());
        }
        unlockSlots();
    }

    /**
     * The fast MMIO section: the last plain MMIO section ({@link PhysSection#plainReadSizes()} not
     * 0) of a region that is not {@linkplain MemoryRegion#isFlushCoalesced() flush-coalesced} a load
     * of this space resolved. Reset by {@link #publish} and refilled exactly as
     * {@link #fastWindow()}.
     *
     * @return the section (acquire; never null)
     * @implNote Hot path (P4).
     */
    PhysSection fastIo() {
        return (PhysSection) FAST_IO.getAcquire(this);
    }

    /**
     * Makes {@code s}, found in {@code d}, the fast MMIO section (the refill protocol of
     * {@link #cacheFastSection}: under the slots' lock, only from the current table).
     *
     * @param d the table {@code s} was looked up in
     * @param s a plain MMIO section of {@code d}
     */
    void cacheFastIo(AddressSpaceDispatch d, PhysSection s) {
        if (FAST_IO.getOpaque(this) == s || !SLOT_LOCK.compareAndSet(this, 0, 1)) {
            return;
        }
        // Read under the slots' lock: a flag set after this read drops the slot (dropFastIo) after us.
        if (DISPATCH.getAcquire(this) == d && !s.region().isFlushCoalesced()) {
            PREVIOUS_IO.setRelease(this, FAST_IO.getOpaque(this)); // the unassigned section at first
            FAST_IO.setRelease(this, s);
        }
        unlockSlots();
    }

    /**
     * The plain MMIO section the fast MMIO section held before its last refill, the device
     * counterpart of {@link #previousRam()}: a load that misses both fast slots and is one call of
     * that device is served from it out of line ({@link FlatViewAccess#loadMissed}), so reads
     * alternating between two devices take no lookup; every {@link PreviousHits#PERIOD}th such load
     * swaps it with the fast MMIO section. It may hold a region that became flush-coalesced since
     * (only the fast MMIO section is dropped then): its loads test the flag themselves.
     *
     * @return the section (acquire; never null: the unassigned section when there is none)
     */
    PhysSection previousIo() {
        return (PhysSection) PREVIOUS_IO.getAcquire(this);
    }

    /**
     * Counts a load served from {@code s}, the {@link #previousIo()} it read, and on every
     * {@link PreviousHits#PERIOD}th swaps it with the fast MMIO section, under the slots' lock,
     * while the slot still holds {@code s} (so it is the current table's) and its region is not
     * flush-coalesced (read under the lock, as {@link #cacheFastIo} does).
     *
     * @param s the previous MMIO section a load was just served from
     */
    void countPreviousIoHit(PhysSection s) {
        if (!previousIoHits.due() || !SLOT_LOCK.compareAndSet(this, 0, 1)) {
            return;
        }
        if (PREVIOUS_IO.getOpaque(this) == s && !s.region().isFlushCoalesced()) {
            PREVIOUS_IO.setRelease(this, FAST_IO.getOpaque(this));
            FAST_IO.setRelease(this, s);
        }
        unlockSlots();
    }

    /**
     * The fast MMIO section for stores: the last {@linkplain PhysSection#isDeviceOnly() device-only}
     * section a store of this space resolved, so the next store to that device skips the lookup
     * (stores that miss the fast window reach it through {@link MissPath}, out of line). Reset by
     * {@link #publish} and refilled exactly as {@link #fastWindow()}. Unlike {@link #fastIo()} it
     * may hold a flush-coalesced region: the store path runs the flush itself.
     *
     * @return the section (acquire; never null)
     */
    PhysSection fastIoStore() {
        return (PhysSection) FAST_IO_STORE.getAcquire(this);
    }

    /**
     * Makes {@code s}, found in {@code d}, the fast MMIO section for stores (the refill protocol of
     * {@link #cacheFastSection}).
     *
     * @param d the table {@code s} was looked up in
     * @param s a device-only section of {@code d}
     */
    void cacheFastIoStore(AddressSpaceDispatch d, PhysSection s) {
        if (FAST_IO_STORE.getOpaque(this) == s || !SLOT_LOCK.compareAndSet(this, 0, 1)) {
            return;
        }
        if (DISPATCH.getAcquire(this) == d) {
            PREVIOUS_IO_STORE.setRelease(this, FAST_IO_STORE.getOpaque(this)); // the unassigned section at first
            FAST_IO_STORE.setRelease(this, s);
        }
        unlockSlots();
    }

    /**
     * The device-only section the fast MMIO section for stores held before its last refill: stores
     * that miss every other slot try it too ({@link FlatViewAccess#storeMissed}), so writes
     * alternating between two devices take no lookup. Both store slots are out of line already, so
     * neither is promoted. Reset by {@link #publish}.
     *
     * @return the section (acquire; never null: the unassigned section when there is none)
     */
    PhysSection previousIoStore() {
        return (PhysSection) PREVIOUS_IO_STORE.getAcquire(this);
    }

    /**
     * Internal, for {@link MemoryRegion#setFlushCoalesced()} and its kin: forgets the fast MMIO
     * section if it is {@code region}'s, so the next load of it takes the full dispatch, which runs
     * the coalesced-MMIO flush. Under the slots' lock: a refill that read the flag before it was set
     * has installed by then and is dropped here; a later one sees the flag and does not install.
     *
     * @param region a region that just became flush-coalesced
     */
    public void dropFastIo(MemoryRegion region) {
        lockSlots();
        try {
            PhysSection s = (PhysSection) FAST_IO.getOpaque(this);
            if (s.region() == region) {
                FAST_IO.setRelease(this, ((AddressSpaceDispatch) DISPATCH.getOpaque(this)).unassignedSection());
            }
        } finally {
            unlockSlots();
        }
    }

    /**
     * A number that changes whenever a translation handed out for this space could have changed:
     * every {@link #publish} increments it, and so does {@link #invalidateTranslations()} (an IOMMU
     * on the way changed a mapping, or a space behind one published). Soft TLBs tag entries with it.
     *
     * <p>Values of distinct spaces are distinct (each space counts up from its own base, 2^44 apart,
     * among any 2^20 - 1 spaces a process creates in a row), so one TLB may hold entries of several spaces, as
     * TCG's does for a vCPU's address spaces: an entry filled from one never passes another's
     * generation check. Compare for equality only; nothing but "changed or not" is meant.
     *
     * @return the generation (acquire; pairs with the release in {@link #publish})
     * @implNote Hot path (P3): one acquire load.
     */
    public long generation() {
        return (long) GENERATION.getAcquire(this);
    }

    /**
     * The dirty-memory bitmaps of this space's system. Writes to logged sections of this space's own
     * RAM mark them; a write that an IOMMU sent into another system's space marks that system's
     * (the bitmaps of the RAM it landed in), on every path, as the fast path's windows do.
     *
     * @return the system's dirty memory
     */
    public DirtyMemory dirtyMemory() {
        return system.dirtyMemory();
    }

    /**
     * {@code address_space_translate}: section, offset in region and usable length of an access,
     * following IOMMUs. RAM lengths are clamped to the section; MMIO lengths are not.
     *
     * @param addr guest address (unsigned)
     * @param len wanted length (unsigned)
     * @param isWrite whether the access writes (IOMMU permission)
     * @param attrs attributes (IOMMU index)
     * @param out receives the section, {@code xlat} and {@code plen}
     * @return the section (the unassigned section when nothing or a denying IOMMU is there)
     * @implNote Allocation-free, lock-free.
     */
    public PhysSection translate(long addr, long len, boolean isWrite, MemTxAttrs attrs, Translation out) {
        AccessScratch sc = AccessScratch.acquire();
        try {
            return FlatViewAccess.translate(currentMap(), addr, len, isWrite, attrs, out, sc.e);
        } finally {
            sc.release();
        }
    }

    /**
     * QEMU's {@code address_space_get_iotlb_entry}: the translation of the page holding
     * {@code addr} through every IOMMU on the way, as a vhost-style device's IOTLB wants it: the
     * space it ends in, the page ({@code iova}, {@code translatedAddr}, {@code addrMask}: the
     * smallest IOMMU page on the way, or the 4 KiB target page without an IOMMU) and
     * {@link IommuTlbEntry#RW} (DMA goes to RAM; the device checks its own rights).
     *
     * @param addr an address of this space (unsigned)
     * @param isWrite whether the device writes (an IOMMU may grant reads only)
     * @param attrs the access's attributes (they select the IOMMU's context)
     * @return the entry; one without a target space and with {@link IommuTlbEntry#NONE} when
     *     nothing is mapped there or an IOMMU refuses
     */
    public IommuTlbEntry iotlbEntry(long addr, boolean isWrite, MemTxAttrs attrs) {
        Objects.requireNonNull(attrs, "attrs");
        Translation t = new Translation();
        IommuTlbEntry e = new IommuTlbEntry();
        PhysSection s = FlatViewAccess.translate(currentMap(), addr, 1, isWrite, attrs, t, e);
        if (s.isUnassigned()) {
            return new IommuTlbEntry();
        }
        boolean throughIommu = e.targetAs != null;
        long mask = throughIommu ? e.addrMask : PhysPageMap.PAGE_SIZE - 1;
        long xlat = t.xlat() - s.offsetWithinRegion() + s.start(); // region offset -> address in the space
        return new IommuTlbEntry(throughIommu ? e.targetAs : this, addr & ~mask, xlat & ~mask, mask,
                IommuTlbEntry.RW);
    }

    // ------------------------------------------------------------------ buffers

    /**
     * QEMU's {@code address_space_access_valid}: whether an access of {@code len} bytes at
     * {@code addr} would be accepted everywhere it lands (RAM always; devices by their
     * {@code valid} rules and {@code accepts} hook, chunk by chunk; unassigned addresses never).
     * Nothing is read or written.
     *
     * @param addr guest address (unsigned)
     * @param len bytes (unsigned; 0 is valid)
     * @param isWrite whether the access would be a write
     * @param attrs attributes
     * @return whether every chunk is valid; false for a range wrapping past 2^64
     */
    public boolean accessValid(long addr, long len, boolean isWrite, MemTxAttrs attrs) {
        return FlatViewAccess.accessValid(this, addr, len, isWrite, attrs);
    }

    /**
     * QEMU's {@code address_space_is_io}: whether the byte at {@code addr} is I/O, that is, after
     * translation (IOMMUs followed, attributes unspecified, as a read) it is neither RAM
     * ({@link MemoryRegion#isRam()}: RAM, ROM, RAM devices) nor a ROM device in ROMD mode. Nothing
     * mapped, or an IOMMU that refuses the read, counts as I/O.
     *
     * @param addr guest address (unsigned)
     * @return whether accesses there go to a device rather than to memory
     */
    public boolean isIo(long addr) {
        MemoryRegion mr = translate(addr, 1, false, MemTxAttrs.UNSPECIFIED, new Translation()).region();
        return mr == null || !(mr.isRam() || mr.isRomd());
    }

    /**
     * {@code address_space_read}: copies {@code len} guest bytes into {@code buf}.
     *
     * <p>Bytes of failed chunks read as 0: holes, MMIO that fails, RAM that faults or was released.
     * A chunk {@code attrs.memory} refuses (not RAM) is not read at all, as QEMU's
     * {@code flatview_read_continue} skips it: its bytes stay as {@code buf} held them, and
     * {@code ACCESS_ERROR} says so. As in QEMU, an access whose first chunk {@code attrs.memory}
     * refuses stops there with {@code buf} untouched, and a refused MMIO chunk ends the access (its
     * length is not clamped to the device). A range wrapping past 2^64 is refused whole with
     * {@code DECODE_ERROR}, nothing read and {@code buf} as it was.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes
     * @param buf destination
     * @param off offset in {@code buf}
     * @param len bytes
     * @return the ORed {@link MemTxResult} of all chunks
     * @throws IndexOutOfBoundsException if {@code [off, off+len)} is outside {@code buf}
     * @implNote Allocation-free; one {@code MemorySegment.copy} per RAM section (P5).
     */
    public int read(long addr, MemTxAttrs attrs, byte[] buf, int off, int len) {
        Objects.checkFromIndexSize(off, len, buf.length);
        return FlatViewAccess.rw(this, addr, attrs, buf, off, null, 0, len, false);
    }

    /**
     * {@code address_space_read} into a segment.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes
     * @param dst destination
     * @param off offset in {@code dst}
     * @param len bytes
     * @return the ORed {@link MemTxResult}, failed and refused chunks as for the array form
     * @throws IndexOutOfBoundsException if {@code [off, off+len)} is outside {@code dst}
     */
    public int read(long addr, MemTxAttrs attrs, MemorySegment dst, long off, long len) {
        Objects.checkFromIndexSize(off, len, dst.byteSize());
        return FlatViewAccess.rw(this, addr, attrs, null, 0, dst, off, len, false);
    }

    /**
     * {@code address_space_write}: copies {@code len} bytes from {@code buf} to the guest. Writes to
     * ROM are dropped (DECODE_ERROR, as ROM has no write callbacks); use {@link #writeRom}.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes ({@code debug} may write ROM)
     * @param buf source
     * @param off offset in {@code buf}
     * @param len bytes
     * @return the ORed {@link MemTxResult}
     * @throws IndexOutOfBoundsException if {@code [off, off+len)} is outside {@code buf}
     */
    public int write(long addr, MemTxAttrs attrs, byte[] buf, int off, int len) {
        Objects.checkFromIndexSize(off, len, buf.length);
        return FlatViewAccess.rw(this, addr, attrs, buf, off, null, 0, len, true);
    }

    /**
     * {@code address_space_write} from a segment.
     *
     * <p>{@code src} must not overlap the guest memory written (a guest {@code memmove} through a
     * slice of a RAM block's own segment): the range is copied section by section, so where it
     * spans sections a later section may read source bytes an earlier one already overwrote (QEMU
     * copies per section too). Copy through a temporary buffer instead.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes
     * @param src source
     * @param off offset in {@code src}
     * @param len bytes
     * @return the ORed {@link MemTxResult}
     * @throws IndexOutOfBoundsException if {@code [off, off+len)} is outside {@code src}
     */
    public int write(long addr, MemTxAttrs attrs, MemorySegment src, long off, long len) {
        Objects.checkFromIndexSize(off, len, src.byteSize());
        return FlatViewAccess.rw(this, addr, attrs, null, 0, src, off, len, true);
    }

    /**
     * {@code address_space_rw}.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes
     * @param buf buffer
     * @param off offset in {@code buf}
     * @param len bytes
     * @param isWrite direction
     * @return the ORed {@link MemTxResult}
     */
    public int rw(long addr, MemTxAttrs attrs, byte[] buf, int off, int len, boolean isWrite) {
        return isWrite ? write(addr, attrs, buf, off, len) : read(addr, attrs, buf, off, len);
    }

    /**
     * {@code address_space_write_rom}: writes RAM, ROM and ROMD-mode ROM devices directly (firmware
     * loading); other parts of the range are skipped.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes
     * @param buf source
     * @param off offset in {@code buf}
     * @param len bytes
     * @return {@link MemTxResult#OK} (QEMU ignores what it skips), DECODE_ERROR if the range wraps,
     *     ACCESS_ERROR if part of it is RAM or ROM mapped read-only (that part is not written)
     */
    public int writeRom(long addr, MemTxAttrs attrs, byte[] buf, int off, int len) {
        Objects.checkFromIndexSize(off, len, buf.length);
        return FlatViewAccess.writeRom(this, addr, attrs, buf, off, null, 0, len);
    }

    /**
     * {@code address_space_rw} over a segment.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes
     * @param buf buffer
     * @param off offset in {@code buf}
     * @param len bytes
     * @param isWrite direction
     * @return the ORed {@link MemTxResult}
     */
    public int rw(long addr, MemTxAttrs attrs, MemorySegment buf, long off, long len, boolean isWrite) {
        return isWrite ? write(addr, attrs, buf, off, len) : read(addr, attrs, buf, off, len);
    }

    /**
     * {@code address_space_write_rom} from a segment.
     *
     * @param addr guest address (unsigned)
     * @param attrs attributes
     * @param src source
     * @param off offset in {@code src}
     * @param len bytes
     * @return {@link MemTxResult#OK}, DECODE_ERROR if the range wraps
     * @throws IndexOutOfBoundsException if {@code [off, off+len)} is outside {@code src}
     */
    public int writeRom(long addr, MemTxAttrs attrs, MemorySegment src, long off, long len) {
        Objects.checkFromIndexSize(off, len, src.byteSize());
        return FlatViewAccess.writeRom(this, addr, attrs, null, 0, src, off, len);
    }

    /**
     * {@code address_space_set}: fills {@code len} guest bytes with {@code c}, 512 bytes a write.
     *
     * @param addr guest address (unsigned)
     * @param c the byte
     * @param len bytes (unsigned)
     * @param attrs attributes
     * @return the ORed {@link MemTxResult}
     */
    public int set(long addr, byte c, long len, MemTxAttrs attrs) {
        if (len != 0 && Long.compareUnsigned(len - 1, -1L - addr) > 0) {
            return MemTxResult.DECODE_ERROR;
        }
        AccessScratch sc = AccessScratch.acquire();
        try {
            byte[] fill = sc.fill;
            java.util.Arrays.fill(fill, c);
            int r = MemTxResult.OK;
            long done = 0;
            while (done != len) {
                int l = Long.compareUnsigned(len - done, fill.length) < 0 ? (int) (len - done) : fill.length;
                r |= FlatViewAccess.rw(this, addr + done, attrs, fill, 0, null, 0, l, true);
                done += l;
            }
            return r;
        } finally {
            sc.release();
        }
    }

    // ------------------------------------------------------------------ DMA map / unmap

    /** @return the bounce-buffer limit ({@code max_bounce_buffer_size}) */
    public long maxBounceBufferSize() {
        return maxBounceBufferSize;
    }

    /**
     * Sets the bounce-buffer limit (PCI's {@code x-max-bounce-buffer-size}).
     *
     * @param bytes the limit, at least 0
     * @throws IllegalArgumentException if negative
     */
    public void setMaxBounceBufferSize(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("max bounce buffer size " + bytes + " < 0");
        }
        this.maxBounceBufferSize = bytes;
    }

    /** @return bounce bytes currently mapped */
    public long bounceBufferSize() {
        return bounceBufferSize.get();
    }

    /** @return mappings handed out by {@link #map} and not yet unmapped */
    public long liveMappings() {
        return liveMappings.get();
    }

    /**
     * {@code address_space_map}: maps {@code [addr, addr+len)} for DMA. RAM comes back directly (the
     * length extended across following ranges of the same region, clamped to the block); anything
     * else goes through a zero-filled bounce buffer bounded per address space (partial grants are
     * normal), as long as the bounce space left, the translated length (an IOMMU clamps it to its
     * page; MMIO does not clamp it, so a read prefill may run on into what follows) and the asked
     * length allow. A range that would wrap past 2^64 is mapped up to 2^64 only (QEMU would wrap).
     * Call {@link DmaMapping#unmap} exactly once.
     *
     * @param addr guest address (unsigned)
     * @param len wanted length (unsigned)
     * @param isWrite whether the device will write
     * @param attrs attributes
     * @return the mapping ({@link DmaMapping#length()} may be less than {@code len}), or null when
     *     {@code len} is 0, no bounce space is left (register a map client to retry), or the RAM
     *     block was released under the call
     */
    public DmaMapping map(long addr, long len, boolean isWrite, MemTxAttrs attrs) {
        return DmaMapping.map(this, addr, len, isWrite, attrs);
    }

    /**
     * {@code address_space_register_map_client}: runs {@code client} once when bounce space may be
     * available: at once if it is now, else after the next bounce unmap (a direct unmap frees no
     * bounce space and runs nothing). Then it is forgotten: register again to wait again.
     *
     * <p>QEMU schedules the client's bottom half; here it is called synchronously: on the registering
     * thread, inside this call, when space is available now, else on the thread of the bounce
     * {@link DmaMapping#unmap} that freed space, after that unmap's accounting is done (so the client
     * may map again at once). It must not block.
     *
     * @param client one-shot callback
     */
    public void registerMapClient(Runnable client) {
        Objects.requireNonNull(client, "client");
        synchronized (mapClients) {
            mapClients.add(client);
        }
        if (bounceBufferSize.get() < maxBounceBufferSize) {
            notifyMapClients();
        }
    }

    /**
     * {@code address_space_unregister_map_client}.
     *
     * @param client a registered callback
     */
    public void unregisterMapClient(Runnable client) {
        synchronized (mapClients) {
            mapClients.remove(client);
        }
    }

    /** Runs and removes every registered map client (they are one-shot). */
    void notifyMapClients() {
        Runnable[] run;
        synchronized (mapClients) {
            run = mapClients.toArray(new Runnable[0]);
            mapClients.clear();
        }
        for (Runnable r : run) {
            r.run();
        }
    }

    @Override
    public String toString() {
        return "AddressSpace[" + name + "]";
    }
}
