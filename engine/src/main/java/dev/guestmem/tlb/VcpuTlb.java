package dev.guestmem.tlb;

import static dev.guestmem.internal.ByteOrderLayouts.U16_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U16_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_LE;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamFlags;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.Objects;

/**
 * A vCPU's soft TLB in QEMU's own shape ({@code CPUTLBEntry}): per entry a page tag for loads, one
 * for stores and an addend from guest to host address, so a hit is one compare and one load or store
 * of host memory. It is the fastest form guestmem offers a JIT (benchmark P3); the window form of
 * {@link GuestTlb} remains for code that wants every access bounds-checked by the JDK.
 *
 * {@snippet lang=java :
 * VcpuTlb tlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, null);
 * for (;;) {
 *     tlb.enterBlock();              // where the CPU loop polls its exit request
 *     int insn = tlb.ldlLe(pc);      // hit: tag compare, one host load
 *     tlb.stlLe(sp - 4, value);      // hit; logged RAM: the store, then its marking; MMIO: the space
 * }
 * }
 *
 * <p><b>Why a hit needs no bounds or liveness check.</b> A hit addresses host memory through one
 * segment that spans the process ({@code MemorySegment.NULL.reinterpret(Long.MAX_VALUE)}), which C2
 * folds away; what makes that safe is when entries exist. An entry is made only for a whole page of
 * RAM that the view lets the CPU access directly, that is not fault-prone (file-backed or being
 * restored lazily: no SIGBUS) and whose block guestmem mapped itself (not caller-provided memory,
 * {@link RamFlags#PREALLOC}, which its owner may free at any time); and the TLB takes a reference on
 * that block ({@link RamBlock#tryRef()}) before it keeps the entry. It drops its entries and
 * references only in {@link #enterBlock()} (when the address space's generation moved),
 * {@link #flush()} and {@link #close()}, all called by the vCPU's own thread between accesses. So the
 * memory an entry points into stays mapped for as long as the entry can be used, even if the guest
 * unplugs the RAM and its block is closed meanwhile (QEMU's vCPUs keep the RCU read lock across a
 * translation block for the same reason): the block is unmapped at the vCPU's next block entry. A
 * page an entry maps stays a page of its block (a resizeable block keeps its whole reservation
 * mapped), so a stale entry used before that block entry reads or writes the RAM the page had, as a
 * QEMU vCPU finishing its translation block does; it never reaches memory that is not mapped.
 *
 * <p><b>Rules.</b> One thread (the vCPU's) uses a TLB; call {@link #enterBlock()} often (at least at
 * every point where the guest may observe a topology change: block entry, an exit-request poll); a
 * vCPU that stops running for long (halt, pause) calls {@link #flush()} first, so that it does not
 * keep unplugged RAM mapped. Keep one TLB per set of attributes (per world, as QEMU keeps one per
 * MMU index): entries do not record the attributes they were filled with. Start a lazy restore into
 * a block with the vCPUs paused or past {@link #enterBlock()}: entries made before it stay direct
 * until then.
 *
 * <p><b>Semantics.</b> Hits and misses give what the address space's accessors give, with TCG's
 * differences. A store to RAM the view makes read-only (ROM, RAM under a read-only alias or
 * container: {@link GuestTlb#TLB_DISCARD_WRITE}) is dropped. An access that crosses a page is split
 * by page as TCG splits it ({@code do_ld_beN}/{@code do_st_leN}), not sent whole to the region of
 * its first byte as the space's ld/st send it: each page's bytes go to that page alone, directly
 * where its entry allows, dropped on a page that drops stores, else through the address space in
 * naturally aligned pieces ({@code 1 << ctz(left | addr | 8)} bytes, QEMU's
 * {@code int_ld_mmio_beN}), each failed piece reported on its own (an access that would wrap past
 * 2^64 is the space's, whole: an error). An unaligned access to a page the TLB cannot use directly
 * is split into such pieces too (current TCG splits every MMIO access so: a device never sees an
 * unaligned access from a vCPU, where the space's ld/st hand it one). On a page several sections
 * share ({@link TlbEntry#subpage()}) each piece, an aligned access's one included, takes QEMU's
 * {@code subpage_read}/{@code subpage_write}: refused whole ({@code DECODE_ERROR}) unless the view
 * accepts it ({@link AddressSpace#accessValid}), else by the buffer rules of
 * {@link AddressSpace#read(long, MemTxAttrs, byte[], int, int)}/{@code write} (a piece across two
 * sections gives each its bytes; a device taking at most 4 bytes gets an 8-byte piece as two
 * accesses), and a piece that failed loads 0. A store on one page of RAM that only dirty logging
 * keeps from direct stores (a display's, migration's, or translated code's: QEMU's
 * {@code TLB_NOTDIRTY} page) is written directly and then marked as the address space marks it
 * ({@link DirtyMemory#invalidateAndSetDirty(long, long, int)}, translated code on the page invalidated), while
 * the view is the TLB's; the entry then skips the marking for as long as the page stays dirty for
 * every client that logs it (the clean epoch of {@link DirtyMemory#cleanEpoch()}, read after
 * the store: every clear moves it, so the next store marks again, as QEMU's
 * {@code tlb_reset_dirty} re-arms the flag). Any other aligned access on one page
 * that touches MMIO, ROM-device callbacks or an
 * unassigned address goes through {@link AddressSpace} with this TLB's attributes; on a page that
 * is wholly one device-only section the entry keeps that section (QEMU's iotlb) and the access goes
 * to it with {@code ioLoad}/{@code ioStore}, without a lookup, while the address space's generation
 * is still the TLB's (a device access is never made on a view older than the current one: after a
 * change and before the next {@link #enterBlock()}, such a page takes the address space, as every
 * non-direct page does). A failed access ({@link MemTxResult} not {@code OK}) is reported to the
 * {@link AccessFault} given at construction (QEMU's
 * {@code cpu_transaction_failed}); a load then returns what the address space returned.
 *
 * <p><b>Thread safety.</b> Confined to one thread; any number of TLBs may use one address space.
 */
