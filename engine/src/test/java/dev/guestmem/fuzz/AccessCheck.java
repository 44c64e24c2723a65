package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.testing.RenderOracle;
import dev.guestmem.testing.RenderOracle.Served;
import java.util.ArrayList;
import java.util.List;

/**
 * One guest access of {@link FuzzOp.Access}, checked against the RAM model and the oracle's answer
 * for each byte (QEMU's rules: RAM reads and writes its block; a ROM, or a RAM region marked
 * read-only itself, refuses writes with {@code DECODE_ERROR}; read-only inherited from an enclosing
 * region or alias does not stop the address space's writes; a device reads its ops; nothing there is
 * {@code DECODE_ERROR} and reads 0; an access whose end wraps past 2^64 is refused whole). An ld/st
 * goes whole to the section it starts in: a device takes it whole, RAM answers {@code DECODE_ERROR}
 * and changes nothing if it leaves its section. A buffer access goes in QEMU's chunks: RAM to the
 * end of its section; a device, nothing, and a ROM device's ops in {@code memory_access_size}
 * chunks that may run past the region's end; a ROM device's ROMD-mode read on in its block past its
 * section (a ROM device is no RAM region, so QEMU does not clamp it); every IOMMU clamps to its page.
 * Inside an open transaction only reads are made (the published view lags the tree) and only their
 * not throwing is checked.
 */
final class AccessCheck {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    /** How a byte behaves. */
    enum Kind {
        UNASSIGNED, RAM, ROM, ROMD, DEVICE,
        /** A RAM kind's offset past its block (grown by {@code setSize}): a decode error read as 0. */
        PAST,
        /** The same in a ROMD-mode ROM device: reads as {@link #PAST}, writes go to the ops. */
        ROMD_PAST,
        UNKNOWN
    }

    /**
     * What the model expects of one byte: its kind, its block and offset for the RAM kinds (for
     * nothing, its address in the space that has nothing there), its flat range in the view the
     * access starts in, how many bytes are left in the IOMMU pages it was translated through
     * ({@link Long#MAX_VALUE} without an IOMMU) and in the flat range that serves it at last (a RAM
     * chunk's bound; {@link Long#MAX_VALUE} for 2^64).
     */
    record Expect(Kind kind, RamBlock block, long offset, int range, long pageLeft, long rangeLeft) {
        Expect(Kind kind, RamBlock block, long offset, int range, long rangeLeft) {
            this(kind, block, offset, range, Long.MAX_VALUE, rangeLeft);
        }

        boolean viaIommu() {
            return pageLeft != Long.MAX_VALUE;
        }
    }



    private AccessCheck() {
    }

    /**
     * Makes the access and checks it.
     *
     * @param m the machine
     * @param a the access
     */
    static void run(FuzzMachine m, FuzzOp.Access a) {
        AddressSpace as = m.space(a.space());
        FlatView view = as.currentMap();
        long addr = m.nearCode(a.point(), a.delta(), pointOf(as, a.point(), a.delta()));
        int kind = a.kind() % 4;
        boolean atRest = m.sys.transactionDepth() == 0;
        if (!atRest) {
            kind &= ~1; // reads only
        }
        MemoryRegion key = key(m, as);
        String where = FuzzStep.where(m) + " at 0x" + Long.toHexString(addr);
        try {
            switch (kind) {
                case 0, 1 -> ldst(m, as, view, key, addr, 1 << (a.size() % 4), kind == 1, a.big(), a.data(), atRest,
                        where);
                default -> buffer(m, as, key, addr, 1 + a.size() % 32, kind == 3, a.data(), atRest, where);
            }
        } catch (RuntimeException e) {
            throw new AssertionError(where + ": an access threw " + e, e);
        }
    }

    /**
     * @param as a space
     * @param point selects one of {@link FuzzStep#points} of its published view
     * @param delta moves it by -8..8
     * @return the address
     */
    static long pointOf(AddressSpace as, int point, int delta) {
        List<Long> points = new ArrayList<>(FuzzStep.points(as.currentMap().ranges()));
        return points.get(point % points.size()) + (delta % 17) - 8;
    }

