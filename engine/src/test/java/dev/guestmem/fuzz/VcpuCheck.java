package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.flat.FlatView;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.testing.PageSplit;
import dev.guestmem.testing.SizedAccess;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.tlb.VcpuTlb;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongPredicate;

/**
 * {@code VcpuTlb} as an emulator keeps it: one per vCPU for the machine's whole life, driven by
 * loads, stores, {@code enterBlock()} and {@code flush()} between the fuzzer's other calls, in
 * whatever state they leave the machine (open transactions, a closed system, destroyed spaces,
 * pages behind the IOMMU, grown RAM, ROM devices in either mode, logged and read-only RAM).
 *
 * <p>The guide's contract. While the address space's generation is the one of the TLB's last flush
 * (its construction, {@code flush()}, or an {@code enterBlock()} that flushed), every load gives
 * what the space's own load gives (value, result, and the fault hook hears exactly the failed
 * ones); every store does what the space's own store does on the published view (checked against
 * the models: {@link AccessCheck#expect}, {@link RamModel}, {@link DirtyModel}, the code hook),
 * except that a store to a page the view makes read-only RAM ({@code TLB_DISCARD_WRITE}, from the
 * oracle's {@link TlbCheck#expectedFlags}) is dropped without a fault, and an access across two
 * pages, or an unaligned one, is split as TCG splits it ({@link PageSplit}: each page's part dropped
 * on such a page, else in naturally aligned pieces through the space, each piece checked against
 * the models with the fault the hook heard for it).
 *
 * <p>After a topology change and before the next {@code enterBlock()} (QEMU's RCU section across a
 * translation block) the guide promises less, and this is exactly what is asserted: an access either
 * behaves as above on the view published now, or, for a page the vCPU accessed since its last
 * flush (each page's part of an access across two pages on its own), as the entry it may have
 * filled then: a direct entry of the flush's view reads or writes the RAM the page had then
 * (unlogged, as any direct store), and a slow entry's drop decision is the one of the view it was
 * filled from. Memory safety: the blocks such entries point into are never
 * released while the TLB may hold them (and the machine's close leaves them to the TLB's own
 * {@code close()}, which must then work).
 *
 * <p>Inside an open transaction (the published view lags the tree the oracle reads) stores are made
 * as loads.
 */
final class VcpuCheck {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final long PAGE_MASK = ~(GuestTlb.PAGE_SIZE - 1);

    /**
     * What a fill of a page gave at one of the vCPU's accesses: the TLB may hold it.
     *
     * @param flags its flags (a slow store's drop decision)
     * @param gen its generation
     * @param readDirect whether loads may hit it
     * @param writeDirect whether stores may hit it
     * @param block the block behind it, or null
     * @param offset the page's offset in the block
     * @param subpage whether the page was a subpage page (its slow accesses then take the buffer rules)
     */
    record Fill(int flags, long gen, boolean readDirect, boolean writeDirect, RamBlock block, long offset,
                boolean subpage) {
        boolean drops() {
            return (flags & GuestTlb.TLB_DISCARD_WRITE) != 0;
        }
    }

    /** A vCPU the machine keeps: its TLB and what that may hold. */
    static final class Vcpu {
        final String name;
        final AddressSpace as;
        final VcpuTlb tlb;
        /** The generation of the TLB's entries: at construction or its last flush. */
        long gen;
        /** Per page, the fills the TLB may have made since its last flush. */
        final Map<Long, List<Fill>> fills = new HashMap<>();
        /** The faults the hook heard since the checker last cleared it (an access may fail piece by piece). */
        final List<PageSplit.Fault> heard = new ArrayList<>();
        boolean closed;

        Vcpu(String name, AddressSpace as) {
            this.name = name;
            this.as = as;
            this.tlb = new VcpuTlb(as, U, (addr, size, isWrite, result) ->
                    heard.add(new PageSplit.Fault(addr, size, isWrite, result)));
            this.gen = as.generation();
        }

        /** The TLB flushed: nothing held, entries of the generation now. */
        void flushed() {
            gen = as.generation();
            fills.clear();
            assertEquals(0, tlb.heldBlocks(), name + ": blocks held after a flush");
        }

        /** @return the blocks direct entries of the TLB's generation may point into (it holds each) */
        Set<RamBlock> mayHold() {
            Set<RamBlock> s = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            for (List<Fill> l : fills.values()) {
                for (Fill f : l) {
                    if (f.gen() == gen && f.readDirect() && f.block() != null) {
                        s.add(f.block());
                    }
                }
            }
            return s;
        }
    }