public final class VcpuTlb implements AutoCloseable {
    /** QEMU's {@code do_transaction_failed}: told of every access that did not complete with {@code OK}. */
    @FunctionalInterface
    public interface AccessFault {
        /**
         * An access failed.
         *
         * @param addr the guest address
         * @param size bytes (1, 2, 4 or 8)
         * @param isWrite whether it was a store
         * @param result the {@link MemTxResult} flags
         */
        void failed(long addr, int size, boolean isWrite, int result);
    }

    private static final int BITS = 8;
    private static final int MASK = (1 << BITS) - 1;
    private static final long PAGE_MASK = ~(GuestTlb.PAGE_SIZE - 1);
    /** In {@link #flags}, beside {@link GuestTlb}'s: the page is a subpage page ({@link TlbEntry#subpage()}). */
    private static final int SUBPAGE = 1 << 30;
    /** No page has this tag: its low bits are set. */
    private static final long NO_PAGE = -1L;
    /** No clean epoch is odd at rest (see {@link DirtyMemory#cleanEpoch()}). */
    private static final long NO_EPOCH = -1L;
    /** The process's memory as one segment: see the class comment for why hits may use it. */
    private static final MemorySegment HOST = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private final AddressSpace as;
    private final MemTxAttrs attrs;
    private final AccessFault fault;
    private final boolean targetBig;
    /** Per entry: the page loads may use directly, or {@link #NO_PAGE}. */
    private final long[] readTags = new long[1 << BITS];
    /** Per entry: the page stores may use directly, or {@link #NO_PAGE}. */
    private final long[] writeTags = new long[1 << BITS];
    /** Per entry: host address of the page minus its guest address. */
    private final long[] addends = new long[1 << BITS];
    /** Per entry: the page the entry describes, direct or not (its flags answer slow stores), or {@link #NO_PAGE}. */
    private final long[] pages = new long[1 << BITS];
    private final int[] flags = new int[1 << BITS];
    /** Per entry: the device-only section of the entry's page (QEMU's iotlb), or null. */
    private final PhysSection[] ioSections = new PhysSection[1 << BITS];
    /**
     * Per entry: the page stores may write directly and then mark dirty, RAM that only dirty logging
     * keeps from {@link #writeTags} (QEMU's {@code TLB_NOTDIRTY} page), or {@link #NO_PAGE}.
     */
    private final long[] loggedTags = new long[1 << BITS];
    /** Per entry of {@link #loggedTags}: the bitmaps its stores mark (the block's system's). */
    private final DirtyMemory[] loggedDirty = new DirtyMemory[1 << BITS];
    /** Per entry of {@link #loggedTags}: the ram_addr of the page's first byte. */
    private final long[] loggedRamAddrs = new long[1 << BITS];
    /** Per entry of {@link #loggedTags}: the clients logging the page ({@code dirty_log_mask}). */
    private final int[] loggedMasks = new int[1 << BITS];
    /**
     * Per entry of {@link #loggedTags}: the clean epoch at which the page was dirty for every client
     * of its mask, so a store need not mark it while that epoch lasts (QEMU drops the entry's
     * {@code TLB_NOTDIRTY} then; {@code tlb_reset_dirty} re-arms it, here every clear moves the
     * epoch); odd ({@link #NO_EPOCH}) while not known.
     */
    private final long[] loggedEpochs = new long[1 << BITS];
    private final TlbEntry scratch = new TlbEntry();
    /** A piece's bytes on their way to or from a subpage page (the buffer rules). */
    private final byte[] pieceBytes = new byte[8];
    private final MemTxResultHolder result = new MemTxResultHolder();
    /** The blocks entries point into, each referenced once; released at a flush. */
    private RamBlock[] held = new RamBlock[4];
    private int heldCount;
    /** The address space's generation the entries belong to. */
    private long generation;
    private long fills;
    private boolean closed;