    /**
     * A point for the calls that keep state (TLB fills, caches, DMA maps): three times in four inside
     * a range of the space's view, at a page or a few bytes from its start; else as {@link #pointOf}.
     *
     * @param as a space
     * @param point selects a range (or a point of {@link #pointOf})
     * @param delta selects the place in it
     * @return the address
     */
    static long mappedPoint(AddressSpace as, int point, int delta) {
        List<dev.guestmem.flat.FlatRange> ranges = as.currentMap().ranges();
        if (ranges.isEmpty() || point % 4 == 3) {
            return pointOf(as, point / 4, delta);
        }
        dev.guestmem.flat.FlatRange r = ranges.get((point / 4) % ranges.size());
        long into = (delta % 8) * 0x1000L + (delta / 8) % 3 * 0xffcL; // page starts, and bytes before a page end
        long size = r.last() - r.start() + 1; // 0 for 2^64
        return r.start() + (size == 0 || Long.compareUnsigned(into, size) < 0 ? into : Long.remainderUnsigned(into, size));
    }

    /**
     * @param m the machine
     * @param as a space
     * @return the root of its view for the oracle, null once it is destroyed
     */
    static MemoryRegion key(FuzzMachine m, AddressSpace as) {
        boolean live = m.sys.addressSpaces().stream().anyMatch(l -> l == as);
        return live ? FlatViewRoots.of(as.root()) : null;
    }

    /** What the model expects of the byte at {@code addr} of the view {@code key} roots, published as {@code view}. */
    static Expect classify(FuzzMachine m, MemoryRegion key, FlatView view, long addr) {
        return classify(m, key, view, view.lookup(addr), addr, 0);
    }

    /**
     * @param key the root of the view {@code addr} is in (its tree, for the oracle)
     * @param view that view as published (at rest, equal to the oracle's)
     * @param range the flat range of the byte in the view the access starts in
     * @param depth IOMMUs passed so far
     */
    private static Expect classify(FuzzMachine m, MemoryRegion key, FlatView view, int range, long addr, int depth) {
        Served s = RenderOracle.serve(key, addr);
        int here = view.lookup(addr);
        long rangeLeft = here < 0 ? Long.MAX_VALUE : view.range(here).last() - addr + 1;
        if (rangeLeft <= 0) {
            rangeLeft = Long.MAX_VALUE; // 2^64 or more than 2^63: no bound for a chunk of a few bytes
        }
        if (s == null) {
            return new Expect(Kind.UNASSIGNED, null, addr, range, rangeLeft); // the unassigned section's offset: the address
        }
        MemoryRegion r = s.region();
        if (r instanceof IommuRegion) {
            if (depth == IommuRegion.MAX_CHAIN) {
                // one IOMMU more than a walk may pass: taken as a cycle, the unassigned section
                return new Expect(Kind.UNASSIGNED, null, s.offset(), range, rangeLeft);
            }
            // FuzzMachine's model: the same address of its target space, one 4 KiB page at a time.
            // As QEMU, only the page bounds what follows: a page past the IOMMU region's end runs on.
            AddressSpace target = m.iommuTarget();
            boolean live = m.sys.addressSpaces().stream().anyMatch(l -> l == target);
            Expect b = classify(m, live ? FlatViewRoots.of(target.root()) : null,
                    live ? target.currentMap() : m.sys.emptyView(), range, s.offset(), depth + 1);
            long left = FuzzMachine.PAGE_MASK + 1 - (s.offset() & FuzzMachine.PAGE_MASK);
            return new Expect(b.kind(), b.block(), b.offset(), range, Math.min(left, b.pageLeft()), b.rangeLeft());
        }
        RamBlock b = r.ramBlock();
        boolean inBlock = b != null && Long.compareUnsigned(s.offset(), b.usedLength()) < 0;
        long left = rangeLeft;
        return switch (r) {
            case RamRegion rr when inBlock && !rr.isRamDevice() ->
                    new Expect(rr.isReadonly() ? Kind.ROM : Kind.RAM, b, s.offset(), range, left);
            case RamRegion rr when !rr.isRamDevice() -> new Expect(Kind.PAST, null, 0, range, left);
            case RomDeviceRegion rd when !rd.isRomd() -> new Expect(Kind.DEVICE, null, 0, range, left);
            case RomDeviceRegion rd -> new Expect(inBlock ? Kind.ROMD : Kind.ROMD_PAST, b, s.offset(), range, left);
            case IoRegion io -> new Expect(Kind.DEVICE, null, 0, range, left);
            default -> new Expect(Kind.UNKNOWN, null, 0, range, left);
        };
    }

