package dev.guestmem.share;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBackendException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockBuilder;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionTeardown;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

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
 * <p><b>Thread safety.</b> Accessors and guest accesses through {@link #addressSpace()} may be used
 * from any thread. {@link #close()} releases the RAM: call it once, after accesses have stopped
 * (accesses racing with it fail cleanly, as for any released {@link RamBlock}).
 */
public final class SharedMachine implements AutoCloseable {
    private final MemorySystem system;
    private final AddressSpace as;
    private final List<SharedRamRegion> layout;
    private final List<RamBlock> blocks;
    private final List<MemoryRegion> regions = new ArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    private SharedMachine(List<SharedRamRegion> layout, List<RamBlock> blocks) {
        this.layout = List.copyOf(layout);
        this.blocks = List.copyOf(blocks);
        this.system = new MemorySystem();
        ContainerRegion root = new ContainerRegion(system, null, "system", MemoryRegion.SIZE_2_64);
        regions.add(root);
        system.transactionBegin();
        try {
            for (int i = 0; i < layout.size(); i++) {
                RamRegion r = new RamRegion(system, null, layout.get(i).name(), blocks.get(i), false, false);
                regions.add(r);
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
            return new SharedMachine(layout, made);
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
            if (blocks.get(i).usedLength() != layout.get(i).size()) {
                throw new IllegalArgumentException("block '" + blocks.get(i).idstr() + "' has 0x"
                        + Long.toHexString(blocks.get(i).usedLength()) + " bytes, region '" + layout.get(i).name()
                        + "' 0x" + Long.toHexString(layout.get(i).size()));
            }
        }
        return new SharedMachine(layout, blocks);
    }

    /** Longest layout message accepted (sixteen region lines are a few hundred bytes). */
    private static final int MAX_LAYOUT_CHARS = 1 << 20;

    /**
     * Connects to a {@link RamShareServer}, receives the layout and the descriptors, and maps each
     * region {@code MAP_SHARED}: read-only (writes fail as ROM writes) when the server sent a
     * read-only descriptor or a memfd sealed against writes. A descriptor smaller than its region is refused, never resized.
     *
     * @param socketPath the server's Unix socket
     * @param timeout how long to wait for the whole message (beyond a century: no limit)
     * @return the machine, owning its mappings
     * @throws ShareException if the server cannot be reached, refuses this process (its
     *     {@link PeerPolicy}; the message gives the server's reason), sends something else or too late
     */
    public static SharedMachine attach(String socketPath, Duration timeout) {
        int sock;
        try {
            sock = LinuxCalls.unixConnect(socketPath);
        } catch (NativeCallException e) {
            throw new ShareException("cannot connect to " + socketPath + ": " + e.getMessage(), e);
        }
        List<Integer> fds = new ArrayList<>();
        try {
            long deadline = System.nanoTime() + Timeouts.nanos(timeout);
            StringBuilder text = new StringBuilder();
            while (!text.toString().endsWith("\n" + ShareProtocol.END + "\n")) {
                Fds.awaitReadable(sock, deadline, "the layout from " + socketPath);
                LinuxCalls.Received got = LinuxCalls.recvWithFds(sock, 64 * 1024, ShareProtocol.MAX_REGIONS);
                for (int fd : got.fds()) {
                    fds.add(fd);
                }
                if (got.data().length == 0) {
                    throw new ShareException(socketPath + " closed after " + text.length() + " bytes of the layout");
                }
                if (got.controlTruncated()) {
                    throw new ShareException(socketPath + " sent more than " + ShareProtocol.MAX_REGIONS + " descriptors");
                }
                text.append(new String(got.data(), StandardCharsets.US_ASCII));
                String refused = ShareProtocol.refusal(text.toString());
                if (refused != null) {
                    throw new ShareException(socketPath + " refused this process (pid " + LinuxCalls.getpid() + "): " + refused);
                }
                if (text.length() > MAX_LAYOUT_CHARS) {
                    throw new ShareException(socketPath + " sent more than " + MAX_LAYOUT_CHARS + " bytes without ending the layout");
                }
            }
            List<SharedRamRegion> layout = ShareProtocol.decode(text.toString());
            try {
                checkLayout(layout); // the peer's layout: its faults are the peer's, reported as such
            } catch (IllegalArgumentException e) {
                throw new ShareException(socketPath + " sent a bad layout: " + e.getMessage(), e);
            }
            if (fds.size() != layout.size()) {
                throw new ShareException(socketPath + " sent " + layout.size() + " regions but " + fds.size() + " descriptors");
            }
            List<RamBlock> blocks = new ArrayList<>();
            try {
                for (int i = 0; i < layout.size(); i++) {
                    blocks.add(mapReceived(socketPath, layout.get(i), fds.get(i)));
                }
                return new SharedMachine(layout, blocks);
            } catch (RuntimeException e) {
                blocks.forEach(RamBlock::close);
                throw e;
            }
        } finally {
            // The blocks hold their own duplicates.
            fds.forEach(LinuxCalls::close);
            LinuxCalls.close(sock);
        }
    }

    /**
     * Maps one received descriptor {@code MAP_SHARED}: read-only if the sender opened it read-only
     * or sealed it against writes, and only if it covers the region. The RAM builder would grow an empty file; the sender's
     * descriptor is its RAM, never this side's to resize.
     */
    private static RamBlock mapReceived(String socketPath, SharedRamRegion r, int fd) {
        try {
            long have = LinuxCalls.fstatSize(fd);
            if (Long.compareUnsigned(have, r.size()) < 0) {
                throw new ShareException(socketPath + " sent a descriptor of 0x" + Long.toHexString(have)
                        + " bytes for region '" + r.name() + "' of 0x" + Long.toHexString(r.size()));
            }
            boolean readOnly = (LinuxCalls.fcntl(fd, Linux.F_GETFL(), 0) & O_ACCMODE) == Linux.O_RDONLY() || writeSealed(fd);
            RamBlockBuilder b = RamBlock.builder(r.name(), r.size()).fd(fd, 0);
            RamBlock block = (readOnly ? b.readOnly() : b).build();
            block.noteMappedElsewhere("the process serving " + socketPath); // it maps this RAM too
            return block;
        } catch (InvalidRamBlockException | RamBackendException | NativeCallException e) {
            throw new ShareException(socketPath + " sent a descriptor that cannot back region '" + r.name()
                    + "': " + e.getMessage(), e);
        }
    }

    /** Whether {@code fd} is a memfd sealed against writes: the kernel refuses a writable shared mapping (EPERM). */
    private static boolean writeSealed(int fd) {
        int seals;
        try {
            seals = LinuxCalls.getSeals(fd);
        } catch (NativeCallException e) {
            return false; // not a memfd: no seals
        }
        return (seals & (Linux.F_SEAL_WRITE() | Linux.F_SEAL_FUTURE_WRITE())) != 0;
    }

    /** {@code O_ACCMODE} of {@code fcntl(F_GETFL)}. */
    private static final int O_ACCMODE = 3;

    private static void checkLayout(List<SharedRamRegion> layout) {
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

    /** @return the address space {@code memory} over the shared RAM */
    public AddressSpace addressSpace() {
        return as;
    }

    /** @return the system that owns the regions */
    public MemorySystem system() {
        return system;
    }

    /** @return the regions in order */
    public List<SharedRamRegion> layout() {
        return layout;
    }

    /** @return the blocks, in region order */
    public List<RamBlock> blocks() {
        return blocks;
    }

    /**
     * Releases the RAM: destroys the address space and the regions (which hold the blocks) and
     * closes the blocks, so this side's mappings and descriptors go; the peer keeps its own.
     * Later calls do nothing.
     */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        try {
            RegionTeardown.destroy(system, List.of(as), regions);
        } finally {
            blocks.forEach(RamBlock::close);
        }
    }
}