    /**
     * Creates an empty TLB for one vCPU.
     *
     * @param as the address space the vCPU accesses
     * @param attrs the attributes of its accesses (an IOMMU on the way may translate per attributes)
     * @param fault told of failed accesses, or null to ignore them
     */
    public VcpuTlb(AddressSpace as, MemTxAttrs attrs, AccessFault fault) {
        this.as = Objects.requireNonNull(as, "as");
        this.attrs = Objects.requireNonNull(attrs, "attrs");
        this.fault = fault;
        this.targetBig = as.system().isTargetBigEndian();
        clearEntries();
        this.generation = as.generation();
    }

    /**
     * Where the CPU loop polls its exit request: if the address space's generation moved (any
     * topology change, dirty-logging start or stop, an IOMMU unmap), drops every entry and the block
     * references they held. Allocation-free; a block whose last reference goes is unmapped here.
     *
     * @return whether the TLB was flushed
     */
    public boolean enterBlock() {
        if (as.generation() == generation) {
            return false;
        }
        flush(); // takes the generation it flushes to
        return true;
    }

    /**
     * Drops every entry and the block references they held ({@code tlb_flush}); call it before the
     * vCPU stops running for long, so that RAM unplugged meanwhile is unmapped.
     */
    public void flush() {
        clearEntries();
        generation = as.generation();
        Throwable failed = null;
        for (int i = 0; i < heldCount; i++) {
            RamBlock b = held[i];
            held[i] = null;
            try {
                b.unref();
            } catch (RuntimeException e) { // every block is let go, then the first failure
                failed = ListenerList.merge(failed, e);
            }
        }
        heldCount = 0;
        ListenerList.rethrow(failed);
    }

    /**
     * Flushes; later accesses all take the address space (the TLB keeps no entry any more), and
     * stores to RAM the view makes read-only are still dropped.
     */
    @Override
    public void close() {
        closed = true;
        flush();
    }

    /** @return how many entries were filled (misses that found a direct page); for tests and statistics */
    public long fills() {
        return fills;
    }

    /** @return the blocks the entries hold now */
    public int heldBlocks() {
        return heldCount;
    }

    private void clearEntries() {
        Arrays.fill(readTags, NO_PAGE);
        Arrays.fill(writeTags, NO_PAGE);
        Arrays.fill(pages, NO_PAGE);
        Arrays.fill(loggedTags, NO_PAGE);
        Arrays.fill(ioSections, null); // lets the views they came from go
        Arrays.fill(loggedDirty, null);
    }

    private static int index(long addr) {
        return (int) (addr >>> 12) & MASK;
    }

    // ------------------------------------------------------------------------------------------ loads

    /**
     * @param addr guest address
     * @return the byte, zero-extended
     */
    public int ldub(long addr) {
        int i = index(addr);
        if (readTags[i] == (addr & PAGE_MASK)) {
            return Byte.toUnsignedInt(HOST.get(ValueLayout.JAVA_BYTE, addends[i] + addr));
        }
        return (int) load(addr, 1, false, i);
    }

    /**
     * @param addr guest address
     * @return the little-endian 16-bit value, zero-extended
     */
    public int lduwLe(long addr) {
        int i = index(addr);
        if (readTags[i] == ((addr + 1) & PAGE_MASK)) { // the last byte's page: a crossing access misses
            return Short.toUnsignedInt(HOST.get(U16_LE, addends[i] + addr));
        }
        return (int) load(addr, 2, false, i);
    }

    /**
     * @param addr guest address
     * @return the big-endian 16-bit value, zero-extended
     */
    public int lduwBe(long addr) {
        int i = index(addr);
        if (readTags[i] == ((addr + 1) & PAGE_MASK)) {
            return Short.toUnsignedInt(HOST.get(U16_BE, addends[i] + addr));
        }
        return (int) load(addr, 2, true, i);
    }

    /**
     * @param addr guest address
     * @return the little-endian 32-bit value
     */
    public int ldlLe(long addr) {
        int i = index(addr);
        if (readTags[i] == ((addr + 3) & PAGE_MASK)) {
            return HOST.get(U32_LE, addends[i] + addr);
        }
        return (int) load(addr, 4, false, i);
    }

    /**
     * @param addr guest address
     * @return the big-endian 32-bit value
     */
    public int ldlBe(long addr) {
        int i = index(addr);
        if (readTags[i] == ((addr + 3) & PAGE_MASK)) {
            return HOST.get(U32_BE, addends[i] + addr);
        }
        return (int) load(addr, 4, true, i);
    }

