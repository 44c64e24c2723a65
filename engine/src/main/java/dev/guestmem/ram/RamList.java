package dev.guestmem.ram;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * One machine's RAM blocks and their ram_addr space: QEMU's {@code ram_list} with
 * {@code find_ram_offset}, {@code qemu_get_ram_block}, {@code qemu_ram_block_from_host},
 * {@code qemu_ram_addr_from_host}, {@code qemu_ram_block_by_name} and the
 * {@code RAMBlockNotifier} hooks. A {@code MemorySystem} holds one; it also works standalone.
 *
 * <h2 id="placement">Placement</h2>
 * {@link #add(RamBlock)} places a block like QEMU's {@code find_ram_offset}: the first block goes
 * at 0; otherwise every gap that starts after a block (its end rounded up to 64 target pages, one
 * {@code long} of dirty bitmap, so bitmap syncs take the word-at-a-time path) is a candidate, and
 * the smallest gap that fits {@link RamBlock#maxLength()} wins, ties to the first found.
 *
 * <p><b>Thread safety.</b> {@link #add}, {@link #remove}, {@link #addNotifier} and resizes are
 * serialised by the list's own lock ({@code ram_list.mutex}). Lookups take no lock: they read an
 * immutable snapshot published with a volatile store after each change (release; pairs with the
 * volatile load at the start of every lookup), so a lookup sees either the old or the new set of
 * blocks, never a mix.
 */
public final class RamList {
    /** Target page bits used for the ram_addr space (4 KiB, as the dirty bitmaps). */
    public static final int TARGET_PAGE_BITS = 12;
    /** Block starts are rounded to this: 64 pages, one long of each dirty bitmap. */
    public static final long OFFSET_ALIGN = (long) Long.SIZE << TARGET_PAGE_BITS;

    private final ReentrantLock lock = new ReentrantLock();
    private final List<RamBlockNotifier> notifiers = new CopyOnWriteArrayList<>();
    /** Blocks ordered by ram_addr offset; replaced, never mutated. */
    private volatile RamBlock[] byOffset = new RamBlock[0];
    /** The same blocks in the order they were added (for QEMU's placement order); written under the lock. */
    private RamBlock[] byAge = new RamBlock[0];
    /** Same blocks ordered by host address; replaced with {@link #byOffset}. */
    private volatile RamBlock[] byHost = new RamBlock[0];
    /** QEMU's {@code ram_list.mru_block}: a racy hint, any value is correct to start from. */
    private volatile RamBlock mru;

    /** Whether a block may not leave the list now (a region of the owning system stands on it). */
    private final Predicate<RamBlock> blockInUse;

    /**
     * Asked, under the list's lock, with the call's name before {@link #add} or {@link #addNotifier}
     * changes anything: throws to refuse it (a closed {@code MemorySystem}'s list).
     */
    private final Consumer<String> checkOpen;

    /** Creates an empty list whose {@link #remove} takes any listed block (a list of its own). */
    public RamList() {
        this(b -> false);
    }

    /**
     * Creates an empty list whose {@link #remove} refuses a block while {@code blockInUse} says so:
     * a {@code MemorySystem}'s list, which keeps a block that a region not yet finalized stands on
     * (QEMU's {@code qemu_ram_free} runs only when the region is finalized).
     *
     * @param blockInUse asked under the list's lock, before anything changes; must not call back
     *     into this list
     */
    public RamList(Predicate<RamBlock> blockInUse) {
        this(blockInUse, call -> { });
    }

    /**
     * {@link #RamList(Predicate)} for a list that can be closed: a {@code MemorySystem}'s, which
     * takes no new block or notifier once the machine is closed (its teardown took every block out).
     * Removing blocks and notifiers stays possible.
     *
     * @param blockInUse as for {@link #RamList(Predicate)}
     * @param checkOpen asked under the list's lock with the call's name ({@code "add"},
     *     {@code "addNotifier"}) before anything changes; throws to refuse the call; must not call
     *     back into this list
     */
    public RamList(Predicate<RamBlock> blockInUse, Consumer<String> checkOpen) {
        this.blockInUse = Objects.requireNonNull(blockInUse, "blockInUse");
        this.checkOpen = Objects.requireNonNull(checkOpen, "checkOpen");
    }

    /**
     * A host address resolved to a block ({@code qemu_ram_block_from_host}).
     *
     * @param block the block holding the address
     * @param offset offset inside the block (rounded down to a page if asked)
     */
    public record HostLocation(RamBlock block, long offset) {
        /** @return the ram_addr of the location ({@code block.offset() + offset}) */
        public long ramAddr() {
            return block.offset() + offset;
        }
    }

    /**
     * Adds a block and places it in the ram_addr space ({@code ram_block_add}); notifiers hear of it.
     *
     * @param block a block not in any list and not released
     * @return the ram_addr offset given to it
     * @throws InvalidRamBlockException if another block has the same idstr, or the block is in a list
     * @throws IllegalStateException if the block is released
     * @throws RuntimeException what the list's open check throws (a closed {@code MemorySystem}'s
     *     list: {@link dev.guestmem.MemorySystemClosedException}); nothing changes then
     */
    public long add(RamBlock block) {
        lock.lock();
        try {
            checkOpen.accept("add");
            if (block.isReleased()) {
                throw new IllegalStateException("RAM block '" + block.idstr() + "' is released");
            }
            if (block.ramList() != null) {
                throw new InvalidRamBlockException(block.idstr(), "already in a RAM list at offset 0x" + Long.toHexString(block.offset()));
            }
            for (RamBlock b : byOffset) {
                if (b.idstr().equals(block.idstr())) {
                    throw new InvalidRamBlockException(block.idstr(), "a block with this name is already registered");
                }
            }
            long offset = findRamOffset(byAge, block.maxLength());
            if (offset == RamBlock.RAM_ADDR_INVALID) {
                throw new InvalidRamBlockException(block.idstr(), "no gap of 0x" + Long.toHexString(block.maxLength())
                        + " bytes left in the ram_addr space");
            }
            block.placeInList(this, offset);
            byAge = Arrays.copyOf(byAge, byAge.length + 1);
            byAge[byAge.length - 1] = block;
            RamBlock[] next = Arrays.copyOf(byOffset, byOffset.length + 1);
            next[next.length - 1] = block;
            publish(next);
            for (RamBlockNotifier n : notifiers) {
                n.ramBlockAdded(block);
            }
            return offset;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Removes a block ({@code qemu_ram_free}'s list part); notifiers hear of it first. Releasing the
     * block's last reference calls this itself. A notifier that throws stops no other notifier and
     * not the removal; the first throw comes out once the block is out of the list.
     *
     * <p>A {@code MemorySystem}'s list refuses a block that a region of the system still stands on
     * (one not yet finalized: destroyed and unreferenced): the region's sections, dirty marking and
     * the re-rendering a {@link RamBlock#holdFaultProne fault-prone hold} or a resize asks for all go
     * through the block's place in this list. Destroy the region; its finalization gives the block
     * back, and the list drops it with the last reference. (A call racing the construction of a
     * region over the block is not detected.)
     *
     * @param block the block
     * @return whether it was in this list
     * @throws IllegalStateException if a region stands on the block (see above); nothing changes
     * @throws RuntimeException what a notifier threw (the block is removed all the same)
     */
    public boolean remove(RamBlock block) {
        return remove(block, true);
    }

    /**
     * The block's last reference went ({@code qemu_ram_free}): out of the list whatever still names
     * it, since its memory is being unmapped.
     */
    void removeReleased(RamBlock block) {
        remove(block, false);
    }

    private boolean remove(RamBlock block, boolean refuseInUse) {
        lock.lock();
        try {
            if (block.ramList() != this) {
                return false;
            }
            if (refuseInUse && blockInUse.test(block)) {
                throw new IllegalStateException("RAM block '" + block.idstr()
                        + "' backs a region that is not finalized: destroy the region, which gives the block back");
            }
            // A notifier that throws stops neither the others nor the removal: the block's last
            // reference may be gone, and a block left in the list would keep its mapping for good.
            Throwable failed = null;
            for (RamBlockNotifier n : notifiers) {
                try {
                    n.ramBlockRemoved(block);
                } catch (RuntimeException | Error e) {
                    if (failed == null) {
                        failed = e;
                    } else {
                        failed.addSuppressed(e);
                    }
                }
            }
            RamBlock[] cur = byOffset;
            List<RamBlock> next = new ArrayList<>(cur.length);
            for (RamBlock b : cur) {
                if (b != block) {
                    next.add(b);
                }
            }
            publish(next.toArray(new RamBlock[0]));
            byAge = Arrays.stream(byAge).filter(b -> b != block).toArray(RamBlock[]::new);
            if (mru == block) {
                mru = null;
            }
            block.leaveList();
            if (failed instanceof RuntimeException e) {
                throw e;
            }
            if (failed != null) {
                throw (Error) failed;
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Registers a notifier ({@code ram_block_notifier_add}); it hears of every block already in the
     * list at once, as in QEMU.
     *
     * @param notifier the notifier
     * @throws RuntimeException what the list's open check throws (a closed {@code MemorySystem}'s
     *     list: {@link dev.guestmem.MemorySystemClosedException}); nothing changes then
     */
    public void addNotifier(RamBlockNotifier notifier) {
        lock.lock();
        try {
            checkOpen.accept("addNotifier");
            notifiers.add(notifier);
            for (RamBlock b : byOffset) {
                notifier.ramBlockAdded(b);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Unregisters a notifier ({@code ram_block_notifier_remove}).
     *
     * @param notifier the notifier
     */
    public void removeNotifier(RamBlockNotifier notifier) {
        lock.lock();
        try {
            notifiers.remove(notifier);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Tells the notifiers that {@link RamBlock#canFault()} may have changed. Deliberately not under
     * the list's lock: a system's notifier re-renders under the system's lock, which is taken before
     * this list's lock elsewhere (adding a block while building a region).
     */
    void notifyFaultProneChanged(RamBlock block) {
        for (RamBlockNotifier n : notifiers) {
            n.ramBlockFaultProneChanged(block);
        }
    }

    /** Tells the notifiers of bytes written behind the address spaces (not under the list's lock). */
    void notifyWritten(RamBlock block, long offset, long length) {
        for (RamBlockNotifier n : notifiers) {
            n.ramBlockWritten(block, offset, length);
        }
    }

    /** Tells the notifiers a run of pages a dirty log reported ({@link RamBlock#markDirtyFromBitmap}). */
    void notifyDirtyLogged(RamBlock block, long offset, long length) {
        for (RamBlockNotifier n : notifiers) {
            n.ramBlockDirtyLogged(block, offset, length);
        }
    }

    /** Tells the notifiers the block's used segment changed (not under the list's lock). */
    void notifyUsedLengthChanged(RamBlock block) {
        for (RamBlockNotifier n : notifiers) {
            n.ramBlockUsedLengthChanged(block);
        }
    }

    void notifyResize(RamBlock block, long oldSize, long newSize) {
        lock.lock();
        try {
            for (RamBlockNotifier n : notifiers) {
                n.ramBlockResized(block, oldSize, newSize);
            }
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ lookups (lock-free)

    /**
     * Returns the blocks ordered by ram_addr offset (a snapshot). A block in it may be released at any
     * time (hot-unplug); to touch the blocks' memory or dirty bits, walk {@link #holdBlocks()} instead.
     *
     * @return the blocks
     */
    public List<RamBlock> blocks() {
        return List.of(byOffset);
    }

    /**
     * The blocks ordered by ram_addr offset, each held until the result is closed: walk these, not
     * {@link #blocks()}, when the walk touches the blocks' memory or dirty bits while they may be
     * unplugged (a migration round; see {@link HeldRamBlocks}).
     *
     * @return the held blocks; close it when the walk is over
     */
    public HeldRamBlocks holdBlocks() {
        return HeldRamBlocks.of(byOffset);
    }

    /**
     * Finds a block by name ({@code qemu_ram_block_by_name}).
     *
     * @param idstr the name
     * @return the block, or null
     */
    public RamBlock blockByName(String idstr) {
        for (RamBlock b : byOffset) {
            if (b.idstr().equals(idstr)) {
                return b;
            }
        }
        return null;
    }

    /**
     * Finds the block holding a ram_addr ({@code qemu_get_ram_block}:
     * {@code addr - block->offset < block->max_length}).
     *
     * @param ramAddr an address in the ram_addr space
     * @return the block, or null if no block holds it (QEMU aborts)
     */
    public RamBlock blockFromRamAddr(long ramAddr) {
        RamBlock hint = mru;
        if (hint != null && Long.compareUnsigned(ramAddr - hint.offset(), hint.maxLength()) < 0 && hint.ramList() == this) {
            return hint;
        }
        RamBlock[] blocks = byOffset;
        int lo = 0;
        int hi = blocks.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            RamBlock b = blocks[mid];
            if (Long.compareUnsigned(ramAddr, b.offset()) < 0) {
                hi = mid - 1;
            } else if (Long.compareUnsigned(ramAddr - b.offset(), b.maxLength()) >= 0) {
                lo = mid + 1;
            } else {
                mru = b;
                return b;
            }
        }
        return null;
    }

    /**
     * Resolves a host address to a block and offset ({@code qemu_ram_block_from_host}).
     *
     * @param hostAddress a host address
     * @param roundOffset round the offset down to a target page (4 KiB, {@code TARGET_PAGE_MASK},
     *     whatever the block's page size, as QEMU)
     * @return the location, or null if no block's reservation holds the address
     */
    public HostLocation blockFromHost(long hostAddress, boolean roundOffset) {
        RamBlock b = findHost(hostAddress);
        if (b == null) {
            return null;
        }
        long off = hostAddress - b.hostAddress();
        if (roundOffset) {
            off &= -(1L << TARGET_PAGE_BITS);
        }
        return new HostLocation(b, off);
    }

    /**
     * {@link #blockFromHost} without the offset or the result object: the block whose reservation
     * ({@link RamBlock#maxLength()} bytes from {@link RamBlock#hostAddress()}) holds the address.
     *
     * @param hostAddress a host address
     * @return the block, or null
     */
    public RamBlock blockContainingHost(long hostAddress) {
        return findHost(hostAddress);
    }

    /**
     * Returns the ram_addr of a host address ({@code qemu_ram_addr_from_host}).
     *
     * @param hostAddress a host address
     * @return its ram_addr, or {@link RamBlock#RAM_ADDR_INVALID}
     */
    public long ramAddrFromHost(long hostAddress) {
        RamBlock b = findHost(hostAddress);
        return b == null ? RamBlock.RAM_ADDR_INVALID : b.offset() + (hostAddress - b.hostAddress());
    }

    /** @return one past the last page used by any block ({@code last_ram_page}), in target pages */
    public long lastRamPage() {
        long last = 0;
        for (RamBlock b : byOffset) {
            last = Math.max(last, b.offset() + b.maxLength());
        }
        return (last + (1L << TARGET_PAGE_BITS) - 1) >>> TARGET_PAGE_BITS;
    }

    private RamBlock findHost(long hostAddress) {
        RamBlock hint = mru;
        if (hint != null && hint.containsHost(hostAddress) && hint.ramList() == this) {
            return hint;
        }
        RamBlock[] blocks = byHost;
        int lo = 0;
        int hi = blocks.length - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            RamBlock b = blocks[mid];
            if (Long.compareUnsigned(hostAddress, b.hostAddress()) < 0) {
                hi = mid - 1;
            } else if (!b.containsHost(hostAddress)) {
                lo = mid + 1;
            } else {
                mru = b;
                return b;
            }
        }
        return null;
    }

    // ------------------------------------------------------------------ placement

    /**
     * QEMU's {@code find_ram_offset} over {@code blocks}: 0 for an empty list, else the start of the
     * smallest gap after some block (rounded up to {@link #OFFSET_ALIGN}) that holds {@code size}.
     *
     * <p>Equal gaps go to the first found in QEMU's list order, {@code ram_list.blocks}: biggest
     * max length first, and among equals the older first ({@code ram_block_add} inserts a block
     * before the first smaller one).
     *
     * @param blocks the placed blocks in the order they were added
     * @param size bytes needed, &gt; 0
     * @return the offset, or {@link RamBlock#RAM_ADDR_INVALID} if nothing fits
     */
    static long findRamOffset(RamBlock[] blocks, long size) {
        RamBlock[] listOrder = blocks.clone();
        // a stable sort: equal max lengths keep the order they were added in
        Arrays.sort(listOrder, (a, b) -> Long.compareUnsigned(b.maxLength(), a.maxLength()));
        long[] offsets = new long[listOrder.length];
        long[] lengths = new long[listOrder.length];
        for (int i = 0; i < listOrder.length; i++) {
            offsets[i] = listOrder[i].offset();
            lengths[i] = listOrder[i].maxLength();
        }
        return findRamOffset(offsets, lengths, size);
    }

    /**
     * {@link #findRamOffset(RamBlock[], long)} on plain arrays (for tests and tools).
     *
     * @param offsets block offsets
     * @param lengths block max lengths
     * @param size bytes needed, &gt; 0
     * @return the offset, or {@link RamBlock#RAM_ADDR_INVALID} if nothing fits
     */
    static long findRamOffset(long[] offsets, long[] lengths, long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("size 0x" + Long.toHexString(size) + " must be > 0 (it would hand out one offset twice)");
        }
        if (offsets.length == 0) {
            return 0;
        }
        long best = RamBlock.RAM_ADDR_INVALID;
        long minGap = -1L; // unsigned max
        for (int i = 0; i < offsets.length; i++) {
            long end = offsets[i] + lengths[i];
            long candidate = (end + OFFSET_ALIGN - 1) & -OFFSET_ALIGN;
            if (Long.compareUnsigned(candidate, end) < 0) {
                continue; // rounding wrapped past 2^64: no room after this block
            }
            long next = -1L; // RAM_ADDR_MAX
            for (int j = 0; j < offsets.length; j++) {
                if (Long.compareUnsigned(offsets[j], candidate) >= 0 && Long.compareUnsigned(offsets[j], next) < 0) {
                    next = offsets[j];
                }
            }
            long gap = next - candidate;
            if (Long.compareUnsigned(gap, size) >= 0 && Long.compareUnsigned(gap, minGap) < 0) {
                best = candidate;
                minGap = gap;
            }
        }
        return best;
    }

    private void publish(RamBlock[] blocks) {
        RamBlock[] sortedOffset = blocks.clone();
        Arrays.sort(sortedOffset, Comparator.comparingLong(RamBlock::offset));
        RamBlock[] sortedHost = blocks.clone();
        Arrays.sort(sortedHost, (a, b) -> Long.compareUnsigned(a.hostAddress(), b.hostAddress()));
        byHost = sortedHost;
        byOffset = sortedOffset; // release: lookups load this first (acquire) and then byHost
    }
}
