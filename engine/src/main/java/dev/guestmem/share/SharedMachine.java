package dev.guestmem.share;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.discard.RamDiscardManagerException;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionTeardown;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A minimal machine over shareable RAM: a {@code system} container with one RAM region per
 * {@link SharedRamRegion} at its guest address, and the {@code memory} address space over it.
 * The serving side makes one with {@link #createMemfd}, the peer with {@link #attach}; both then
 * read and write the same bytes through their own {@link AddressSpace}.
 *
 * {@snippet lang=java :
 * try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 64L << 20)));
 *      RamShareServer server = RamShareServer.listen("/tmp/ram.sock", m)) {
 *     server.serveOne(Duration.ofSeconds(30));             // the peer calls SharedMachine.attach
 *     m.addressSpace().stl(0x1000, 42);                     // the peer sees 42 at 0x1000
 * }
 * }
 *
 * <p><b>Memory hotplug.</b> The serving side plugs and unplugs regions at run time with
 * {@link #plug(SharedRamRegion)} and {@link #unplug(String)}, as QEMU's {@code device_add}/{@code device_del}
 * of a DIMM on a {@code memory-backend-memfd}: the address space changes in one transaction, and every
 * {@link RamShareServer} serving the machine hands the current layout to the peers that connect from
 * then on, and pushes the change to the peers that follow it ({@link #attachFollowing}), as
 * vhost-user's {@code VHOST_USER_ADD_MEM_REG}/{@code REM_MEM_REG}: they map a plugged region and drop
 * an unplugged one at once. A one-shot peer ({@link #attach}) keeps the layout it attached with, and
 * attaches again to see the current one; an unplugged block's bytes stay valid for it (its mapping
 * keeps the memfd alive), while the serving side has unmapped it and no longer reads or writes it. An
 * attached machine's layout is the server's: plug and unplug refuse it.
 *
 * <p><b>Thread safety.</b> Accessors and guest accesses through {@link #addressSpace()} may be used
 * from any thread; {@link #layout()} and {@link #blocks()} are snapshots. Plug and unplug may be
 * called from any thread, one change at a time; an access to a region being unplugged finishes
 * before its block is released, later ones are unassigned. {@link #close()} releases the RAM: call
 * it once, after accesses have stopped (accesses racing with it fail cleanly, as for any released
 * {@link RamBlock}).
 */
public final class SharedMachine implements AutoCloseable {
    private final MemorySystem system;
    private final AddressSpace as;
    private final ContainerRegion root;
    /** Whether the layout came from a server: only the server changes it then. */
    private final boolean attached;
    /**
     * Held by plug, unplug, close and {@link #follow}: one layout change at a time, seen whole by every
     * follower. Those that change the address space take the memory system's lock first, then this
     * one, as a caller inside a transaction of this machine does: the follow thread applying a change
     * and such a caller closing the machine would otherwise each hold the lock the other waits for.
     */
    private final Object layoutLock = new Object();
    /** Immutable snapshots, replaced under {@link #layoutLock}; volatile so that accessors need no lock. */
    private volatile List<SharedRamRegion> layout;
    private volatile List<RamBlock> blocks;
    /** One RAM region per layout entry, in layout order. Guarded by {@link #layoutLock}. */
    private final List<RamRegion> ramRegions = new ArrayList<>();
    /** Servers serving this machine, told of every plug and unplug. Guarded by {@link #layoutLock}. */
    private final List<LayoutFollower> followers = new ArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    /** The server's pushed changes, for a machine from {@link #attachFollowing}; else null. Set once, before publication. */
    private LayoutSubscription subscription;
    /** The server's socket path, in messages about what it pushes; null when serving. */
    private String source;

    private SharedMachine(List<SharedRamRegion> layout, List<RamBlock> blocks, boolean attached) {
        this.layout = List.copyOf(layout);
        this.blocks = List.copyOf(blocks);
        this.attached = attached;
        this.system = new MemorySystem();
        this.root = new ContainerRegion(system, null, "system", MemoryRegion.SIZE_2_64);
        system.transactionBegin();
        try {
            for (int i = 0; i < layout.size(); i++) {
                RamRegion r = new RamRegion(system, null, layout.get(i).name(), blocks.get(i), false, false);
                ramRegions.add(r);
                root.addSubregion(layout.get(i).guestAddr(), r);
            }
        } finally {
            system.transactionCommit();
        }
        this.as = system.addressSpace(root, "memory");
    }

    /**
     * Creates a machine whose RAM blocks are new sealed memfds (zero-filled), ready to be served.
     *
     * @param layout the regions; they must not overlap
     * @return the machine, owning its blocks
     * @throws IllegalArgumentException if the layout is empty, too long, overlapping or names a
     *     region twice
     * @throws dev.guestmem.ram.RamBackendException if a memfd cannot be made
     */
    public static SharedMachine createMemfd(List<SharedRamRegion> layout) {
        checkLayout(layout);
        List<RamBlock> made = new ArrayList<>();
        try {
            for (SharedRamRegion r : layout) {
                made.add(RamBlock.builder(r.name(), r.size()).memfd().build());
            }
            return new SharedMachine(layout, made, false);
        } catch (RuntimeException e) {
            made.forEach(RamBlock::close);
            throw e;
        }
    }

    /**
     * Builds a machine over blocks the caller made; the machine takes them over and closes them.
     *
     * @param layout the regions
     * @param blocks one block per region, each of the region's size; shareable blocks (memfd,
     *     shared file) have a descriptor a server can pass on
     * @return the machine
     * @throws IllegalArgumentException if the lists do not match, or the layout overlaps or names a
     *     region twice
     */
    public static SharedMachine of(List<SharedRamRegion> layout, List<RamBlock> blocks) {
        checkLayout(layout);
        if (blocks.size() != layout.size()) {
            throw new IllegalArgumentException(layout.size() + " regions but " + blocks.size() + " blocks");
        }
        for (int i = 0; i < blocks.size(); i++) {
            checkFits(layout.get(i), blocks.get(i));
        }
        return new SharedMachine(layout, blocks, false);
    }

    private static void checkFits(SharedRamRegion region, RamBlock block) {
        if (block.usedLength() != region.size()) {
            throw new IllegalArgumentException("block '" + block.idstr() + "' has 0x" + Long.toHexString(block.usedLength())
                    + " bytes, region '" + region.name() + "' 0x" + Long.toHexString(region.size()));
        }
    }

    /**
     * Connects to a {@link RamShareServer}, receives the layout and the descriptors, and maps each
     * region {@code MAP_SHARED}: read-only (writes fail as ROM writes) when the server sent a
     * read-only descriptor or a memfd sealed against writes. A descriptor smaller than its region is refused, never resized.
     * The layout must come with exactly one descriptor per region; if anything is refused, every
     * descriptor received is closed.
     *
     * <p>The layout stays the one of the moment this peer connected; {@link #attachFollowing} also
     * applies the server's later plugs and unplugs.
     *
     * @param socketPath the server's Unix socket
     * @param timeout how long to wait for the whole message (beyond a century: no limit)
     * @return the machine, owning its mappings
     * @throws DescriptorCountException if the layout came with more or fewer descriptors than regions
     * @throws ShareException if the server cannot be reached, refuses this process (its
     *     {@link PeerPolicy}; the message gives the server's reason), sends something else or too late
     * @throws IllegalArgumentException if the timeout is negative (refused before connecting)
     */
    public static SharedMachine attach(String socketPath, Duration timeout) {
        Objects.requireNonNull(socketPath, "socketPath");
        checkTimeout(timeout); // before connecting: a served peer is noted for good
        try (ShareStream stream = ShareStream.oneShot(socketPath)) {
            try (ReceivedLayout received = ReceivedLayout.read(stream, System.nanoTime() + Timeouts.nanos(timeout))) {
                return machineOf(received);
            }
        }
    }

    /**
     * Connects to a {@link RamShareServer} as {@link #attach} does, and asks to follow its layout:
     * the server keeps the connection and pushes every later plug and unplug, which a daemon thread
     * of this machine applies as they come, in order (vhost-user's {@code ADD_MEM_REG} and
     * {@code REM_MEM_REG}). Every change made after the layout was sent arrives exactly once, a plug
     * made while this peer attached included.
     *
     * <p>A pushed plug maps the block's descriptor as {@link #attach} maps the layout's and adds the
     * region to the address space in one transaction. A pushed unplug takes the region out at once, in
     * one transaction, and unmaps it: this side's accesses there are unassigned from then on
     * ({@link dev.guestmem.access.MemTxResult#DECODE_ERROR}; one in flight finishes first), and a
     * {@link RamBlock} kept from {@link #blocks()} is released. The peer does not acknowledge it: the
     * server has already stopped using the block when it tells the peer. (A one-shot peer, from
     * {@link #attach}, keeps an unplugged block's bytes until it closes.)
     *
     * <p>{@link #layoutChanges()}, {@link #awaitLayoutChanges} and {@link #addLayoutListener} tell of
     * the changes applied. Following stops, keeping the layout of the last change applied, when the
     * server closes or disconnects this peer (it does when this peer's thread falls so far behind
     * that its socket fills), when it sends a change this side cannot apply, or at {@link #close()};
     * {@link #followingStopped()} says why.
     *
     * @param socketPath the server's Unix socket
     * @param timeout how long to wait for the layout and the server's answer (beyond a century: no limit)
     * @return the machine, owning its mappings and its connection
     * @throws DescriptorCountException if the layout came with more or fewer descriptors than regions
     *     (read as {@link #attach} reads it; every descriptor received is closed)
     * @throws ShareException if the server cannot be reached, refuses this process, sends something
     *     else or too late, stops serving this process before it could follow (the message gives the
     *     server's reason, e.g. more layout changes came before its request was read than the server
     *     keeps: attach again), or hangs up after the layout instead of answering (a server that does
     *     not push changes: attach again to see its current layout)
     * @throws IllegalArgumentException if the timeout is negative (refused before connecting)
     */
    public static SharedMachine attachFollowing(String socketPath, Duration timeout) {
        Objects.requireNonNull(socketPath, "socketPath");
        checkTimeout(timeout); // before connecting: a served peer is noted for good
        ShareStream stream = ShareStream.following(socketPath);
        try {
            long deadline = System.nanoTime() + Timeouts.nanos(timeout);
            try (ReceivedLayout received = ReceivedLayout.read(stream, deadline)) {
                awaitFollowing(stream, deadline);
                SharedMachine m = machineOf(received);
                try {
                    m.source = socketPath;
                    m.subscription = new LayoutSubscription(stream, m.new PushTarget());
                    m.subscription.start(); // the stream is the thread's from here
                } catch (RuntimeException e) {
                    m.close();
                    throw e;
                }
                return m;
            }
        } catch (RuntimeException e) {
            stream.close();
            throw e;
        }
    }

    /** Maps a received layout into a new attached machine; the layout keeps its descriptors (the blocks hold duplicates). */
    private static SharedMachine machineOf(ReceivedLayout received) {
        List<RamBlock> blocks = received.mapAll();
        try {
            return new SharedMachine(received.regions(), blocks, true);
        } catch (RuntimeException e) {
            blocks.forEach(RamBlock::close);
            throw e;
        }
    }

    /** Reads the server's answer to the request to follow, which comes after the layout; throws unless it is yes. */
    private static void awaitFollowing(ShareStream stream, long deadline) {
        String socketPath = stream.path();
        String answer;
        try {
            answer = nextLine(stream, deadline, "the answer to following");
        } catch (ShareException e) {
            throw new ShareException(socketPath + " did not answer the request to follow its layout (" + e.getMessage()
                    + "): a server that does not push changes; attach again to see its current layout", e);
        }
        String refused = ShareProtocol.refusal(answer + "\n");
        if (refused != null) {
            throw new ShareException(socketPath + " stopped serving this process (pid " + LinuxCalls.getpid()
                    + ") before it could follow the layout: " + refused + "; attach again");
        }
        if (!answer.equals(ShareProtocol.FOLLOWING)) {
            throw new ShareException(socketPath + " answered '" + answer + "' to the request to follow, not '"
                    + ShareProtocol.FOLLOWING + "'");
        }
    }

    /** Refuses a null or negative timeout, with the same words for every entry point. */
    static void checkTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout " + timeout + " is negative; Duration.ZERO does not wait");
        }
    }

    private static String nextLine(ShareStream stream, long deadline, String what) {
        String line = stream.nextLine(deadline);
        if (line == null) {
            throw new ShareException("timed out waiting for " + what + " from " + stream.path());
        }
        return line;
    }

    /** Applies the server's pushed changes to this machine, under its layout lock. */
    private final class PushTarget implements LayoutSubscription.Target {
        @Override
        public List<Consumer<LayoutChange>> apply(LayoutChange change, int fd) {
            ReentrantLock systemLock = system.lock(); // first, as in close(): see layoutLock
            systemLock.lock();
            try {
                synchronized (layoutLock) {
                    if (closed.get()) {
                        return null;
                    }
                    try {
                        if (change.kind() == LayoutChange.Kind.UNPLUGGED) {
                            try {
                                unplugLocked(change.region().name());
                            } catch (RuntimeException e) {
                                madeAnyway(e, indexOf(change.region().name()) < 0);
                            }
                            return subscription.listeners();
                        }
                        RamBlock block = ReceivedBlocks.map(source, change.region(), fd);
                        try {
                            plugLocked(change.region(), block);
                        } catch (RuntimeException e) {
                            if (!blocks.contains(block)) {
                                block.close();
                            }
                            madeAnyway(e, blocks.contains(block));
                        }
                        return subscription.listeners();
                    } catch (IllegalArgumentException | IllegalStateException e) {
                        throw new ShareException(source + " pushed a change this side cannot apply ('"
                                + new String(ShareProtocol.encodeChange(change), StandardCharsets.US_ASCII).strip() + "'): "
                                + e.getMessage(), e);
                    }
                }
            } finally {
                systemLock.unlock();
                if (fd >= 0) {
                    LinuxCalls.close(fd); // the block holds its own duplicate
                }
            }
        }

        @Override
        public List<SharedRamRegion> layout() {
            return layout;
        }

        /**
         * Rethrows {@code e} unless the change was made all the same (a memory listener of this
         * machine threw while it committed): then it is reported, as a layout listener's throw, and
         * following goes on.
         */
        private void madeAnyway(RuntimeException e, boolean made) {
            if (!made) {
                throw e;
            }
            Thread t = Thread.currentThread();
            t.getUncaughtExceptionHandler().uncaughtException(t, e);
        }
    }

    /**
     * Refuses a layout no machine can have.
     *
     * @param layout the regions
     * @throws IllegalArgumentException if it is empty, longer than {@link ShareProtocol#MAX_REGIONS},
     *     names a region twice or has overlapping regions
     */
    static void checkLayout(List<SharedRamRegion> layout) {
        if (layout.isEmpty() || layout.size() > ShareProtocol.MAX_REGIONS) {
            throw new IllegalArgumentException(layout.size() + " regions; between 1 and " + ShareProtocol.MAX_REGIONS
                    + " can be shared");
        }
        for (int i = 0; i < layout.size(); i++) {
            for (int j = i + 1; j < layout.size(); j++) {
                SharedRamRegion a = layout.get(i);
                SharedRamRegion b = layout.get(j);
                if (a.name().equals(b.name())) {
                    // one name is one RAM block (idstr): a RAM list holds only one
                    throw new IllegalArgumentException("two regions are named '" + a.name() + "'");
                }
                boolean disjoint = Long.compareUnsigned(a.guestAddr() + a.size() - 1, b.guestAddr()) < 0
                        || Long.compareUnsigned(b.guestAddr() + b.size() - 1, a.guestAddr()) < 0;
                if (!disjoint) {
                    throw new IllegalArgumentException("regions '" + a.name() + "' and '" + b.name() + "' overlap");
                }
            }
        }
    }

    /**
     * Plugs a region backed by a new sealed memfd (zero-filled), as QEMU's {@code device_add pc-dimm}
     * with a {@code memory-backend-memfd}; see {@link #plug(SharedRamRegion, RamBlock)}.
     *
     * @param region the region; its name must be new and its range free
     * @throws IllegalArgumentException if the name is taken, the range overlaps a region, or the
     *     layout would pass {@link ShareProtocol#MAX_REGIONS}
     * @throws IllegalStateException if the machine is closed or attached to a server
     * @throws dev.guestmem.ram.RamBackendException if the memfd cannot be made
     */
    public void plug(SharedRamRegion region) {
        Objects.requireNonNull(region, "region");
        ReentrantLock systemLock = system.lock(); // first: see layoutLock
        systemLock.lock();
        try {
            synchronized (layoutLock) {
                checkPlug(region); // before making a memfd that would only be thrown away
                RamBlock block = RamBlock.builder(region.name(), region.size()).memfd().build();
                try {
                    plug(region, block);
                } catch (RuntimeException e) {
                    if (!blocks.contains(block)) { // refused; else plugged, and a memory listener threw
                        block.close();
                    }
                    throw e;
                }
            }
        } finally {
            systemLock.unlock();
        }
    }

    /**
     * Plugs a region backed by the caller's block, which the machine then owns (and closes at
     * {@link #unplug} or {@link #close()}). The region is mapped into the address space in one
     * transaction and appended to {@link #layout()}; every {@link RamShareServer} serving this
     * machine hands the new layout to the peers that connect from now on and pushes the plug, with
     * the block's descriptor, to its following peers ({@link #attachFollowing}), never waiting for
     * them. One-shot peers are not told: they attach again to see the region.
     * If anything is refused, nothing changed and the block stays the caller's. A memory listener
     * of this machine's system that throws while the plug commits does not refuse it: every listener
     * heard the change, so it is made everywhere (layout, servers, followers) before the throw comes
     * out, and the block is the machine's.
     *
     * @param region the region; its name must be new and its range free
     * @param block its RAM, of the region's size; shareable (memfd, shared file) if a server serves
     *     this machine
     * @throws IllegalArgumentException if the name is taken, the range overlaps a region, the
     *     layout would pass {@link ShareProtocol#MAX_REGIONS}, the block's size differs, or a server
     *     serves this machine and the block has no descriptor to pass on
     * @throws IllegalStateException if the machine is closed, attached to a server (only the server
     *     changes the layout), or the block is released
     * @throws ShareException if a server cannot duplicate the block's descriptor
     */
    public void plug(SharedRamRegion region, RamBlock block) {
        Objects.requireNonNull(region, "region");
        Objects.requireNonNull(block, "block");
        ReentrantLock systemLock = system.lock(); // first: see layoutLock
        systemLock.lock();
        try {
            synchronized (layoutLock) {
                checkChangeable();
                plugLocked(region, block);
            }
        } finally {
            systemLock.unlock();
        }
    }

    /** Plugs with the layout lock held and the machine open; changes nothing if it throws. */
    private void plugLocked(SharedRamRegion region, RamBlock block) {
        List<SharedRamRegion> nextLayout = new ArrayList<>(layout);
        nextLayout.add(region);
        checkLayout(nextLayout);
        checkFits(region, block);
        List<RamBlock> nextBlocks = new ArrayList<>(blocks);
        nextBlocks.add(block);
        List<LayoutFollower.Pending> pending = prepareFollowers(nextLayout, nextBlocks,
                new LayoutChange(LayoutChange.Kind.PLUGGED, region));
        RamRegion r;
        try {
            r = new RamRegion(system, null, region.name(), block, false, false);
        } catch (RuntimeException e) {
            pending.forEach(LayoutFollower.Pending::abort);
            throw e;
        }
        system.transactionBegin();
        boolean added = false;
        try {
            root.addSubregion(region.guestAddr(), r);
            added = true;
        } finally {
            if (!added) {
                system.transactionCommit();
            }
        }
        RuntimeException listenersThrew = null;
        try {
            system.transactionCommit();
        } catch (RuntimeException e) { // every listener heard the plug, which is published: it is made
            listenersThrew = e;
        }
        if (closed.get()) { // a listener closed the machine from the commit (same thread, locks re-entered)
            undoPlugIntoClosed(region, r, block, pending, listenersThrew);
        }
        ramRegions.add(r);
        layout = List.copyOf(nextLayout);
        blocks = List.copyOf(nextBlocks);
        pending.forEach(LayoutFollower.Pending::commit);
        if (listenersThrew != null) {
            throw listenersThrew;
        }
    }

    /**
     * The machine was closed while the plug committed (a memory listener called {@link #close()}):
     * its teardown did not know the new region and block, so they are given back here, and the plug
     * fails instead of adding them to a closed machine, where they would stay mapped for good.
     */
    private void undoPlugIntoClosed(SharedRamRegion region, RamRegion r, RamBlock block,
                                    List<LayoutFollower.Pending> pending, RuntimeException listenersThrew) {
        pending.forEach(LayoutFollower.Pending::abort);
        IllegalStateException closedUnder = new IllegalStateException("the shared machine (" + names()
                + ") was closed by a memory listener while it plugged '" + region.name()
                + "': the plug is undone and its block released");
        if (listenersThrew != null) {
            closedUnder.addSuppressed(listenersThrew);
        }
        try {
            RegionTeardown.destroy(system, List.of(), List.of(r));
        } catch (RuntimeException e) {
            closedUnder.addSuppressed(e);
        } finally {
            block.close(); // the machine's, from the plug on
        }
        throw closedUnder;
    }

    /**
     * Unplugs a region, as QEMU's {@code device_del} of a DIMM: it leaves the address space in one
     * transaction and {@link #layout()}, and its block is closed, so this side can no longer read or
     * write it (accesses there are unassigned; accesses in flight finish first). Every
     * {@link RamShareServer} serving this machine stops handing it to new peers and tells its following
     * peers, which unmap it at once ({@link #attachFollowing}). A one-shot peer that still maps it keeps
     * its bytes: its mapping keeps the memfd (or file) alive until it closes; it is not told, and
     * attaches again to see the current layout.
     *
     * @param name the region's name
     * @throws IllegalArgumentException if no region has that name (the message lists them), or it is
     *     the last region (a shared layout has at least one)
     * @throws IllegalStateException if the machine is closed, or attached to a server (only the
     *     server changes the layout)
     * @throws RamDiscardManagerException if the region still has a RAM discard manager (detach it
     *     first, as virtio-mem's unrealize does)
     */
    public void unplug(String name) {
        Objects.requireNonNull(name, "name");
        ReentrantLock systemLock = system.lock(); // first: see layoutLock
        systemLock.lock();
        try {
            synchronized (layoutLock) {
                checkChangeable();
                unplugLocked(name);
            }
        } finally {
            systemLock.unlock();
        }
    }

    /** Unplugs with the layout lock held and the machine open; changes nothing if it throws. */
    private void unplugLocked(String name) {
        int i = indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("no region '" + name + "' to unplug; the regions are "
                    + String.join(", ", layout.stream().map(SharedRamRegion::name).toList()));
        }
        if (layout.size() == 1) {
            throw new IllegalArgumentException("region '" + name + "' is the last region: a shared machine keeps at least one");
        }
        RamRegion r = ramRegions.get(i);
        if (r.hasRamDiscardManager()) {
            // QEMU cannot delete a backend a virtio-mem device still uses either
            throw new RamDiscardManagerException("region '" + name + "' still has a RAM discard manager: detach it before unplugging");
        }
        List<SharedRamRegion> nextLayout = new ArrayList<>(layout);
        nextLayout.remove(i);
        List<RamBlock> nextBlocks = new ArrayList<>(blocks);
        RamBlock gone = nextBlocks.remove(i);
        List<LayoutFollower.Pending> pending = prepareFollowers(nextLayout, nextBlocks,
                new LayoutChange(LayoutChange.Kind.UNPLUGGED, layout.get(i)));
        ramRegions.remove(i);
        layout = List.copyOf(nextLayout);
        blocks = List.copyOf(nextBlocks);
        pending.forEach(LayoutFollower.Pending::commit); // new peers no longer get it
        try {
            RegionTeardown.destroy(system, List.of(), List.of(r)); // out of the address space in one transaction
        } finally {
            gone.close(); // the region's reference went with it: this unmaps and closes this side's descriptor
        }
    }

    /** @return the layout with {@code region} appended, checked; or throws with nothing changed */
    private List<SharedRamRegion> checkPlug(SharedRamRegion region) {
        checkChangeable();
        List<SharedRamRegion> next = new ArrayList<>(layout);
        next.add(region);
        checkLayout(next);
        return next;
    }

    private void checkChangeable() {
        if (closed.get()) {
            throw new IllegalStateException("the shared machine (" + names() + ") is closed");
        }
        if (attached) {
            throw new IllegalStateException("this machine is attached to a server (" + names()
                    + "): only the server plugs and unplugs its regions; attach again, or with attachFollowing, to see them");
        }
    }

    private String names() {
        return String.join(", ", layout.stream().map(SharedRamRegion::name).toList());
    }

    private int indexOf(String name) {
        for (int i = 0; i < layout.size(); i++) {
            if (layout.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /** Prepares every follower; if one refuses, the prepared ones are aborted and its exception thrown. */
    private List<LayoutFollower.Pending> prepareFollowers(List<SharedRamRegion> nextLayout, List<RamBlock> nextBlocks,
            LayoutChange change) {
        List<LayoutFollower.Pending> pending = new ArrayList<>();
        try {
            for (LayoutFollower f : followers) {
                pending.add(f.prepare(nextLayout, nextBlocks, change));
            }
        } catch (RuntimeException e) {
            pending.forEach(LayoutFollower.Pending::abort);
            throw e;
        }
        return pending;
    }

    /**
     * Starts a follower from the current layout and registers it, under the layout lock, so that no
     * change is missed between the two.
     *
     * @param start makes the follower's owner from the current layout and blocks; may throw (nothing registered)
     * @param followerOf the owner's follower
     * @throws IllegalStateException if the machine is closed
     */
    <T> T follow(BiFunction<List<SharedRamRegion>, List<RamBlock>, T> start, Function<T, LayoutFollower> followerOf) {
        synchronized (layoutLock) {
            if (closed.get()) {
                throw new IllegalStateException("the shared machine (" + names() + ") is closed: nothing to serve");
            }
            T owner = start.apply(layout, blocks);
            followers.add(followerOf.apply(owner));
            return owner;
        }
    }

    /** Stops telling {@code f} of changes; nothing if it is not registered. */
    void unfollow(LayoutFollower f) {
        synchronized (layoutLock) {
            followers.remove(f);
        }
    }

    /** @return whether this machine follows its server's layout now ({@link #attachFollowing}, not yet stopped) */
    public boolean isFollowing() {
        return subscription != null && subscription.stoppedBecause() == null;
    }

    /**
     * Counts the pushed changes applied and told to the listeners ({@link #addLayoutListener}); a change
     * is in {@link #layout()} a little before it is counted.
     *
     * @return how many (0 unless from {@link #attachFollowing})
     */
    public long layoutChanges() {
        return subscription == null ? 0 : subscription.applied();
    }

    /**
     * Waits until this machine has applied at least {@code count} pushed changes and told its
     * listeners of them.
     *
     * @param count how many, counted from the attach ({@link #layoutChanges()})
     * @param timeout the longest wait (beyond a century: no limit)
     * @return true if they are applied; false on timeout, if following stopped first, or if this
     *     machine does not follow (and {@code count} is positive)
     * @throws InterruptedException if the thread is interrupted while waiting
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if {@code timeout} is negative
     */
    public boolean awaitLayoutChanges(long count, Duration timeout) throws InterruptedException {
        checkTimeout(timeout); // as attach and serveOne: checked whether or not this machine follows
        if (subscription == null) {
            return count <= 0;
        }
        return subscription.await(count, timeout);
    }

    /**
     * Calls {@code listener} after each pushed change is applied, on the follow thread, one change at
     * a time and in order; {@link #layout()} already includes it. A listener that throws is reported to
     * that thread's uncaught-exception handler, and following goes on.
     *
     * @param listener the listener
     * @return the layout as of the registration: the listener is told of exactly the changes applied
     *     after it (the ones before are in it, none is replayed)
     * @throws IllegalStateException if this machine was not attached with {@link #attachFollowing}
     */
    public List<SharedRamRegion> addLayoutListener(Consumer<LayoutChange> listener) {
        Objects.requireNonNull(listener, "listener");
        if (subscription == null) {
            throw new IllegalStateException("this machine does not follow a server's layout (attach it with attachFollowing)");
        }
        synchronized (layoutLock) { // a change is applied, and its listeners taken, under this lock
            subscription.addListener(listener);
            return layout;
        }
    }

    /**
     * Says why this machine stopped following its server's layout.
     *
     * @return the reason (the server hung up, disconnected this peer, pushed a change that cannot be
     *     applied, or the machine was closed), or null while following or if it never followed
     */
    public String followingStopped() {
        return subscription == null ? null : subscription.stoppedBecause();
    }

    /** @return the address space {@code memory} over the shared RAM */
    public AddressSpace addressSpace() {
        return as;
    }

    /** @return the system that owns the regions */
    public MemorySystem system() {
        return system;
    }

    /** @return the regions in order, as of now (an immutable snapshot: plug and unplug replace it) */
    public List<SharedRamRegion> layout() {
        return layout;
    }

    /** @return the blocks, in region order, as of now (an immutable snapshot: plug and unplug replace it) */
    public List<RamBlock> blocks() {
        return blocks;
    }

    /**
     * Releases the RAM: destroys the address space and the regions (which hold the blocks) and
     * closes the blocks, so this side's mappings and descriptors go; the peer keeps its own.
     * Later calls do nothing. A following machine stops following first and waits (a few seconds at
     * most) for its follow thread, except inside a transaction of its {@link #system()}: that thread
     * may be waiting for the system's lock, and ends by itself, applying nothing, once it is free.
     */
    @Override
    public void close() {
        ReentrantLock systemLock = system.lock();
        if (subscription != null) {
            // outside the layout lock: the follow thread takes it to apply a change. Not waited for
            // inside a transaction: the thread may be waiting for the system's lock, which this
            // thread holds; it finds the machine closed and applies nothing.
            subscription.stop(!systemLock.isHeldByCurrentThread());
        }
        systemLock.lock(); // first: see layoutLock
        try {
            synchronized (layoutLock) {
                if (closed.getAndSet(true)) {
                    return;
                }
                followers.clear(); // servers keep serving their duplicates of the last layout
                List<MemoryRegion> regions = new ArrayList<>(ramRegions);
                regions.add(root);
                try {
                    RegionTeardown.destroy(system, List.of(as), regions);
                } finally {
                    blocks.forEach(RamBlock::close);
                }
            }
        } finally {
            systemLock.unlock();
        }
    }
}