    /**
     * @param addr guest address
     * @return the little-endian 64-bit value
     */
    public long ldqLe(long addr) {
        int i = index(addr);
        if (readTags[i] == ((addr + 7) & PAGE_MASK)) {
            return HOST.get(U64_LE, addends[i] + addr);
        }
        return load(addr, 8, false, i);
    }

    /**
     * @param addr guest address
     * @return the big-endian 64-bit value
     */
    public long ldqBe(long addr) {
        int i = index(addr);
        if (readTags[i] == ((addr + 7) & PAGE_MASK)) {
            return HOST.get(U64_BE, addends[i] + addr);
        }
        return load(addr, 8, true, i);
    }

    /**
     * @param addr guest address
     * @return the 16-bit value in the target's order, zero-extended
     */
    public int lduw(long addr) {
        return targetBig ? lduwBe(addr) : lduwLe(addr);
    }

    /**
     * @param addr guest address
     * @return the 32-bit value in the target's order
     */
    public int ldl(long addr) {
        return targetBig ? ldlBe(addr) : ldlLe(addr);
    }

    /**
     * @param addr guest address
     * @return the 64-bit value in the target's order
     */
    public long ldq(long addr) {
        return targetBig ? ldqBe(addr) : ldqLe(addr);
    }

    // ----------------------------------------------------------------------------------------- stores

    /**
     * @param addr guest address
     * @param v the byte (low 8 bits)
     */
    public void stb(long addr, int v) {
        int i = index(addr);
        long tag = addr & PAGE_MASK;
        if (writeTags[i] == tag) {
            HOST.set(ValueLayout.JAVA_BYTE, addends[i] + addr, (byte) v);
            return;
        }
        if (loggedHit(i, tag)) {
            HOST.set(ValueLayout.JAVA_BYTE, addends[i] + addr, (byte) v);
            logged(i, addr, 1);
            return;
        }
        store(addr, 1, false, v, i);
    }

    /**
     * @param addr guest address
     * @param v the value (low 16 bits), stored little-endian
     */
    public void stwLe(long addr, int v) {
        int i = index(addr);
        long tag = (addr + 1) & PAGE_MASK;
        if (writeTags[i] == tag) {
            HOST.set(U16_LE, addends[i] + addr, (short) v);
            return;
        }
        if (loggedHit(i, tag)) {
            HOST.set(U16_LE, addends[i] + addr, (short) v);
            logged(i, addr, 2);
            return;
        }
        store(addr, 2, false, v, i);
    }

    /**
     * @param addr guest address
     * @param v the value (low 16 bits), stored big-endian
     */
    public void stwBe(long addr, int v) {
        int i = index(addr);
        long tag = (addr + 1) & PAGE_MASK;
        if (writeTags[i] == tag) {
            HOST.set(U16_BE, addends[i] + addr, (short) v);
            return;
        }
        if (loggedHit(i, tag)) {
            HOST.set(U16_BE, addends[i] + addr, (short) v);
            logged(i, addr, 2);
            return;
        }
        store(addr, 2, true, v, i);
    }

    /**
     * @param addr guest address
     * @param v the value, stored little-endian
     */
    public void stlLe(long addr, int v) {
        int i = index(addr);
        long tag = (addr + 3) & PAGE_MASK;
        if (writeTags[i] == tag) {
            HOST.set(U32_LE, addends[i] + addr, v);
            return;
        }
        if (loggedHit(i, tag)) {
            HOST.set(U32_LE, addends[i] + addr, v);
            logged(i, addr, 4);
            return;
        }
        store(addr, 4, false, v, i);
    }

    /**
     * @param addr guest address
     * @param v the value, stored big-endian
     */
    public void stlBe(long addr, int v) {
        int i = index(addr);
        long tag = (addr + 3) & PAGE_MASK;
        if (writeTags[i] == tag) {
            HOST.set(U32_BE, addends[i] + addr, v);
            return;
        }
        if (loggedHit(i, tag)) {
            HOST.set(U32_BE, addends[i] + addr, v);
            logged(i, addr, 4);
            return;
        }
        store(addr, 4, true, v, i);
    }

    /**
     * @param addr guest address
     * @param v the value, stored little-endian
     */
    public void stqLe(long addr, long v) {
        int i = index(addr);
        long tag = (addr + 7) & PAGE_MASK;
        if (writeTags[i] == tag) {
            HOST.set(U64_LE, addends[i] + addr, v);
            return;
        }
        if (loggedHit(i, tag)) {
            HOST.set(U64_LE, addends[i] + addr, v);
            logged(i, addr, 8);
            return;
        }
        store(addr, 8, false, v, i);
    }

