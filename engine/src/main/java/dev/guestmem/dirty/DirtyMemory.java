package dev.guestmem.dirty;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Dirty memory logging of one memory system, as QEMU's {@code ram_list.dirty_memory} and the
 * {@code physical_memory_*_dirty*} functions (system/physmem.c, include/system/ram_addr.h).
 *
 * <p>Each client ({@link #DIRTY_MEMORY_VGA}, {@link #DIRTY_MEMORY_CODE}, {@link
 * #DIRTY_MEMORY_MIGRATION}) has one bit per target page ({@value #TARGET_PAGE_BITS} bits, 4 KiB)
 * of the ram_addr space, the space in which RAM blocks are placed ({@code RamBlock.offset()}), not
 * guest-physical addresses. Bitmaps are stored in blocks of {@value #DIRTY_MEMORY_BLOCK_SIZE} bits
 * (8 GiB of RAM); {@link #extend} grows the pointer array and never shrinks it. Client masks are
 * {@code 1 << client}: {@link #MASK_VGA}, {@link #MASK_CODE}, {@link #MASK_MIGRATION}, {@link
 * #DIRTY_CLIENTS_ALL}, {@link #DIRTY_CLIENTS_NOCODE}. CODE is inverted in meaning: "clean" = the
 * page has translated code and writes must invalidate it (see {@link CodeInvalidator}).
 *
 * <p>A range {@code (ramAddr, length)} covers the pages {@code [ramAddr >> 12, alignUp(ramAddr +
 * length) >> 12)}, QEMU's formula: a range touching part of a page covers the whole page, and a
 * zero length at an unaligned address covers the page that holds it. Ranges must lie inside the
 * extended size ({@link #sizeBytes()}); otherwise the call throws {@link IllegalArgumentException}
 * and changes nothing (ranges come from the engine's RAM blocks, never from the guest).
 *
 * {@snippet lang=java :
 * DirtyMemory dirty = new DirtyMemory();
 * dirty.newBlockDirty(0, 1 << 20);                                  // a new 1 MiB block: all dirty
 * dirty.snapshotAndClearDirty(0, 1 << 20, DirtyMemory.DIRTY_MEMORY_MIGRATION); // start of a round
 * segment.set(JAVA_INT_UNALIGNED, 0x2000, 42);                      // guest store, then:
 * dirty.invalidateAndSetDirty(0x2000, 4, DirtyMemory.DIRTY_CLIENTS_ALL);
 * DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(0, 1 << 20, DirtyMemory.DIRTY_MEMORY_MIGRATION);
 * snap.forEachDirtyPage(ramAddr -> copyPage(ramAddr));              // one call, for 0x2000
 * }
 *
 * <h2 id="thread-safety">Thread safety</h2>
 * Set and test ({@link #setDirtyRange}, {@link #invalidateAndSetDirty}, {@link
 * #rangeIncludesClean}, {@link #allDirty}, {@link #getDirty}) are lock-free, allocation-free and
 * callable from any thread: they load the current pointer array with acquire (pairs with the
 * release in {@link #extend}) and change bits only with atomic read-modify-writes. {@link #extend}
 * runs under an internal lock. Operations that clear bits ({@link #testAndClearDirty}, {@link
 * #resetDirty}, {@link #clearDirtyRange}, {@link #snapshotAndClearDirty}, {@link #resizeDirty}) are
 * serialised by a second internal lock, but never block setters: a bit set concurrently with a
 * clear either lands in that snapshot or stays set for the next one, never lost.
 *
 * <p><b>Store, then mark.</b> Writers store guest data first and mark it dirty afterwards (QEMU's
 * order in {@code address_space_write}). When every wanted bit is already set the mark executes no
 * atomic and no fence (that is what keeps logging cheap, target P8). Without more, a store could
 * still sit in the writing CPU's store buffer while its marking, reading the bit from before a
 * concurrent clear, was skipped: the clearer would read the old page and nothing would ever set the
 * bit again (the store lost for every later snapshot; {@code SkippedMarkingAuditTest} lost a few in
 * a million episodes on x86). So every clear ends with an asymmetric fence
 * ({@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)}, a few microseconds for the clearer, nothing
 * for writers): when a clear returns, every store whose marking it made unnecessary is visible to
 * the caller's reads. Where the kernel refuses membarrier, writers take a full fence instead.
 *
 * <p>Writers that bypass this class (the soft-TLB fast path below: check a cached epoch, then store)
 * have a window the fence cannot close: a store between the check and the clear lands after it.
 * Such an emulator makes its vCPUs pass a quiescent point after each clear, as QEMU's TCG does in
 * {@code log_global_after_sync} (a {@link dev.guestmem.listener.MemoryListener#logGlobalAfterSync}
 * that waits for each vCPU's next exit check); {@code MemoryRegion.snapshotAndClearDirty} calls it.
 *
 * <h2 id="clean-epoch">Clean epoch (soft-TLB protocol)</h2>
 * A JIT may let guest stores skip {@link #invalidateAndSetDirty} while every page of a range is
 * dirty for every logging client ({@link #allDirty}). Such a cached decision goes stale when a clear
 * runs. {@link #cleanEpoch()} is a sequence number: it is odd while a clear is in progress and
 * advances by two with every clear that could turn a bit from dirty to clean. Cache a decision with
 * the stamp-and-validate idiom of {@code StampedLock}:
 * {@snippet lang=java :
 * long epoch = dirty.cleanEpoch();
 * boolean fast = (epoch & 1) == 0
 *         && dirty.allDirty(pageRamAddr, 4096, mask)
 *         && dirty.validateCleanEpoch(epoch);          // no clear started meanwhile
 * if (fast) tlbEntry.cacheWritable(pageRamAddr, epoch); // later: write directly while cleanEpoch() == epoch
 * }
 * Every clear bumps the epoch to odd (volatile write) before its first cleared bit and back to even
 * (release) after its last, so an entry validated against an even epoch read after the clear sees
 * the cleared bits.
 */
public final class DirtyMemory {
    /** Client of display devices ({@code DIRTY_MEMORY_VGA}). */
    public static final int DIRTY_MEMORY_VGA = 0;
    /** Client of translated code; clean = the page has translations ({@code DIRTY_MEMORY_CODE}). */
    public static final int DIRTY_MEMORY_CODE = 1;
    /** Client of live migration and incremental snapshots ({@code DIRTY_MEMORY_MIGRATION}). */
    public static final int DIRTY_MEMORY_MIGRATION = 2;
    /** Number of clients ({@code DIRTY_MEMORY_NUM}). */
    public static final int DIRTY_MEMORY_NUM = 3;
    /** Mask of the VGA client. */
    public static final int MASK_VGA = 1 << DIRTY_MEMORY_VGA;
    /** Mask of the CODE client. */
    public static final int MASK_CODE = 1 << DIRTY_MEMORY_CODE;
    /** Mask of the MIGRATION client. */
    public static final int MASK_MIGRATION = 1 << DIRTY_MEMORY_MIGRATION;
    /** Every client ({@code DIRTY_CLIENTS_ALL}). */
    public static final int DIRTY_CLIENTS_ALL = 7;
    /** Every client but CODE ({@code DIRTY_CLIENTS_NOCODE}). */
    public static final int DIRTY_CLIENTS_NOCODE = 5;
    /** log2 of the target page size. */
    public static final int TARGET_PAGE_BITS = 12;
    /** Target page size in bytes. */
    public static final long TARGET_PAGE_SIZE = 1L << TARGET_PAGE_BITS;
    /** Bits (pages) in one bitmap block ({@code DIRTY_MEMORY_BLOCK_SIZE}): 8 GiB of RAM. */
    public static final int DIRTY_MEMORY_BLOCK_SIZE = 1 << 21;
    /** Snapshot windows are rounded to this many bytes: 64 pages, one bitmap word. */
    public static final long SNAPSHOT_ALIGN = TARGET_PAGE_SIZE << 6;
    /** Largest ram_addr space size {@link #extend} accepts (4 PiB). */
    public static final long MAX_RAM_SIZE = 1L << 52;

    private static final int BLOCK_BITS = 21;
    private static final long PAGE_MASK = TARGET_PAGE_SIZE - 1;
    private static final int OP_SET = 0;
    private static final int OP_ANY_SET = 1;
    private static final int OP_ANY_CLEAR = 2;
    private static final int OP_TEST_AND_CLEAR = 3;

    private static final VarHandle BLOCKS;
    private static final VarHandle CLEAN_EPOCH;
    private static final VarHandle EPOCH_CHUNK = MethodHandles.arrayElementVarHandle(long[][].class);
    /** Entries of the epoch cache: opaque, so a long entry is never read torn (JLS 17.7). */
    private static final VarHandle EPOCH_ENTRY = MethodHandles.arrayElementVarHandle(long[].class);
    /** Pages per chunk of the all-dirty epoch cache: 4096 (16 MiB of RAM in a 32 KiB long array). */
    private static final int EPOCH_CHUNK_BITS = 12;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            BLOCKS = l.findVarHandle(DirtyMemory.class, "blocks", DirtyMemoryBlocks.class);
            CLEAN_EPOCH = l.findVarHandle(DirtyMemory.class, "cleanEpoch", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ReentrantLock extendLock = new ReentrantLock();
    private final ReentrantLock clearLock = new ReentrantLock();
    /** Written through BLOCKS (release); read with acquire, or plainly in {@link #pageAllDirty}. */
    private DirtyMemoryBlocks blocks = DirtyMemoryBlocks.EMPTY;
    @SuppressWarnings("unused") // accessed through CLEAN_EPOCH
    private long cleanEpoch;
    private volatile CodeInvalidator codeInvalidator;
    /**
     * The all-dirty epoch cache (QEMU's TLB_NOTDIRTY idea, kept here so every writer shares it): for a
     * page, {@code epoch + 1} (odd) when the page was seen dirty for every client at clean epoch
     * {@code epoch}; anything else is a miss. A clear advances the epoch, which invalidates every entry
     * at once, so clears never touch the cache. Chunks are created lazily on a miss; the outer array
     * is replaced (grown) under the extend lock. Read plainly: a stale outer array or chunk only misses.
     * Entries hold the whole epoch, not its low 32 bits: a truncated entry would hit again 2^31 clears
     * later, when its page may have been cleared since.
     */
    private long[][] epochChunks = new long[0][];

    /** Creates dirty memory covering no RAM; {@link #extend} or {@link #newBlockDirty} grow it. */
    public DirtyMemory() {
    }

    // ---------------------------------------------------------------------------------------------
    // Growth and RAM block life cycle

    /**
     * Grows the bitmaps to cover ram_addr {@code [0, ramSize)}, rounded up to whole bitmap blocks;
     * never shrinks ({@code dirty_memory_extend}). New pages are clean for every client.
     *
     * @param ramSize bytes of ram_addr space to cover
     * @throws IllegalArgumentException if {@code ramSize} is negative or above {@link #MAX_RAM_SIZE}
     */
    public void extend(long ramSize) {
        if (ramSize < 0 || ramSize > MAX_RAM_SIZE) {
            throw badRamSize(ramSize);
        }
        long pages = (ramSize + PAGE_MASK) >>> TARGET_PAGE_BITS;
        int needed = (int) ((pages + DIRTY_MEMORY_BLOCK_SIZE - 1) >>> BLOCK_BITS);
        extendLock.lock();
        try {
            DirtyMemoryBlocks cur = lvBlocks();
            if (needed > cur.numBlocks) {
                // release; pairs with the acquire in lvBlocks(): the new bitmaps' zeroed words and
                // the copied pointers are visible before the array is.
                BLOCKS.setRelease(this, cur.extend(needed));
            }
        } finally {
            extendLock.unlock();
        }
    }

    /**
     * Returns bytes of ram_addr space covered (a multiple of 8 GiB).
     *
     * @return bytes of ram_addr space covered (a multiple of 8 GiB)
     */
    public long sizeBytes() {
        return lvBlocks().limitBytes;
    }

    /**
     * Registers a new RAM block: grows to cover it and marks its pages dirty for every client
     * ({@code ram_block_add}). Same as {@code newBlockDirty(ramAddr, length, length)}.
     *
     * @param ramAddr the block's offset in ram_addr space
     * @param length its used length
     * @throws IllegalArgumentException if the block lies beyond {@link #MAX_RAM_SIZE}
     */
    public void newBlockDirty(long ramAddr, long length) {
        newBlockDirty(ramAddr, length, length);
    }

    /**
     * Registers a new resizeable RAM block: grows to cover {@code maxLength}, marks the used length
     * dirty for every client ({@code ram_block_add}).
     *
     * @param ramAddr the block's offset in ram_addr space
     * @param usedLength bytes in use
     * @param maxLength bytes it may grow to
     * @throws IllegalArgumentException if {@code usedLength > maxLength} or the block lies beyond
     *     {@link #MAX_RAM_SIZE}
     */
    public void newBlockDirty(long ramAddr, long usedLength, long maxLength) {
        if (ramAddr < 0 || usedLength < 0 || maxLength < usedLength || maxLength > MAX_RAM_SIZE - ramAddr) {
            throw badBlock(ramAddr, usedLength, maxLength);
        }
        extend(ramAddr + maxLength);
        setDirtyRange(ramAddr, usedLength, DIRTY_CLIENTS_ALL);
    }

    /**
     * Resizes a RAM block's logging: clears the old used length for every client, then marks the
     * new used length dirty for every client ({@code qemu_ram_resize}).
     *
     * @param ramAddr the block's offset
     * @param oldLength previous used length
     * @param newLength new used length
     * @throws IllegalArgumentException if either range lies outside the covered size
     */
    public void resizeDirty(long ramAddr, long oldLength, long newLength) {
        DirtyMemoryBlocks b = lvBlocks();
        checkRange(b, ramAddr, oldLength);
        checkRange(b, ramAddr, newLength);
        clearDirtyRange(ramAddr, oldLength);
        setDirtyRange(ramAddr, newLength, DIRTY_CLIENTS_ALL);
    }

    // ---------------------------------------------------------------------------------------------
    // Set and test (lock-free)

    /**
     * Marks the pages of a range dirty for every client in {@code mask}; nothing when the mask is 0
     * ({@code physical_memory_set_dirty_range}).
     *
     * @param ramAddr first byte
     * @param length bytes
     * @param mask client mask (0..7)
     * @throws IllegalArgumentException on a bad mask or a range outside {@link #sizeBytes()}
     * @implNote Lock-free, allocation-free; words whose bits are all set already take no atomic.
     */
    public void setDirtyRange(long ramAddr, long length, int mask) {
        checkMask(mask);
        if (mask == 0) {
            return;
        }
        DirtyMemoryBlocks b = lvBlocks();
        checkRange(b, ramAddr, length);
        setRange(b, ramAddr, length, mask);
    }

    private static void setRange(DirtyMemoryBlocks b, long ramAddr, long length, int mask) {
        long page = ramAddr >>> TARGET_PAGE_BITS;
        long end = (ramAddr + length + PAGE_MASK) >>> TARGET_PAGE_BITS;
        for (int c = 0; c < DIRTY_MEMORY_NUM; c++) {
            if ((mask & (1 << c)) != 0) {
                rangeOp(b, c, page, end, OP_SET);
            }
        }
    }

    /**
     * Returns the clients of {@code mask} for which some page of the range is clean ({@code
     * physical_memory_range_includes_clean}). 0 means every page is dirty for every client of the
     * mask: a write may skip logging.
     *
     * @param ramAddr first byte
     * @param length bytes
     * @param mask client mask (0..7)
     * @return the sub-mask of clients with a clean page
     * @throws IllegalArgumentException on a bad mask or a range outside {@link #sizeBytes()}
     * @implNote Hot path (P8): lock-free, allocation-free, one opaque word load per client for a
     *     range inside one page.
     */
    public int rangeIncludesClean(long ramAddr, long length, int mask) {
        checkMask(mask);
        DirtyMemoryBlocks b = lvBlocks();
        checkRange(b, ramAddr, length);
        long page = ramAddr >>> TARGET_PAGE_BITS;
        long end = (ramAddr + length + PAGE_MASK) >>> TARGET_PAGE_BITS;
        int clean = 0;
        if (end - page == 1) {
            // One page, the common store: skip the general block walk.
            int block = (int) (page >>> BLOCK_BITS);
            int word = (int) ((page & (DIRTY_MEMORY_BLOCK_SIZE - 1)) >>> 6);
            long bit = 1L << page;
            for (int c = 0; c < DIRTY_MEMORY_NUM; c++) {
                if ((mask & (1 << c)) != 0
                        && ((long) AtomicBitmap.WORDS.getOpaque(b.bitmap(block, c), word) & bit) == 0) {
                    clean |= 1 << c;
                }
            }
            return clean;
        }
        for (int c = 0; c < DIRTY_MEMORY_NUM; c++) {
            if ((mask & (1 << c)) != 0 && rangeOp(b, c, page, end, OP_ANY_CLEAR)) {
                clean |= 1 << c;
            }
        }
        return clean;
    }

    /**
     * Tests whether every page of the range is dirty for every client in {@code mask}: the JIT
     * fast-path question (writes may then bypass logging). True for mask 0 or an empty range.
     *
     * @param ramAddr first byte
     * @param length bytes
     * @param mask client mask (0..7)
     * @return true if no client of the mask has a clean page in the range
     * @throws IllegalArgumentException on a bad mask or a range outside {@link #sizeBytes()}
     */
    public boolean allDirty(long ramAddr, long length, int mask) {
        return pageAllDirty(ramAddr, length, mask) || rangeIncludesClean(ramAddr, length, mask) == 0;
    }

    /**
     * Tests whether any page of the range is dirty for a client ({@code physical_memory_get_dirty}).
     *
     * @param ramAddr first byte
     * @param length bytes
     * @param client client number (0..2)
     * @return true if some page is dirty
     * @throws IllegalArgumentException on a bad client or a range outside {@link #sizeBytes()}
     */
    public boolean getDirty(long ramAddr, long length, int client) {
        checkClient(client);
        DirtyMemoryBlocks b = lvBlocks();
        checkRange(b, ramAddr, length);
        long page = ramAddr >>> TARGET_PAGE_BITS;
        long end = (ramAddr + length + PAGE_MASK) >>> TARGET_PAGE_BITS;
        return rangeOp(b, client, page, end, OP_ANY_SET);
    }

    /**
     * Logs a direct write to RAM ({@code invalidate_and_set_dirty}): restricts {@code mask} to the
     * clients that still have a clean page in the range; if CODE remains, calls {@code invalidator}
     * for the range and drops CODE (the invalidator re-dirties CODE once translations are gone);
     * sets the rest. Call it after the store. A {@code null} invalidator means no code is translated
     * anywhere: CODE is then simply marked dirty.
     *
     * @param ramAddr first byte written
     * @param length bytes written
     * @param mask the region's dirty log mask (0..7)
     * @param invalidator code-invalidation hook, or {@code null}
     * @throws IllegalArgumentException on a bad mask or a range outside {@link #sizeBytes()}
     * @implNote Hot path (P8): lock-free, allocation-free; once the pages are dirty for every client
     *     it is the epoch-cache test: one acquire load of the clean epoch and two array loads.
     */
    public void invalidateAndSetDirty(long ramAddr, long length, int mask, CodeInvalidator invalidator) {
        if (!WriterFence.KERNEL) {
            VarHandle.fullFence(); // no membarrier for the clearer: order the store before the reads below
        }
        long e = (long) CLEAN_EPOCH.getAcquire(this); // first: see cacheAllDirty
        // a bad mask (bits above the clients) goes on to the validating path, even on a cached page
        if (mask == 0 || (mask & ~DIRTY_CLIENTS_ALL) == 0 && epochCacheHit(ramAddr, length, e)) {
            return;
        }
        if (!pageAllDirty(ramAddr, length, mask)) {
            invalidateAndSetDirtySlow(ramAddr, length, mask, invalidator);
        }
        cacheAllDirty(ramAddr, length, e);
    }

    /**
     * {@link #invalidateAndSetDirty(long, long, int, CodeInvalidator)} with the invalidator
     * registered by {@link #setCodeInvalidator}.
     *
     * @param ramAddr first byte written
     * @param length bytes written
     * @param mask the region's dirty log mask (0..7)
     * @throws IllegalArgumentException on a bad mask or a range outside {@link #sizeBytes()}
     * @implNote Hot path (P8); reads the registered hook only when CODE has a clean page.
     */
    public void invalidateAndSetDirty(long ramAddr, long length, int mask) {
        if (!WriterFence.KERNEL) {
            VarHandle.fullFence(); // no membarrier for the clearer: order the store before the reads below
        }
        long e = (long) CLEAN_EPOCH.getAcquire(this); // first: see cacheAllDirty
        // a bad mask (bits above the clients) goes on to the validating path, even on a cached page
        if (mask == 0 || (mask & ~DIRTY_CLIENTS_ALL) == 0 && epochCacheHit(ramAddr, length, e)) {
            return;
        }
        if (!pageAllDirty(ramAddr, length, mask)) {
            invalidateAndSetDirtySlow(ramAddr, length, mask, codeInvalidator);
        }
        cacheAllDirty(ramAddr, length, e);
    }

    /**
     * The P8 fast check: the written range lies in one page whose epoch-cache entry says "dirty for
     * every client at the current clean epoch {@code e}". A page cached at epoch {@code e} cannot have
     * been cleared since (every clear advances the epoch first), so nothing needs marking. Kept tiny
     * so it inlines into store loops: one acquire load of the epoch by the caller, two array loads.
     */
    private boolean epochCacheHit(long ramAddr, long length, long e) {
        long page = ramAddr >>> TARGET_PAGE_BITS;
        long[][] c = epochChunks;
        long ci = page >>> EPOCH_CHUNK_BITS;
        if (ci >= c.length || length <= 0 || ((ramAddr + length - 1) >>> TARGET_PAGE_BITS) != page) {
            return false;
        }
        long[] chunk = c[(int) ci];
        return chunk != null && (long) EPOCH_ENTRY.getOpaque(chunk, (int) page & ((1 << EPOCH_CHUNK_BITS) - 1)) == e + 1
                && (e & 1) == 0;
    }

    /**
     * After a logged write at epoch {@code e} (read before the marking): records the page in the epoch
     * cache if it is now dirty for every client and no clear has started since {@code e} (the
     * seqlock validation of {@link #validateCleanEpoch}). Miss path only.
     */
    private void cacheAllDirty(long ramAddr, long length, long e) {
        long page = ramAddr >>> TARGET_PAGE_BITS;
        if ((e & 1) != 0 || length <= 0 || ((ramAddr + length - 1) >>> TARGET_PAGE_BITS) != page
                || Long.compareUnsigned(ramAddr, lvBlocks().limitBytes) >= 0
                || !pageAllDirty(page << TARGET_PAGE_BITS, TARGET_PAGE_SIZE, DIRTY_CLIENTS_ALL)) {
            return;
        }
        long ci = page >>> EPOCH_CHUNK_BITS;
        long[][] c = epochChunks;
        if (ci >= c.length) {
            extendLock.lock();
            try {
                c = epochChunks;
                if (ci >= c.length) {
                    long chunks = (lvBlocks().limitBytes >>> TARGET_PAGE_BITS) >>> EPOCH_CHUNK_BITS;
                    c = java.util.Arrays.copyOf(c, (int) Math.max(chunks, ci + 1));
                    epochChunks = c;
                }
            } finally {
                extendLock.unlock();
            }
        }
        long[] chunk = (long[]) EPOCH_CHUNK.getAcquire(c, (int) ci);
        if (chunk == null) {
            chunk = new long[1 << EPOCH_CHUNK_BITS];
            if (!EPOCH_CHUNK.compareAndSet(c, (int) ci, (long[]) null, chunk)) {
                chunk = (long[]) EPOCH_CHUNK.getAcquire(c, (int) ci);
            }
        }
        if (validateCleanEpoch(e)) {
            EPOCH_ENTRY.setOpaque(chunk, (int) page & ((1 << EPOCH_CHUNK_BITS) - 1), e + 1);
        }
    }

    /**
     * The fast answer for the common store: true if the range lies inside one page that is dirty
     * for every client of a valid {@code mask}. False means "take the general path", which also
     * validates the arguments. Kept small so that it inlines into store loops.
     */
    private boolean pageAllDirty(long ramAddr, long length, int mask) {
        // Plain read, on purpose: DirtyMemoryBlocks publishes through final fields, and every
        // generation shares the bitmaps of the previous one, so a stale generation has the same bits
        // and only lacks new blocks, which fail the limit test below and go to the acquiring path.
        DirtyMemoryBlocks b = blocks;
        long page = ramAddr >>> TARGET_PAGE_BITS;
        // 1 <= length <= one page cannot wrap (ramAddr < limitBytes < 2^53); unsigned compare
        // rejects ramAddr beyond the covered space, negative ones included.
        if (length <= 0 || length > TARGET_PAGE_SIZE || ((ramAddr + length - 1) >>> TARGET_PAGE_BITS) != page
                || Long.compareUnsigned(ramAddr, b.limitBytes) >= 0 || (mask & ~DIRTY_CLIENTS_ALL) != 0) {
            return false;
        }
        long[][] bitmaps = b.bitmaps;
        int base = (int) (page >>> BLOCK_BITS) * DIRTY_MEMORY_NUM;
        int word = (int) (page >>> 6) & (DIRTY_MEMORY_BLOCK_SIZE / Long.SIZE - 1);
        long bit = 1L << page;
        return ((mask & MASK_VGA) == 0 || ((long) AtomicBitmap.WORDS.getOpaque(bitmaps[base], word) & bit) != 0)
                && ((mask & MASK_CODE) == 0 || ((long) AtomicBitmap.WORDS.getOpaque(bitmaps[base + 1], word) & bit) != 0)
                && ((mask & MASK_MIGRATION) == 0
                        || ((long) AtomicBitmap.WORDS.getOpaque(bitmaps[base + 2], word) & bit) != 0);
    }

    private void invalidateAndSetDirtySlow(long ramAddr, long length, int mask, CodeInvalidator invalidator) {
        int dirtyMask = rangeIncludesClean(ramAddr, length, mask);
        if (dirtyMask == 0) {
            return;
        }
        if ((dirtyMask & MASK_CODE) != 0 && invalidator != null) {
            invalidator.invalidateCode(ramAddr, length);
            dirtyMask &= ~MASK_CODE;
            if (dirtyMask == 0) {
                return;
            }
        }
        // Validated by rangeIncludesClean; re-load the array: extend may only have grown it.
        setRange(lvBlocks(), ramAddr, length, dirtyMask);
    }

    /**
     * Whether writers must fence between a store and the reads that decide its marking: true only
     * where the kernel refuses the clearer's membarrier (see "Store, then mark" above). Constant for
     * the process.
     *
     * @return true if writers take a full fence themselves
     */
    public static boolean writersFence() {
        return !WriterFence.KERNEL;
    }

    /**
     * Registers the code-invalidation hook used by {@link #invalidateAndSetDirty(long, long, int)}
     * (a JIT emulator's "drop translations of this range"); {@code null} unregisters.
     *
     * @param invalidator the hook, or {@code null}
     */
    public void setCodeInvalidator(CodeInvalidator invalidator) {
        this.codeInvalidator = invalidator;
    }

    /**
     * Returns the registered code-invalidation hook, or {@code null}.
     *
     * @return the registered code-invalidation hook, or {@code null}
     */
    public CodeInvalidator codeInvalidator() {
        return codeInvalidator;
    }

    // ---------------------------------------------------------------------------------------------
    // Clear and snapshot (serialised among themselves; never block setters)

    /**
     * Clears a client's bits over the range and reports whether any was dirty ({@code
     * physical_memory_test_and_clear_dirty}). Advances {@link #cleanEpoch()} only if something was
     * dirty.
     *
     * @param ramAddr first byte
     * @param length bytes
     * @param client client number (0..2)
     * @return true if some page was dirty
     * @throws IllegalArgumentException on a bad client or a range outside {@link #sizeBytes()}
     */
    public boolean testAndClearDirty(long ramAddr, long length, int client) {
        checkClient(client);
        DirtyMemoryBlocks b = lvBlocks();
        checkRange(b, ramAddr, length);
        long page = ramAddr >>> TARGET_PAGE_BITS;
        long end = (ramAddr + length + PAGE_MASK) >>> TARGET_PAGE_BITS;
        // Nothing dirty: nothing to clear, so no cached fast-path decision needs to die.
        if (!rangeOp(b, client, page, end, OP_ANY_SET)) {
            return false;
        }
        beginClear();
        try {
            return rangeOp(b, client, page, end, OP_TEST_AND_CLEAR);
        } finally {
            endClear();
        }
    }

    /**
     * Clears a client's bits over the range ({@code memory_region_reset_dirty} in ram_addr terms).
     *
     * @param ramAddr first byte
     * @param length bytes
     * @param client client number (0..2)
     * @throws IllegalArgumentException on a bad client or a range outside {@link #sizeBytes()}
     */
    public void resetDirty(long ramAddr, long length, int client) {
        testAndClearDirty(ramAddr, length, client);
    }

    /**
     * Clears every client's bits over the range ({@code physical_memory_clear_dirty_range}).
     *
     * @param ramAddr first byte
     * @param length bytes
     * @throws IllegalArgumentException on a range outside {@link #sizeBytes()}
     */
    public void clearDirtyRange(long ramAddr, long length) {
        DirtyMemoryBlocks b = lvBlocks();
        checkRange(b, ramAddr, length);
        long page = ramAddr >>> TARGET_PAGE_BITS;
        long end = (ramAddr + length + PAGE_MASK) >>> TARGET_PAGE_BITS;
        if (page == end) {
            return;
        }
        beginClear();
        try {
            for (int c = 0; c < DIRTY_MEMORY_NUM; c++) {
                rangeOp(b, c, page, end, OP_TEST_AND_CLEAR);
            }
        } finally {
            endClear();
        }
    }

    /**
     * Copies and clears a client's bits over the range, widened to {@link #SNAPSHOT_ALIGN} units
     * ({@code physical_memory_snapshot_and_clear_dirty}): the window {@code [alignDown(ramAddr),
     * alignUp(ramAddr + length))} is both copied and cleared. Each bitmap word is moved with one
     * atomic exchange, so a bit set concurrently is either in this snapshot or still set afterwards.
     * Always advances {@link #cleanEpoch()}.
     *
     * @param ramAddr first byte
     * @param length bytes
     * @param client client number (0..2)
     * @return an immutable snapshot of the window
     * @throws IllegalArgumentException on a bad client or a range outside {@link #sizeBytes()}
     * @implNote Target P9: 64 GiB (16 Mi pages) in at most 5 ms. Words that read zero are skipped
     *     without an atomic; the only allocation is the snapshot's bit array.
     */
    public DirtyBitmapSnapshot snapshotAndClearDirty(long ramAddr, long length, int client) {
        checkClient(client);
        DirtyMemoryBlocks b = lvBlocks();
        checkRange(b, ramAddr, length);
        long first = ramAddr & -SNAPSHOT_ALIGN;
        // limitBytes is a multiple of SNAPSHOT_ALIGN, so the rounded end stays inside.
        long last = (ramAddr + length + SNAPSHOT_ALIGN - 1) & -SNAPSHOT_ALIGN;
        long words = (last - first) >>> (TARGET_PAGE_BITS + 6);
        if (words > Integer.MAX_VALUE - 8) {
            throw tooLarge(ramAddr, length);
        }
        long[] bits = new long[(int) words];
        long count = 0;
        long page = first >>> TARGET_PAGE_BITS;
        long end = last >>> TARGET_PAGE_BITS;
        int dst = 0;
        beginClear();
        try {
            while (page < end) {
                int block = (int) (page >>> BLOCK_BITS);
                int from = (int) (page & (DIRTY_MEMORY_BLOCK_SIZE - 1));
                int n = (int) Math.min(end - page, DIRTY_MEMORY_BLOCK_SIZE - from);
                count += AtomicBitmap.copyAndClear(b.bitmap(block, client), from >>> 6, n >>> 6, bits, dst);
                dst += n >>> 6;
                page += n;
            }
        } finally {
            endClear();
        }
        return new DirtyBitmapSnapshot(first, last, bits, count);
    }

    /**
     * Loads the clean epoch with acquire: even when no clear is running, odd during one; it advances
     * with every clear that may turn dirty pages clean. See <a href="#clean-epoch">the protocol</a>.
     *
     * @return the current epoch
     */
    public long cleanEpoch() {
        return (long) CLEAN_EPOCH.getAcquire(this);
    }

    /**
     * Tells whether no clear started since {@code epoch} was read (an acquire fence, then a re-read,
     * as {@code StampedLock.validate}): decisions made from bitmap reads in between still hold.
     *
     * @param epoch a value returned by {@link #cleanEpoch()}
     * @return true if {@code epoch} is even and still current
     */
    public boolean validateCleanEpoch(long epoch) {
        // Orders the bitmap reads before the re-read of the epoch (seqlock reader side).
        VarHandle.acquireFence();
        return (epoch & 1) == 0 && (long) CLEAN_EPOCH.getOpaque(this) == epoch;
    }

    // Called before the first cleared bit: a volatile write, so the clearing atomics that follow are
    // ordered after it and a validator that read the old even epoch fails.
    private void beginClear() {
        clearLock.lock();
        long e = (long) CLEAN_EPOCH.getOpaque(this);
        CLEAN_EPOCH.setVolatile(this, e + 1);
    }

    // Called after the last cleared bit: release; pairs with the acquire in cleanEpoch().
    private void endClear() {
        long e = (long) CLEAN_EPOCH.getOpaque(this);
        CLEAN_EPOCH.setRelease(this, e + 1);
        clearLock.unlock();
        // A writer that read a bit from before this clear and skipped its marking has its store
        // visible once this returns, so the caller's reads of the pages see it (WriterFence).
        WriterFence.afterClear();
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers

    private DirtyMemoryBlocks lvBlocks() {
        // acquire; pairs with the release in extend()
        return (DirtyMemoryBlocks) BLOCKS.getAcquire(this);
    }

    /** Applies {@code op} to a client's pages {@code [page, end)}, walking bitmap blocks. */
    private static boolean rangeOp(DirtyMemoryBlocks b, int client, long page, long end, int op) {
        boolean any = false;
        while (page < end) {
            int block = (int) (page >>> BLOCK_BITS);
            int from = (int) (page & (DIRTY_MEMORY_BLOCK_SIZE - 1));
            int n = (int) Math.min(end - page, DIRTY_MEMORY_BLOCK_SIZE - from);
            long[] words = b.bitmap(block, client);
            switch (op) {
                case OP_SET -> AtomicBitmap.set(words, from, from + n);
                case OP_ANY_SET -> {
                    if (AtomicBitmap.anySet(words, from, from + n)) {
                        return true;
                    }
                }
                case OP_ANY_CLEAR -> {
                    if (AtomicBitmap.anyClear(words, from, from + n)) {
                        return true;
                    }
                }
                default -> any |= AtomicBitmap.testAndClear(words, from, from + n);
            }
            page += n;
        }
        return any;
    }

    private static void checkRange(DirtyMemoryBlocks b, long ramAddr, long length) {
        long limit = b.limitBytes;
        if (Long.compareUnsigned(ramAddr, limit) > 0 || Long.compareUnsigned(length, limit - ramAddr) > 0) {
            throw outOfRange(ramAddr, length, limit);
        }
    }

    private static void checkMask(int mask) {
        if ((mask & ~DIRTY_CLIENTS_ALL) != 0) {
            throw badMask(mask);
        }
    }

    private static void checkClient(int client) {
        if (client < 0 || client >= DIRTY_MEMORY_NUM) {
            throw badClient(client);
        }
    }

    private static IllegalArgumentException outOfRange(long ramAddr, long length, long limit) {
        return new IllegalArgumentException("dirty range ramAddr=0x" + Long.toHexString(ramAddr)
                + " length=0x" + Long.toHexString(length) + " outside the covered ram_addr space [0, 0x"
                + Long.toHexString(limit) + ")");
    }

    private static IllegalArgumentException badMask(int mask) {
        return new IllegalArgumentException("dirty client mask " + mask + " not within 0.." + DIRTY_CLIENTS_ALL);
    }

    private static IllegalArgumentException badClient(int client) {
        return new IllegalArgumentException("dirty client " + client + " not within 0.." + (DIRTY_MEMORY_NUM - 1));
    }

    private static IllegalArgumentException badRamSize(long ramSize) {
        return new IllegalArgumentException("ram_addr space size " + ramSize + " not within 0.." + MAX_RAM_SIZE);
    }

    private static IllegalArgumentException badBlock(long ramAddr, long usedLength, long maxLength) {
        return new IllegalArgumentException("RAM block ramAddr=0x" + Long.toHexString(ramAddr) + " usedLength=0x"
                + Long.toHexString(usedLength) + " maxLength=0x" + Long.toHexString(maxLength)
                + ": need 0 <= usedLength <= maxLength and ramAddr + maxLength <= " + MAX_RAM_SIZE);
    }

    private static IllegalArgumentException tooLarge(long ramAddr, long length) {
        return new IllegalArgumentException("snapshot of ramAddr=0x" + Long.toHexString(ramAddr) + " length=0x"
                + Long.toHexString(length) + " needs more than 2^31 bitmap words");
    }
}