    private VcpuCheck() {
    }

    private static Vcpu vcpu(FuzzMachine m, int sel) {
        return m.vcpus.get(sel % m.vcpus.size());
    }

    /** {@code enterBlock()}: flushes exactly when the generation moved. */
    static String enterBlock(FuzzMachine m, FuzzOp.VcpuEnterBlock op) {
        Vcpu v = vcpu(m, op.vcpu());
        boolean moved = v.as.generation() != v.gen;
        boolean flushed = v.tlb.enterBlock();
        assertEquals(moved, flushed, FuzzStep.where(m) + ": " + v.name + " enterBlock() flushed");
        if (flushed) {
            v.flushed();
        }
        return flushed ? "flushed" : "kept";
    }

    /** {@code flush()}. */
    static String flush(FuzzMachine m, FuzzOp.VcpuFlush op) {
        Vcpu v = vcpu(m, op.vcpu());
        v.tlb.flush();
        v.flushed();
        return "flush";
    }

    /** Offsets in a page a vCPU comes back to: its start, inside, and where wide accesses cross. */
    private static final long[] AGAIN = {0, 8, 0x800, 0xff8, 0xffc, 0xffe, 0xfff};

    /**
     * @return one in five: a page the vCPU accessed since its last flush (where an older entry may
     *     answer), else a point as {@link AccessCheck#mappedPoint} chooses (or {@link FuzzMachine#nearCode})
     */
    private static long point(FuzzMachine m, Vcpu v, int point, int delta) {
        if (point % 5 == 4 && !v.fills.isEmpty()) {
            List<Long> pages = v.fills.keySet().stream().sorted(Long::compareUnsigned).toList();
            return pages.get((point / 5) % pages.size()) + AGAIN[delta % AGAIN.length];
        }
        return m.nearCode(point, delta, AccessCheck.mappedPoint(v.as, point, delta));
    }