    /**
     * @param addr guest address
     * @param v the value, stored big-endian
     */
    public void stqBe(long addr, long v) {
        int i = index(addr);
        long tag = (addr + 7) & PAGE_MASK;
        if (writeTags[i] == tag) {
            HOST.set(U64_BE, addends[i] + addr, v);
            return;
        }
        if (loggedHit(i, tag)) {
            HOST.set(U64_BE, addends[i] + addr, v);
            logged(i, addr, 8);
            return;
        }
        store(addr, 8, true, v, i);
    }

    /**
     * @param addr guest address
     * @param v the value (low 16 bits), in the target's order
     */
    public void stw(long addr, int v) {
        if (targetBig) {
            stwBe(addr, v);
        } else {
            stwLe(addr, v);
        }
    }

    /**
     * @param addr guest address
     * @param v the value, in the target's order
     */
    public void stl(long addr, int v) {
        if (targetBig) {
            stlBe(addr, v);
        } else {
            stlLe(addr, v);
        }
    }

    /**
     * @param addr guest address
     * @param v the value, in the target's order
     */
    public void stq(long addr, long v) {
        if (targetBig) {
            stqBe(addr, v);
        } else {
            stqLe(addr, v);
        }
    }

    // -------------------------------------------------------------------------------------- slow path

    /** A miss: refill the entry if the access stays in one page, then retry directly or take the space. */
    private long load(long addr, int size, boolean big, int i) {
        long page = addr & PAGE_MASK;
        if (((addr + size - 1) & PAGE_MASK) == page) {
            if (pages[i] != page || closed) { // closed: as for stores, the page's decisions are taken anew each time
                refill(addr, i);
                if (readTags[i] == page) {
                    return direct(addends[i] + addr, size, big);
                }
            }
            PhysSection io = ioSections[i]; // the entry is this page's now (an io entry is never a subpage page's)
            if (io != null && (addr & (size - 1)) == 0 && as.generation() == generation) { // io_readx, current view
                return reportLoad(as.ioLoad(io, addr, size, big, attrs, result), addr, size);
            }
        }
        return loadElse(addr, size, big, i);
    }

    /**
     * The rest of a miss, apart from {@link #load} so that C2 keeps inlining that into the caller's
     * loop (it stopped, "already compiled into a big method", and a device read through an io entry
     * went from 15.4 to 19.5 ns): across two pages, unaligned or on a subpage page, TCG's pieces;
     * else the space's load, whole. Entry {@code i} is the page's for an access on one page.
     */
    private long loadElse(long addr, int size, boolean big, int i) {
        long page = addr & PAGE_MASK;
        if (((addr + size - 1) & PAGE_MASK) != page) {
            if (page + GuestTlb.PAGE_SIZE != 0) { // (an access wrapping past 2^64 takes the space: an error)
                return loadAcross(addr, size, big);
            }
        } else if ((addr & (size - 1)) != 0 || (flags[i] & SUBPAGE) != 0) { // (a subpage page: one piece if aligned)
            return inOrder(loadPartBe(addr, size, 0), size, big);
        }
        return reportLoad(spaceLoad(addr, size, big), addr, size);
    }

    /** {@code size} bytes collected big-endian (first byte highest), read in the access's byte order. */
    private static long inOrder(long be, int size, boolean big) {
        return big ? be : Long.reverseBytes(be) >>> (64 - 8 * size);
    }

    /** A value in the access's byte order as its {@code size} bytes in memory order, the first in the low byte. */
    private static long littleEndian(long v, int size, boolean big) {
        return big ? Long.reverseBytes(v) >>> (64 - 8 * size) : v;
    }

    /**
     * A load across two pages, as TCG makes it ({@code do_ld_beN} on each page): each page's bytes
     * from that page alone, then joined. A page its entry lets loads use directly gives its bytes
     * from host memory; any other page gives them in naturally aligned pieces through the address
     * space ({@code int_ld_mmio_beN}: {@code 1 << ctz(left | addr | 8)} bytes; a device sees each
     * piece as one access of that size, each failed piece is reported), never as one access to the
     * first byte's region.
     */
    private long loadAcross(long addr, int size, boolean big) {
        long second = (addr & PAGE_MASK) + GuestTlb.PAGE_SIZE;
        int first = (int) (second - addr);
        long be = loadPartBe(addr, first, 0);
        return inOrder(loadPartBe(second, size - first, be), size, big);
    }