    private static boolean wraps(long addr, int n) {
        return Long.compareUnsigned(addr, -n) > 0;
    }

    private static void ldst(FuzzMachine m, AddressSpace as, FlatView view, MemoryRegion key, long addr, int n,
                             boolean store, boolean big, long data, boolean atRest, String where) {
        long value = n == 8 ? data : data & ((1L << (8 * n)) - 1);
        where += (store ? " st" : " ld") + n + (big ? "be" : "le") + (store ? " 0x" + Long.toHexString(value) : "");
        MemTxResultHolder res = new MemTxResultHolder();
        int result;
        long got = 0;
        if (store) {
            result = store(as, addr, n, big, value);
        } else {
            got = load(as, addr, n, big, res);
            result = res.get();
        }
        if (!atRest) {
            return;
        }
        check(expect(m, view, key, addr, n, store, big, value, result), store, got, result, where);
    }

    /**
     * Checks an ld/st's outcome against {@link #expect}'s answer.
     *
     * @param expect {value, result}, or null when the model does not know
     */
    static void check(long[] expect, boolean store, long got, int result, String where) {
        if (expect != null) {
            assertEquals(MemTxResult.toString((int) expect[1]), MemTxResult.toString(result), where);
            if (!store && expect[1] == MemTxResult.OK) {
                assertEquals(Long.toHexString(expect[0]), Long.toHexString(got), where);
            }
        }
    }