    /** Records what a fill of {@code addr}'s page gives now: the TLB's miss on it may keep that. */
    private static void record(FuzzMachine m, Vcpu v, long addr) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(v.as, addr, U, e);
        RamBlock b = e.ramAddr() == -1 ? null : blockAt(m, e.ramAddr());
        Fill f = new Fill(e.flags(), e.generation(), e.readDirect(), e.writeDirect(), b,
                b == null ? 0 : e.ramAddr() - b.offset(), e.subpage());
        List<Fill> l = v.fills.computeIfAbsent(addr & PAGE_MASK, k -> new ArrayList<>());
        if (!l.contains(f)) {
            l.add(f);
        }
    }

    /**
     * @return the machine's listed block holding {@code ramAddr} in its reservation (inside a
     *     transaction the published view may still show pages a {@code ramResize} cut off), or null
     */
    static RamBlock blockAt(FuzzMachine m, long ramAddr) {
        for (RamBlock b : m.blocks()) {
            if (!b.isReleased() && b.ramList() == m.sys.ramList()
                    && Long.compareUnsigned(ramAddr - b.offset(), b.maxLength()) < 0) {
                return b;
            }
        }
        return null;
    }

    private static String what(FuzzMachine m, Vcpu v, String op, long addr, int size, boolean big) {
        return FuzzStep.where(m) + ": " + v.name + " " + op + size + (big ? "be" : "le") + " at 0x"
                + Long.toHexString(addr) + " of '" + v.as.name() + "'" + (v.as.generation() != v.gen
                ? " (stale: the view moved since its last flush)" : "");
    }

    /** A load through the kept TLB. */
    static String load(FuzzMachine m, FuzzOp.VcpuLoad op) {
        Vcpu v = vcpu(m, op.vcpu());
        long addr = point(m, v, op.point(), op.delta());
        return load(m, v, addr, 1 << (op.size() & 3), op.big());
    }

    private static String load(FuzzMachine m, Vcpu v, long addr, int size, boolean big) {
        boolean stale = v.as.generation() != v.gen;
        long page = addr & PAGE_MASK;
        boolean onePage = ((addr + size - 1) & PAGE_MASK) == page;
        boolean crossing = PageSplit.crosses(addr, size);
        if (onePage) {
            record(m, v, addr);
        } else if (crossing) { // TCG's split: each page through its own entry
            record(m, v, addr);
            record(m, v, addr + PageSplit.firstPart(addr, size));
        }
        List<PageSplit.Fault> wantFaults = new ArrayList<>();
        long want = PageSplit.load(v.as, addr, size, big, wantFaults);
        v.heard.clear();
        long got = SizedAccess.load(v.tlb, addr, size, big);
        if (got == want && v.heard.equals(wantFaults)) {
            return (stale ? "stale load, as now" : "load") + kind(m, v, addr, size);
        }
        String what = what(m, v, "ld", addr, size, big);
        long mask = size == 8 ? -1L : (1L << (8 * size)) - 1; // (4-byte loads come sign-extended)
        if (stale && onePage && v.heard.isEmpty()) {
            for (Fill f : v.fills.getOrDefault(page, List.of())) {
                if (f.gen() == v.gen && f.readDirect() && f.block() != null
                        && (got & mask) == modelValue(m, f.block(), f.offset() + (addr - page), size, big)) {
                    return "stale load, as at the flush" + kind(m, v, addr, size);
                }
            }
        }
        if (stale && onePage) { // an older slow entry's subpage decision, on the view now
            for (boolean subpage : subpageDecisions(v, page)) {
                List<PageSplit.Fault> f = new ArrayList<>();
                if (PageSplit.load(v.as, addr, size, big, f, pg -> subpage) == got && v.heard.equals(f)) {
                    return "stale load, an older entry's subpage decision" + kind(m, v, addr, size);
                }
            }
        }
        if (stale && crossing && staleAcross(m, v, addr, size, big, got & mask)) {
            return "stale load across pages, a part as at the flush" + kind(m, v, addr, size);
        }
        assertEquals(Long.toHexString(want), Long.toHexString(got), what + ": the value (the space gave "
                + wantFaults + ", the TLB " + v.heard + ")");
        fail(what + ": the space gave " + wantFaults + ", the TLB's fault hook heard " + v.heard);
        return null;
    }

    /**
     * Whether a stale load across two pages gave {@code got}: each page's part either as the view
     * now (its pieces through the space, and their faults) or from the RAM a direct entry of the
     * flush's view had for that page.
     */
    private static boolean staleAcross(FuzzMachine m, Vcpu v, long addr, int size, boolean big, long got) {
        int first = PageSplit.firstPart(addr, size);
        long second = addr + first;
        List<long[]> firsts = partValues(m, v, addr, first);   // {value, faults heard for it}
        List<long[]> seconds = partValues(m, v, second, size - first);
        for (long[] a : firsts) {
            for (long[] b : seconds) {
                long be = a[0] << (8 * (size - first)) | b[0];
                long value = big ? be : Long.reverseBytes(be) >>> (64 - 8 * size);
                if (value == got && a[1] + b[1] == v.heard.size()) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The subpage decisions a slow entry of the page may hold: the view's now, and older fills'. */
    private static Set<Boolean> subpageDecisions(Vcpu v, long page) {
        Set<Boolean> s = new java.util.LinkedHashSet<>();
        s.add(PageSplit.subpages(v.as).test(page));
        long now = v.as.generation();
        for (Fill f : v.fills.getOrDefault(page, List.of())) {
            if (f.gen() != now) {
                s.add(f.subpage());
            }
        }
        return s;
    }

    /** A crossing load's part: the values it may have given, each with how many faults it made. */
    private static List<long[]> partValues(FuzzMachine m, Vcpu v, long part, int n) {
        List<long[]> out = new ArrayList<>();
        for (boolean subpage : subpageDecisions(v, part & PAGE_MASK)) {
            List<PageSplit.Fault> f = new ArrayList<>();
            out.add(new long[] {PageSplit.loadPartBe(v.as, part, n, 0, f, pg -> subpage), f.size()});
        }
        for (Fill fill : v.fills.getOrDefault(part & PAGE_MASK, List.of())) {
            if (fill.gen() == v.gen && fill.readDirect() && fill.block() != null) {
                out.add(new long[] {modelValue(m, fill.block(), fill.offset() + (part & ~PAGE_MASK), n, true), 0});
            }
        }
        return out;
    }

    private static long modelValue(FuzzMachine m, RamBlock b, long offset, int n, boolean big) {
        long v = 0;
        for (int k = 0; k < n; k++) {
            v |= (long) m.ram.get(b, offset + k) << (8 * (big ? n - 1 - k : k));
        }
        return v;
    }

    private static final boolean AUDIT = Boolean.getBoolean("guestmem.audit");

    /** @return for the audit: what the access's first byte is, and whether it crosses a page */
    private static String kind(FuzzMachine m, Vcpu v, long addr, int n) {
        if (!AUDIT) {
            return "";
        }
        String across = ((addr ^ (addr + n - 1)) & PAGE_MASK) != 0 ? " across" : "";
        if (m.sys.transactionDepth() != 0) {
            return across;
        }
        AccessCheck.Expect x = AccessCheck.classify(m, AccessCheck.key(m, v.as), v.as.currentMap(), addr);
        return " " + x.kind() + (x.viaIommu() ? " via iommu" : "") + across;
    }

    /** A store through the kept TLB (a load inside a transaction). */
    static String store(FuzzMachine m, FuzzOp.VcpuStore op) {
        Vcpu v = vcpu(m, op.vcpu());
        AddressSpace as = v.as;
        long addr = point(m, v, op.point(), op.delta());
        int n = 1 << (op.size() & 3);
        boolean big = op.big();
        if (m.sys.transactionDepth() != 0) {
            return load(m, v, addr, n, big) + " in a transaction";
        }
        long value = n == 8 ? op.data() : op.data() & ((1L << (8 * n)) - 1);
        boolean stale = as.generation() != v.gen;
        long p1 = addr & PAGE_MASK;
        long p2 = (addr + n - 1) & PAGE_MASK;
        boolean crossing = p1 != p2;
        boolean wraps = crossing && !PageSplit.crosses(addr, n); // past 2^64: the space's error, whole
        boolean across = crossing && !wraps;
        if (!wraps) {
            record(m, v, addr);
        }
        if (across) {
            record(m, v, p2);
        }
        FlatView view = as.currentMap();
        MemoryRegion key = AccessCheck.key(m, as);
        boolean d1 = (TlbCheck.expectedFlags(m, as, p1) & GuestTlb.TLB_DISCARD_WRITE) != 0;
        boolean d2 = across && (TlbCheck.expectedFlags(m, as, p2) & GuestTlb.TLB_DISCARD_WRITE) != 0;
        LongPredicate subpageNow = PageSplit.subpages(as);
        String what = what(m, v, "st", addr, n, big) + " 0x" + Long.toHexString(value);
        long now = as.generation();
        boolean older = stale && (v.fills.getOrDefault(p1, List.of()).stream().anyMatch(f -> f.gen() != now)
                || v.fills.getOrDefault(p2, List.of()).stream().anyMatch(f -> f.gen() != now));
        // several outcomes are possible only where an older entry may answer: only then save the models
        Map<RamBlock, byte[]> ramBefore = older ? m.ram.save() : null;
        Object dirtyBefore = older ? m.dirty.save() : null;
        v.heard.clear();
        SizedAccess.store(v.tlb, addr, n, big, value);
        int result = v.heard.isEmpty() ? MemTxResult.OK : v.heard.getLast().result();
        // what may have happened: as on the view now; when stale, also as an entry it may still hold
        Map<String, Runnable> outcomes = new LinkedHashMap<>();
        Store s = new Store(m, as, view, key, addr, n, big, value, result, List.copyOf(v.heard), what);
        if (wraps) {
            outcomes.put("as the view now", s::throughSpace);
        } else {
            int firstLen = across ? PageSplit.firstPart(addr, n) : n; // (one page: no second part)
            Set<Part> seconds = across ? parts(v, p2, d2, subpageNow.test(p2), now, stale)
                    : Set.of(new Part(false, null, false));
            for (Part e1 : parts(v, p1, d1, subpageNow.test(p1), now, stale)) {
                for (Part e2 : seconds) {
                    outcomes.putIfAbsent(across ? "across, first page " + e1 + ", second " + e2 : e1.toString(),
                            s.pieces(e1, e2, firstLen));
                }
            }
        }
        if (outcomes.size() == 1) {
            outcomes.values().iterator().next().run();
            return (stale ? "stale store" : "store") + (d1 || d2 ? " dropping" : "") + kind(m, v, addr, n);
        }
        List<String> refused = new ArrayList<>();
        for (Map.Entry<String, Runnable> o : outcomes.entrySet()) {
            if (older) {
                m.ram.restore(ramBefore);
                m.dirty.restore(dirtyBefore);
            }
            try {
                o.getValue().run();
                m.ram.check(what);
                m.dirty.check(m.sys, m.blocks(), what);
                // and the code hook: a store that wrote the byte RAM already held looks dropped to the
                // two checks above, but only a store through the space tells the hook of a code page
                m.dirty.checkOp(what);
                return (stale ? "stale store, " : "store, ") + o.getKey() + kind(m, v, addr, n);
            } catch (AssertionError e) {
                refused.add(o.getKey() + ": " + e.getMessage());
            }
        }
        fail(what + ": matches none of the outcomes allowed:\n  " + String.join("\n  ", refused));
        return null;
    }

    /**
     * What a store may do with one page's part: drop it, write it directly into the RAM a direct
     * entry of the flush's view had ({@code fill}), or send it through the space in TCG's pieces, on
     * a subpage page by the buffer rules.
     */
    private record Part(boolean drops, Fill fill, boolean subpage) {
        @Override
        public String toString() {
            return fill != null ? "direct (the flush's RAM)" : drops ? "dropped"
                    : subpage ? "through the space, a subpage page" : "through the space";
        }
    }

    /** The ways a store may treat a page's part: the view's now, and older fills'. */
    private static Set<Part> parts(Vcpu v, long page, boolean dropsNow, boolean subpageNow, long now, boolean stale) {
        Set<Part> s = new java.util.LinkedHashSet<>();
        s.add(new Part(dropsNow, null, subpageNow));
        if (stale) {
            for (Fill f : v.fills.getOrDefault(page, List.of())) {
                if (f.gen() == now) {
                    continue;
                }
                s.add(f.gen() == v.gen && f.writeDirect() && f.block() != null ? new Part(false, f, false)
                        : new Part(f.drops(), null, f.subpage()));
            }
        }
        return s;
    }

    /** The outcomes of one store, each recording its bytes in the models and checking the result. */
    private record Store(FuzzMachine m, AddressSpace as, FlatView view, MemoryRegion key, long addr, int n,
                         boolean big, long value, int result, List<PageSplit.Fault> heard, String what) {
        private byte at(int k) {
            return (byte) (value >>> (8 * (big ? n - 1 - k : k)));
        }

        /** A store across 2^64: the space's, whole (an error). */
        void throughSpace() {
            assertTrue(heard.size() <= 1, what + ": " + heard);
            AccessCheck.check(AccessCheck.expect(m, view, key, addr, n, true, big, value, result), true, 0, result,
                    what + ": as the space's store");
        }

        /**
         * A store as TCG makes it ({@link PageSplit}): each page's part dropped, direct, or in
         * naturally aligned pieces through the space (one piece for an aligned store on one page),
         * each piece checked against the model with the fault the TLB reported for it (on a subpage
         * page: refused whole unless the view accepts it, else by the buffer rules); no fault heard
         * for anything else. {@code firstLen} is the first page's part's bytes ({@code n} when the
         * store is on one page; addresses may wrap to 0 after it, so parts go by count).
         */
        Runnable pieces(Part firstPage, Part secondPage, int firstLen) {
            return () -> {
                int matched = 0;
                for (int k = 0; k < n; k++) {
                    long a = addr + k;
                    Part part = k < firstLen ? firstPage : secondPage;
                    if (part.fill() != null) {
                        m.wroteUnlogged(part.fill().block(), part.fill().offset() + (a & ~PAGE_MASK), at(k));
                    }
                }
                for (int first = 1; first >= 0; first--) {
                    Part part = first == 1 ? firstPage : secondPage;
                    long start = first == 1 ? addr : addr + firstLen;
                    int len = first == 1 ? firstLen : n - firstLen;
                    if (len == 0 || part.drops() || part.fill() != null) {
                        continue;
                    }
                    for (PageSplit.Piece p : PageSplit.pieces(start, len)) {
                        byte[] bytes = new byte[p.size()];
                        long pv = 0;
                        for (int k = 0; k < p.size(); k++) {
                            bytes[k] = at((int) (p.addr() - addr) + k);
                            pv |= (bytes[k] & 0xffL) << (8 * k);
                        }
                        int r = MemTxResult.OK;
                        for (PageSplit.Fault f : heard) {
                            if (f.addr() == p.addr() && f.size() == p.size() && f.isWrite()) {
                                r = f.result();
                                matched++;
                            }
                        }
                        int pieceResult = r;
                        String where = what + ": its piece of " + p.size() + " at 0x" + Long.toHexString(p.addr());
                        if (!part.subpage()) {
                            AccessCheck.check(AccessCheck.expect(m, view, key, p.addr(), p.size(), true, false, pv, r),
                                    true, 0, r, where);
                        } else if (!as.accessValid(p.addr(), p.size(), true, U)) {
                            assertEquals(MemTxResult.toString(MemTxResult.DECODE_ERROR), MemTxResult.toString(r),
                                    where + ", refused by the view (subpage_accepts)");
                        } else { // subpage_write: the buffer rules (the store was made: only its answer is replayed)
                            AccessCheck.buffer(m, as, key, p.addr(), bytes, true, b -> pieceResult, where + " (subpage)");
                        }
                    }
                }
                assertEquals(heard.size(), matched, what + ": faults heard for pieces it did not send: " + heard);
            };
        }
    }

    /**
     * After every call: every block a direct entry of the TLB's generation may point into is still
     * mapped (the TLB holds it), and the TLB holds no block it could not have filled from.
     *
     * @param m the machine
     */
    static void check(FuzzMachine m) {
        for (Vcpu v : m.vcpus) {
            Set<RamBlock> may = v.mayHold();
            for (RamBlock b : may) {
                assertFalse(b.isReleased(), () -> FuzzStep.where(m) + ": block '" + b.idstr() + "' released while "
                        + v.name + "'s TLB may still hit it");
            }
            assertTrue(v.tlb.heldBlocks() <= may.size(), () -> FuzzStep.where(m) + ": " + v.name + " holds "
                    + v.tlb.heldBlocks() + " blocks, but filled direct entries from " + may.size());
        }
    }

    /**
     * The JIT translates code from a page: it clears the page's CODE bit ({@code tlb_protect_code},
     * as the guide's CODE section does with {@code resetDirty}).
     */
    static String translate(FuzzMachine m, FuzzOp.Translate op) {
        AddressSpace as = m.space(op.space());
        TlbEntry e = new TlbEntry();
        long addr = 0;
        for (int k = 0; k < 8 && (k == 0 || e.ramAddr() == -1); k++) { // a JIT translates from RAM: look for some
            addr = AccessCheck.mappedPoint(as, op.point() + 4 * k, op.delta());
            GuestTlb.fill(as, addr, e);
        }
        if (e.ramAddr() == -1) {
            return "no RAM";
        }
        RamBlock b = blockAt(m, e.ramAddr());
        if (b == null) {
            return "another machine's RAM";
        }
        long off = e.ramAddr() - b.offset();
        m.sys.dirtyMemory().resetDirty(e.ramAddr(), GuestTlb.PAGE_SIZE, DirtyMemory.DIRTY_MEMORY_CODE);
        m.codePages.add(addr & PAGE_MASK);
        if (m.codePages.size() > 8) {
            m.codePages.removeFirst();
        }
        for (long p = off & PAGE_MASK; p < off + GuestTlb.PAGE_SIZE; p += GuestTlb.PAGE_SIZE) {
            m.dirty.protect(b, (int) (p >>> 12), op.keeps());
        }
        return m.sys.isTcgEnabled() ? "code page" : "code page without TCG";
    }

    /**
     * A load of 1, 2, 4 or 8 bytes through a fresh {@code VcpuTlb}, twice (a miss that fills, then a
     * hit where the page is direct): each must give what the space's own load gives, and report a
     * fault exactly when it fails. The TLB lives for the op, so it keeps no block across calls.
     *
     * @param m the machine
     * @param l the op
     * @return "direct" when the TLB kept the page, else "slow" (for the audit)
     */
    static String freshLoad(FuzzMachine m, FuzzOp.FreshVcpuLoad l) {
        AddressSpace as = m.space(l.space());
        long addr = AccessCheck.mappedPoint(as, l.point(), l.delta());
        int size = 1 << (l.size() & 3);
        boolean big = l.big();
        List<PageSplit.Fault> wantFaults = new ArrayList<>();
        long want = PageSplit.load(as, addr, size, big, wantFaults); // (across pages: TCG's split)
        List<PageSplit.Fault> heard = new ArrayList<>();
        try (VcpuTlb tlb = new VcpuTlb(as, U, (a, s, w, r) -> heard.add(new PageSplit.Fault(a, s, w, r)))) {
            for (int pass = 0; pass < 2; pass++) {
                heard.clear();
                long got = SizedAccess.load(tlb, addr, size, big);
                String what = FuzzStep.where(m) + ": VcpuTlb load " + (pass == 0 ? "(miss)" : "(again)") + " of "
                        + size + " bytes at 0x" + Long.toHexString(addr) + " of '" + as.name() + "'";
                assertEquals(want, got, what);
                assertEquals(wantFaults, heard, what + ": faults reported");
            }
            return tlb.fills() > 0 ? "direct" : "slow";
        }
    }
}