    /**
     * {@code n} bytes at {@code addr}, all on one page, appended big-endian to {@code be}: from host
     * memory if the page's entry lets loads use it directly, else in naturally aligned pieces
     * through the address space (on a subpage page each by the buffer rules: {@link #subpageLoad}).
     * Used for a page's part of a crossing access, for an unaligned access to a page loads cannot
     * use directly (TCG's {@code do_ld_mmio_beN} splits every MMIO access so: a device never sees an
     * unaligned access from a vCPU), and for any access to a subpage page.
     */
    private long loadPartBe(long addr, int n, long be) {
        long page = addr & PAGE_MASK;
        int i = index(addr);
        if (pages[i] != page || closed) { // (closed: taken anew each time, as in load and storePartLe)
            refill(addr, i);
        }
        if (readTags[i] == page) {
            long host = addends[i] + addr;
            for (int k = 0; k < n; k++) {
                be = be << 8 | Byte.toUnsignedLong(HOST.get(ValueLayout.JAVA_BYTE, host + k));
            }
            return be;
        }
        boolean subpage = (flags[i] & SUBPAGE) != 0;
        long a = addr;
        for (int left = n; left > 0; ) {
            int piece = Integer.lowestOneBit(left | (int) a | 8);
            long v = subpage ? subpageLoad(a, piece) : reportLoad(spaceLoad(a, piece, true), a, piece);
            be = piece == 8 ? v : be << (8 * piece) | v & ((1L << (8 * piece)) - 1); // (a 4-byte load comes sign-extended)
            a += piece;
            left -= piece;
        }
        return be;
    }

    /** The address space's load (kept apart so {@link #load} stays small enough for C2 to inline). */
    private long spaceLoad(long addr, int size, boolean big) {
        return switch (size) {
            case 1 -> as.ldub(addr, attrs, result);
            case 2 -> big ? as.lduwBe(addr, attrs, result) : as.lduwLe(addr, attrs, result);
            case 4 -> big ? as.ldlBe(addr, attrs, result) : as.ldlLe(addr, attrs, result);
            default -> big ? as.ldqBe(addr, attrs, result) : as.ldqLe(addr, attrs, result);
        };
    }

    /** Tells the fault handler of a load that did not complete with {@code OK}; returns {@code v}. */
    private long reportLoad(long v, long addr, int size) {
        if (result.get() != MemTxResult.OK && fault != null) {
            fault.failed(addr, size, false, result.get());
        }
        return v;
    }

    private static long direct(long host, int size, boolean big) {
        return switch (size) {
            case 1 -> Byte.toUnsignedInt(HOST.get(ValueLayout.JAVA_BYTE, host));
            case 2 -> Short.toUnsignedInt(HOST.get(big ? U16_BE : U16_LE, host));
            case 4 -> HOST.get(big ? U32_BE : U32_LE, host);
            default -> HOST.get(big ? U64_BE : U64_LE, host);
        };
    }

    /** A store miss: as a load miss, but a page the view makes read-only RAM drops the store (TCG). */
    private void store(long addr, int size, boolean big, long v, int i) {
        long page = addr & PAGE_MASK;
        if (((addr + size - 1) & PAGE_MASK) == page) {
            if (pages[i] != page || closed) { // closed: no flush follows, so the flags are taken anew each time
                refill(addr, i);
            }
            if (writeTags[i] == page) {
                directStore(addends[i] + addr, size, big, v);
                return;
            }
            if (loggedHit(i, page)) {
                directStore(addends[i] + addr, size, big, v);
                logged(i, addr, size);
                return;
            }
            if (pages[i] == page && (flags[i] & GuestTlb.TLB_DISCARD_WRITE) != 0) {
                return; // ROM or RAM under a read-only alias: TCG drops CPU stores
            }
            PhysSection io = ioSections[i];
            if (io != null && pages[i] == page && (addr & (size - 1)) == 0 && as.generation() == generation) {
                reportStore(as.ioStore(io, addr, size, big, v, attrs), addr, size); // io_writex, current view
                return;
            }
        }
        storeElse(addr, size, big, v, i);
    }

    /** Whether entry {@code i} is a logged one for page {@code tag} of the current view. */
    private boolean loggedHit(int i, long tag) {
        return loggedTags[i] == tag && as.generation() == generation; // (a newer view: the space's rules)
    }