    /**
     * What an ld/st of the address space at rest gives on the view published now, as the model
     * says; a store's bytes that reach RAM are recorded in the models ({@link FuzzMachine#wrote}).
     *
     * @param value the value stored (its low {@code n} bytes)
     * @param result what the access answered (where the model cannot say whether a store landed,
     *     it takes the answer's word: an OK store landed)
     * @return {value, result}, or null where the model does not know
     */
    static long[] expect(FuzzMachine m, FlatView view, MemoryRegion key, long addr, int n, boolean store,
                         boolean big, long value, int result) {
        if (wraps(addr, n)) {
            return new long[] {0, MemTxResult.DECODE_ERROR};
        }
        List<Expect> bytes = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            bytes.add(classify(m, key, view, addr + k));
        }
        Expect first = bytes.getFirst();
        if (first.viaIommu()) {
            // Translated whole from its first byte (what the view shows after it does not matter):
            // a store lands only whole, in RAM, inside the IOMMU page, the RAM section and the block.
            boolean fits = first.kind() == Kind.RAM && n <= Math.min(first.pageLeft(), first.rangeLeft())
                    && n <= first.block().usedLength() - first.offset();
            if (store && result == MemTxResult.OK && fits) {
                for (int k = 0; k < n; k++) {
                    m.wrote(first.block(), first.offset() + k, (byte) (value >>> (8 * (big ? n - 1 - k : k))));
                }
            }
            return null;
        }
        boolean oneRange = bytes.stream().allMatch(b -> b.range() == first.range() && b.kind() == first.kind());
        boolean onePage = (addr >>> 12) == ((addr + n - 1) >>> 12);
        boolean whole = oneRange && onePage;
        long[] expect = null; // {value, result}
        switch (first.kind()) {
            case UNASSIGNED -> expect = new long[] {0, MemTxResult.DECODE_ERROR};
            case DEVICE -> expect = new long[] {store ? 0 : deviceValue(n), MemTxResult.OK};
            case RAM, ROM -> {
                if (whole && (!store || first.kind() == Kind.RAM)) {
                    if (store) {
                        for (int k = 0; k < n; k++) {
                            m.wrote(first.block(), first.offset() + k, (byte) (value >>> (8 * (big ? n - 1 - k : k))));
                        }
                        expect = new long[] {0, MemTxResult.OK};
                    } else {
                        expect = new long[] {modelValue(m, first, n, big), MemTxResult.OK};
                    }
                } else if (whole || oneRange) {
                    // a ROM store, or one crossing a page inside a range (whole pages may be one section)
                    expect = whole ? new long[] {0, MemTxResult.DECODE_ERROR} : null;
                    if (!whole && store && first.kind() == Kind.RAM && result == MemTxResult.OK) {
                        for (int k = 0; k < n; k++) {
                            m.wrote(first.block(), first.offset() + k, (byte) (value >>> (8 * (big ? n - 1 - k : k))));
                        }
                    }
                } else {
                    expect = new long[] {0, MemTxResult.DECODE_ERROR}; // leaves its section: refused
                }
            }
            case ROMD -> {
                if (store) {
                    expect = new long[] {0, MemTxResult.OK};
                } else if (whole) {
                    expect = new long[] {modelValue(m, first, n, big), MemTxResult.OK};
                }
            }
            case PAST, ROMD_PAST, UNKNOWN -> { }
        }
        return expect;
    }

    private static long deviceValue(int n) {
        return n == 8 ? 0x5a5a5a5a5a5a5a5aL : 0x5a5a5a5a5a5a5a5aL & ((1L << (8 * n)) - 1);
    }

    private static long modelValue(FuzzMachine m, Expect first, int n, boolean big) {
        long v = 0;
        for (int k = 0; k < n; k++) {
            v |= (long) m.ram.get(first.block(), first.offset() + k) << (8 * (big ? n - 1 - k : k));
        }
        return v;
    }

    private static void buffer(FuzzMachine m, AddressSpace as, MemoryRegion key, long addr, int len, boolean write,
                               long seed, boolean atRest, String where) {
        byte[] buf = new byte[len];
        new java.util.Random(seed).nextBytes(buf);
        if (!atRest) {
            int ignored = write ? as.write(addr, U, buf, 0, len) : as.read(addr, U, buf, 0, len);
            return;
        }
        buffer(m, as, key, addr, buf, write, b -> write ? as.write(addr, U, b, 0, len) : as.read(addr, U, b, 0, len),
                where);
    }

    /**
     * Makes a buffer access at rest and checks its bytes and result against the model, as
     * {@code AddressSpace.read}/{@code write} of the view published now would make it (also what a
     * DMA bounce buffer's prefill and write-back do).
     *
     * @param buf the bytes to write, or the buffer to read into (random bytes the read must replace)
     * @param access makes the access with {@code buf} and returns its result
     */
    static void buffer(FuzzMachine m, AddressSpace as, MemoryRegion key, long addr, byte[] buf, boolean write,
                       java.util.function.ToIntFunction<byte[]> access, String where) {
        int len = buf.length;
        where += (write ? " write " : " read ") + len;
        byte[] sent = buf.clone();
        FlatView view = as.currentMap();
        int result = access.applyAsInt(buf);
        if (wraps(addr, len)) {
            assertEquals(MemTxResult.toString(MemTxResult.DECODE_ERROR), MemTxResult.toString(result), where + " wraps");
            return;
        }
        int want = MemTxResult.OK;
        boolean known = true;
        // flatview_read/write_continue: RAM chunks stop at their section; MMIO and unassigned chunks
        // are memory_access_size long from where they start and may run past the region's end
        for (int k = 0; k < len; ) {
            Expect b = classify(m, key, view, addr + k);
            int chunk = 1;
            Kind kind = b.kind() == Kind.ROMD_PAST ? (write ? Kind.DEVICE : Kind.PAST) : b.kind();
            switch (kind) {
                case UNASSIGNED -> {
                    chunk = chunk(clamp(len - k, b), 4, b.offset());
                    want |= MemTxResult.DECODE_ERROR;
                    for (int j = k; j < k + chunk && !write; j++) {
                        assertEquals(0, buf[j], where + " byte " + j + " of nothing");
                    }
                }
                case RAM, ROM -> {
                    // one direct copy to the end of the section (and page, and block), the RAM's bytes
                    chunk = (int) Math.min(Math.min(clamp(len - k, b), b.rangeLeft()), b.block().usedLength() - b.offset());
                    for (int j = 0; j < chunk; j++) {
                        if (!write) {
                            assertEquals(m.ram.get(b.block(), b.offset() + j), buf[k + j] & 0xFF, where + " byte " + (k + j));
                        } else if (b.kind() == Kind.RAM) {
                            m.wrote(b.block(), b.offset() + j, sent[k + j]);
                        } else {
                            want |= MemTxResult.DECODE_ERROR; // not direct: unassigned ops, clamped to the section
                        }
                    }
                }
                case ROMD -> {
                    if (!write) {
                        // as QEMU: a ROM device is no RAM region, so its direct read is not clamped to
                        // its section; it runs on in its block (qemu_ram_ptr_length clamps to that)
                        chunk = (int) Math.min(clamp(len - k, b), b.block().usedLength() - b.offset());
                        for (int j = 0; j < chunk; j++) {
                            assertEquals(m.ram.get(b.block(), b.offset() + j), buf[k + j] & 0xFF,
                                    where + " ROM device byte " + (k + j));
                        }
                    } else {
                        chunk = chunk(clamp(len - k, b), 8, -1); // the device's ops: not RAM, so not clamped to the section
                    }
                }
                case DEVICE -> {
                    chunk = chunk(clamp(len - k, b), 8, -1);
                    for (int j = k; j < k + chunk && !write; j++) {
                        assertEquals(FuzzMachine.DEVICE_BYTE, buf[j] & 0xFF, where + " device byte " + j);
                    }
                }
                case PAST -> {
                    chunk = (int) Math.min(clamp(len - k, b), b.rangeLeft()); // to the section's end
                    want |= MemTxResult.DECODE_ERROR;
                    for (int j = k; j < k + chunk && !write; j++) {
                        assertEquals(0, buf[j], where + " byte " + j + " past a block");
                    }
                }
                case ROMD_PAST, UNKNOWN -> known = false;
            }
            k += chunk;
        }
        if (known) {
            assertEquals(MemTxResult.toString(want), MemTxResult.toString(result), where);
        }
    }

    /** @return {@code rem}, clamped to the IOMMU pages the byte was translated through */
    private static int clamp(int rem, Expect b) {
        return (int) Math.min(rem, b.pageLeft());
    }

    /**
     * QEMU's {@code memory_access_size}.
     *
     * @param rem bytes left
     * @param max the ops' {@code valid.max}
     * @param addr the offset, or -1 for ops with {@code impl.unaligned}
     * @return the chunk's size
     */
    private static int chunk(int rem, int max, long addr) {
        long align = addr & -addr;
        if (addr != -1 && align != 0 && Long.compareUnsigned(align, max) < 0) {
            max = (int) align;
        }
        return Integer.highestOneBit(Math.min(rem, max));
    }

    private static long load(AddressSpace as, long a, int n, boolean big, MemTxResultHolder r) {
        return switch (n) {
            case 1 -> as.ldub(a, U, r);
            case 2 -> big ? as.lduwBe(a, U, r) : as.lduwLe(a, U, r);
            case 4 -> Integer.toUnsignedLong(big ? as.ldlBe(a, U, r) : as.ldlLe(a, U, r));
            default -> big ? as.ldqBe(a, U, r) : as.ldqLe(a, U, r);
        };
    }

    private static int store(AddressSpace as, long a, int n, boolean big, long v) {
        return switch (n) {
            case 1 -> as.stb(a, (int) v, U);
            case 2 -> big ? as.stwBe(a, (int) v, U) : as.stwLe(a, (int) v, U);
            case 4 -> big ? as.stlBe(a, (int) v, U) : as.stlLe(a, (int) v, U);
            default -> big ? as.stqBe(a, v, U) : as.stqLe(a, v, U);
        };
    }
}