    /**
     * After a store of {@code size} bytes at {@code addr} into the page of logged entry {@code i}:
     * nothing more while the clean epoch is the one at which the page was last seen dirty for every
     * client of its mask (read after the store, as {@link DirtyMemory#invalidateAndSetDirty} reads
     * it: a clear that started before then has moved it), else TCG's {@code notdirty_write}: the
     * marking, code invalidation included, then the page's epoch again if it is now dirty for all.
     * Then, as the space's store path re-reads its window, the view: if one was published meanwhile,
     * the bytes are marked for every client.
     */
    private void logged(int i, long addr, int size) {
        DirtyMemory d = loggedDirty[i];
        if (DirtyMemory.writersFence()) {
            VarHandle.fullFence(); // no membarrier for the clearer: order the store before the epoch's read
        }
        long e = d.cleanEpoch();
        if (e != loggedEpochs[i]) {
            loggedEpochs[i] = NO_EPOCH;
            long page = loggedRamAddrs[i];
            d.invalidateAndSetDirty(page + (addr & ~PAGE_MASK), size, loggedMasks[i]);
            if ((e & 1) == 0 && d.allDirty(page, GuestTlb.PAGE_SIZE, loggedMasks[i]) && d.validateCleanEpoch(e)) {
                loggedEpochs[i] = e;
            }
        }
        if (as.generation() != generation) {
            // A view was published during the store (a client may have started logging the page, with
            // a mask this entry does not know): mark it for every client, as QEMU's notdirty_write
            // marks whatever the mask, where the space's store marks with the region's new mask.
            loggedEpochs[i] = NO_EPOCH;
            d.invalidateAndSetDirty(loggedRamAddrs[i] + (addr & ~PAGE_MASK), size, DirtyMemory.DIRTY_CLIENTS_ALL);
        }
    }

    private static void directStore(long host, int size, boolean big, long v) {
        switch (size) {
            case 1 -> HOST.set(ValueLayout.JAVA_BYTE, host, (byte) v);
            case 2 -> HOST.set(big ? U16_BE : U16_LE, host, (short) v);
            case 4 -> HOST.set(big ? U32_BE : U32_LE, host, (int) v);
            default -> HOST.set(big ? U64_BE : U64_LE, host, v);
        }
    }

    /** The rest of a store miss, apart from {@link #store} as {@link #loadElse} is from {@link #load}. */
    private void storeElse(long addr, int size, boolean big, long v, int i) {
        long page = addr & PAGE_MASK;
        if (((addr + size - 1) & PAGE_MASK) != page) {
            if (page + GuestTlb.PAGE_SIZE != 0) { // (an access wrapping past 2^64 takes the space: an error)
                storeAcross(addr, size, big, v);
                return;
            }
        } else if ((addr & (size - 1)) != 0 || (flags[i] & SUBPAGE) != 0) { // (a subpage page: one piece if aligned)
            storePartLe(addr, size, littleEndian(v, size, big));
            return;
        }
        reportStore(spaceStore(addr, size, big, v), addr, size);
    }

    /** The address space's store, the counterpart of {@link #spaceLoad}. */
    private int spaceStore(long addr, int size, boolean big, long v) {
        return switch (size) {
            case 1 -> as.stb(addr, (int) v, attrs);
            case 2 -> big ? as.stwBe(addr, (int) v, attrs) : as.stwLe(addr, (int) v, attrs);
            case 4 -> big ? as.stlBe(addr, (int) v, attrs) : as.stlLe(addr, (int) v, attrs);
            default -> big ? as.stqBe(addr, v, attrs) : as.stqLe(addr, v, attrs);
        };
    }

    /** Tells the fault handler of a store whose result {@code r} is not {@code OK}. */
    private void reportStore(int r, long addr, int size) {
        if (r != MemTxResult.OK && fault != null) {
            fault.failed(addr, size, true, r);
        }
    }

    /**
     * A store across two pages, as TCG makes it ({@code do_st_leN} on each page): each page's bytes
     * to that page alone. A page its entry lets stores use directly takes its bytes in host memory, a
     * page the view makes read-only RAM drops them, any other page takes them in naturally aligned
     * pieces through the address space ({@code int_st_mmio_leN}; each failed piece is reported).
     */
    private void storeAcross(long addr, int size, boolean big, long v) {
        long second = (addr & PAGE_MASK) + GuestTlb.PAGE_SIZE;
        int first = (int) (second - addr);
        long le = storePartLe(addr, first, littleEndian(v, size, big));
        storePartLe(second, size - first, le);
    }

    /**
     * Stores the low {@code n} bytes of {@code le} at {@code addr} (all on one page) and returns the
     * bytes left: into host memory if the page's entry lets stores use it directly, nowhere if the
     * page drops stores, else in naturally aligned pieces through the address space
     * ({@code do_st_mmio_leN}; on a subpage page each by the buffer rules: {@link #subpageStore}).
     */
    private long storePartLe(long addr, int n, long le) {
        long page = addr & PAGE_MASK;
        int i = index(addr);
        if (pages[i] != page || closed) {
            refill(addr, i);
        }
        if (writeTags[i] == page) {
            long host = addends[i] + addr;
            for (int k = 0; k < n; k++) {
                HOST.set(ValueLayout.JAVA_BYTE, host + k, (byte) le);
                le >>>= 8;
            }
            return le;
        }
        if ((flags[i] & GuestTlb.TLB_DISCARD_WRITE) != 0) {
            return le >>> (8 * n);
        }
        boolean subpage = (flags[i] & SUBPAGE) != 0;
        long a = addr;
        for (int left = n; left > 0; ) {
            int piece = Integer.lowestOneBit(left | (int) a | 8);
            reportStore(subpage ? subpageStore(a, piece, le) : spaceStore(a, piece, false, le), a, piece);
            le = piece == 8 ? 0 : le >>> (8 * piece);
            a += piece;
            left -= piece;
        }
        return le;
    }

    /**
     * QEMU's {@code subpage_read} of one piece: the whole piece refused ({@code DECODE_ERROR}, 0) unless
     * the view accepts it ({@code flatview_access_valid}: every chunk valid for its region), else read
     * by the buffer rules ({@code flatview_read}: RAM copied, each device chunk as its sizes allow);
     * a piece that failed gives 0. Reports a failure; returns the bytes big-endian.
     */
    private long subpageLoad(long a, int n) {
        int r = MemTxResult.DECODE_ERROR;
        long be = 0;
        if (as.accessValid(a, n, false, attrs)) {
            r = as.read(a, attrs, pieceBytes, 0, n);
            for (int k = 0; k < n && r == MemTxResult.OK; k++) {
                be = be << 8 | (pieceBytes[k] & 0xFF);
            }
        }
        if (r != MemTxResult.OK && fault != null) {
            fault.failed(a, n, false, r);
        }
        return be;
    }

    /** QEMU's {@code subpage_write} of one piece (its bytes the low {@code n} of {@code le}), as {@link #subpageLoad}. */
    private int subpageStore(long a, int n, long le) {
        if (!as.accessValid(a, n, true, attrs)) {
            return MemTxResult.DECODE_ERROR;
        }
        for (int k = 0; k < n; k++) {
            pieceBytes[k] = (byte) (le >>> (8 * k));
        }
        return as.write(a, attrs, pieceBytes, 0, n);
    }

    /**
     * Fills entry {@code i} for {@code addr}'s page: its flags always (slow stores read them), its
     * tags only for a direct page of the current generation whose block is referenced here.
     */
    private void refill(long addr, int i) {
        readTags[i] = NO_PAGE;
        writeTags[i] = NO_PAGE;
        loggedTags[i] = NO_PAGE;
        ioSections[i] = null;
        loggedDirty[i] = null;
        boolean readable = GuestTlb.fill(as, addr, attrs, scratch);
        pages[i] = scratch.pageAddr(); // the current map's flags decide slow stores either way
        flags[i] = scratch.flags() | (scratch.subpage() ? SUBPAGE : 0);
        ioSections[i] = closed || scratch.generation() != generation ? null : scratch.ioSection();
        if (closed || !readable || scratch.generation() != generation || !hold(scratch.ramBlock)) {
            return; // (closed: never direct again; a newer map: direct only after the next enterBlock's flush)
        }
        addends[i] = scratch.segment().address() + scratch.hostOffset() - scratch.pageAddr();
        readTags[i] = scratch.pageAddr();
        fills++;
        if ((scratch.ramBlock.flags() & RamFlags.READONLY) != 0) {
            return; // (a PROT_READ block is never written directly; checked again: a store there is a SIGSEGV)
        }
        if (scratch.writeDirect()) {
            writeTags[i] = scratch.pageAddr();
        } else if (scratch.flags() == GuestTlb.TLB_NOTDIRTY) {
            fillLogged(i, scratch.window(), scratch.pageAddr()); // only the dirty log keeps stores off it
        }
    }

    /**
     * Makes entry {@code i} a logged one if window {@code w} lets stores write page {@code page}
     * directly when they then mark it: its logged slice holds the page (RAM the view lets the CPU
     * write, reached with write permission).
     */
    private void fillLogged(int i, DirectWindow w, long page) {
        long off = page - w.start();
        long size = w.loggedWrite().byteSize();
        if (w.dirtyMemory() != null && size >= GuestTlb.PAGE_SIZE
                && Long.compareUnsigned(off, size - GuestTlb.PAGE_SIZE) <= 0) {
            loggedTags[i] = page;
            loggedDirty[i] = w.dirtyMemory();
            loggedRamAddrs[i] = w.ramAddr() + off;
            loggedMasks[i] = w.dirtyMask();
            loggedEpochs[i] = NO_EPOCH;
        }
    }

    /** References {@code b} once for this TLB; false if it cannot be (caller-owned, released, none). */
    private boolean hold(RamBlock b) {
        if (b == null || (b.flags() & RamFlags.PREALLOC) != 0) {
            return false;
        }
        for (int k = 0; k < heldCount; k++) {
            if (held[k] == b) {
                return true;
            }
        }
        if (!b.tryRef()) {
            return false; // being released: its memory may go at any moment
        }
        if (heldCount == held.length) {
            held = Arrays.copyOf(held, heldCount * 2);
        }
        held[heldCount++] = b;
        return true;
    }
}
