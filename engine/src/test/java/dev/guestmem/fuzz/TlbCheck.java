package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.testing.RenderOracle;
import dev.guestmem.testing.RenderOracle.Served;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;

/**
 * The JIT fast path's oracle. The fuzzer fills soft-TLB entries ({@link GuestTlb#fill}) for pages of
 * its spaces and keeps them; after every later call, each kept entry whose generation still equals
 * its space's (the guide: "an entry is valid while the generation is unchanged") must equal a fresh
 * fill of its page, field by field and window by window, and (at rest) what the per-address oracle
 * says of the page: nothing there is {@code TLB_INVALID}; a page not wholly inside one flat range
 * of a RAM kind, a device, RAM past its block or a ROM device in I/O mode is slow
 * ({@code TLB_MMIO}); else the entry points at the block and offset the oracle names, read-only
 * where the view makes RAM read-only (with {@code TLB_DISCARD_WRITE}) or for a ROMD-mode ROM device
 * (without), {@code TLB_NOTDIRTY} while its region logs a client, and its window's slices are
 * the page's host bytes exactly where direct access is allowed. An IOMMU page is followed as the
 * fuzzer's IOMMU maps it (the same address of the second space).
 */
final class TlbCheck {
    /** Most entries kept at a time. */
    static final int MAX_KEPT = 12;
    private static final long PAGE = GuestTlb.PAGE_SIZE;
    private static final boolean AUDIT = Boolean.getBoolean("guestmem.audit");

    /**
     * A kept entry.
     *
     * @param as the space it was filled from
     * @param entry the entry
     */
    record Kept(AddressSpace as, TlbEntry entry) {
    }

    private TlbCheck() {
    }

    /**
     * Fills an entry and keeps it (the check after the step compares it with the oracle).
     *
     * @param m the machine
     * @param f the op
     * @return what the entry says, for the audit
     */
    static String fill(FuzzMachine m, FuzzOp.TlbFill f) {
        AddressSpace as = m.space(f.space());
        long addr = AccessCheck.mappedPoint(as, f.point(), f.delta());
        TlbEntry e = new TlbEntry();
        boolean direct = GuestTlb.fill(as, addr, e);
        assertEquals(e.readDirect(), direct, FuzzStep.where(m) + ": fill's answer is readDirect()");
        assertEquals(addr & ~(PAGE - 1), e.pageAddr(), FuzzStep.where(m) + ": the page filled");
        if (m.sys.transactionDepth() == 0) {
            expect(m, AccessCheck.key(m, as), as.currentMap(), e.pageAddr(), 0).check(e, FuzzStep.where(m)
                    + ": entry of '" + as.name() + "' page 0x" + Long.toHexString(e.pageAddr()));
        }
        if (m.tlbs.size() == MAX_KEPT) {
            m.tlbs.removeFirst();
        }
        m.tlbs.add(new Kept(as, e));
        int idx = as.currentMap().lookup(addr);
        String via = idx >= 0 && as.currentMap().range(idx).region() instanceof IommuRegion ? "via iommu " : "";
        return via + (e.writeDirect() ? "write direct" : e.readDirect() ? "read direct"
                : (e.flags() & GuestTlb.TLB_INVALID) != 0 ? "invalid" : "slow");
    }

    /**
     * Checks every kept entry that still claims to be valid.
     *
     * @param m the machine
     * @param treeChanged whether the call may have changed the tree (a setup call that succeeded):
     *     only then can the oracle's answer have changed since the entry was last compared with it
     */
    static void check(FuzzMachine m, boolean treeChanged) {
        boolean atRest = m.sys.transactionDepth() == 0;
        for (Kept k : m.tlbs) {
            TlbEntry e = k.entry();
            if (e.generation() != k.as().generation()) {
                continue; // stale, and says so: a TLB refills it
            }
            TlbEntry fresh = new TlbEntry();
            GuestTlb.fill(k.as(), e.pageAddr(), fresh);
            boolean same = same(fresh, e);
            if (treeChanged && AUDIT) { // an entry a change left valid: how often the oracle meets one
                net.jqwik.api.statistics.Statistics.label("tlb entries valid after a change")
                        .collect(k.as().name(), (e.flags() & GuestTlb.TLB_MMIO) != 0 ? "slow" : "direct");
            }
            if (same && !(atRest && treeChanged)) {
                continue; // the message below is built only when there is something to check
            }
            String what = FuzzStep.where(m) + ": kept entry of '" + k.as().name() + "' page 0x"
                    + Long.toHexString(e.pageAddr());
            if (!same) {
                assertEquals(describe(fresh), describe(e), what + " claims to be valid (generation unchanged) but a"
                        + " fresh fill differs");
            }
            expect(m, AccessCheck.key(m, k.as()), k.as().currentMap(), e.pageAddr(), 0).check(e, what);
        }
    }

    /**
     * The oracle's flags for a page of a space's published view, at rest (what a fill must give).
     *
     * @param m the machine
     * @param as the space
     * @param page the page's address
     * @return the flags ({@link GuestTlb#TLB_DISCARD_WRITE} where a vCPU drops stores)
     */
    static int expectedFlags(FuzzMachine m, AddressSpace as, long page) {
        return expect(m, AccessCheck.key(m, as), as.currentMap(), page & ~(PAGE - 1), 0).flags();
    }

    /** Whether two entries agree in every field {@link #describe} shows (without building the text). */
    private static boolean same(TlbEntry a, TlbEntry b) {
        DirectWindow v = a.window();
        DirectWindow w = b.window();
        return a.pageAddr() == b.pageAddr() && a.flags() == b.flags() && a.generation() == b.generation()
                && same(a.segment(), b.segment()) && a.hostOffset() == b.hostOffset() && a.ramAddr() == b.ramAddr()
                && v.start() == w.start() && same(v.read(), w.read()) && same(v.write(), w.write())
                && same(v.loggedWrite(), w.loggedWrite()) && v.segmentOffset() == w.segmentOffset()
                && v.ramAddr() == w.ramAddr() && v.dirtyMask() == w.dirtyMask()
                && (v.section() == null) == (w.section() == null)
                && (v.section() == null || v.section().region() == w.section().region());
    }

    private static boolean same(MemorySegment a, MemorySegment b) {
        return a == null ? b == null : b != null && a.address() == b.address() && a.byteSize() == b.byteSize();
    }

    /** Every field of an entry, its window's slices by address and size. */
    private static String describe(TlbEntry e) {
        DirectWindow w = e.window();
        return "page=0x" + Long.toHexString(e.pageAddr()) + " flags=0x" + Integer.toHexString(e.flags())
                + " gen=" + e.generation() + " seg=" + seg(e.segment()) + " host=0x" + Long.toHexString(e.hostOffset())
                + " ramAddr=0x" + Long.toHexString(e.ramAddr()) + " window[start=0x" + Long.toHexString(w.start())
                + " read=" + seg(w.read()) + " write=" + seg(w.write()) + " logged=" + seg(w.loggedWrite())
                + " segOff=0x" + Long.toHexString(w.segmentOffset()) + " ramAddr=0x" + Long.toHexString(w.ramAddr())
                + " mask=" + w.dirtyMask() + " section=" + (w.section() == null ? "-" : w.section().region()) + "]";
    }

    private static String seg(MemorySegment s) {
        return s == null ? "null" : "0x" + Long.toHexString(s.address()) + "+0x" + Long.toHexString(s.byteSize());
    }

    /**
     * What the oracle says an entry of a page holds.
     *
     * @param flags the flags
     * @param block the block behind it (null for a slow or empty page)
     * @param offset the page's offset in the block
     */
    private record Expected(int flags, RamBlock block, long offset) {
        static final Expected INVALID = new Expected(GuestTlb.TLB_INVALID | GuestTlb.TLB_MMIO, null, 0);
        static final Expected SLOW = new Expected(GuestTlb.TLB_MMIO | GuestTlb.TLB_READONLY, null, 0);

        void check(TlbEntry e, String what) {
            what += " (" + e + ")";
            assertEquals(Integer.toHexString(flags), Integer.toHexString(e.flags()), what + ": flags");
            DirectWindow w = e.window();
            if (block == null) {
                if (e.segment() != null || w.read().byteSize() != 0 || w.write().byteSize() != 0
                        || w.loggedWrite().byteSize() != 0) {
                    fail(what + ": a slow or empty page has host memory: " + describe(e));
                }
                return;
            }
            long host = block.segment().address() + offset;
            assertEquals(Long.toHexString(host), e.segment() == null ? "null"
                    : Long.toHexString(e.segment().address() + e.hostOffset()), what + ": host address");
            assertEquals(Long.toHexString(block.offset() + offset), Long.toHexString(e.ramAddr()), what + ": ram_addr");
            window(w.read(), e.readDirect(), e, host, what + ": window read slice");
            window(w.write(), e.writeDirect(), e, host, what + ": window write slice");
            boolean logged = (flags & GuestTlb.TLB_NOTDIRTY) != 0 && (flags & GuestTlb.TLB_READONLY) == 0;
            window(w.loggedWrite(), logged, e, host, what + ": window logged-write slice");
        }

        /**
         * A slice: empty unless allowed; if allowed, empty (the docs promise emptiness only where
         * direct access is not allowed: a RAM section grown past its block has an empty window, its
         * backed pages' entries are direct) or the page's host bytes at the window's guest addresses.
         */
        private static void window(MemorySegment slice, boolean allowed, TlbEntry e, long host, String what) {
            if (!allowed || slice.byteSize() == 0) {
                assertEquals(0, slice.byteSize(), what + " should be empty");
                return;
            }
            long off = e.pageAddr() - e.window().start();
            if (Long.compareUnsigned(off, slice.byteSize()) >= 0 || slice.byteSize() - off < PAGE) {
                fail(what + " does not hold the page: " + describe(e));
            }
            assertEquals(Long.toHexString(host), Long.toHexString(slice.address() + off), what + " address");
        }
    }

    /**
     * @param key the view's root for the oracle (null: nothing)
     * @param view that view as published (at rest, equal to the oracle's: {@link FuzzStep#checkViews})
     * @param page the page
     * @param depth IOMMUs passed
     */
    private static Expected expect(FuzzMachine m, MemoryRegion key, FlatView view, long page, int depth) {
        long last = page + PAGE - 1;
        int idx = view.lookup(page);
        FlatRange r = idx < 0 ? null : view.range(idx);
        boolean whole = r != null && Long.compareUnsigned(r.last(), last) >= 0;
        if (!whole) {
            // the page is empty only if no range starts inside it either
            int next = idx < 0 ? firstAfter(view, page) : -1;
            boolean empty = idx < 0 && (next < 0 || Long.compareUnsigned(view.range(next).start(), last) > 0);
            return empty ? Expected.INVALID : Expected.SLOW;
        }
        Served s = RenderOracle.serve(key, page);
        Served e = RenderOracle.serve(key, last);
        if (s == null || e == null || s.region() != r.region() || e.region() != r.region()
                || e.offset() - s.offset() != PAGE - 1) {
            fail("the view's range " + r + " holds page 0x" + Long.toHexString(page) + " but the oracle says " + s
                    + " .. " + e);
        }
        MemoryRegion mr = s.region();
        long off = s.offset();
        switch (mr) {
            case IommuRegion i -> {
                if (depth == IommuRegion.MAX_CHAIN) {
                    return Expected.INVALID;
                }
                if ((off & (PAGE - 1)) != 0) {
                    return Expected.SLOW; // the TLB page straddles two IOMMU pages
                }
                AddressSpace target = m.iommuTarget();
                MemoryRegion targetKey = AccessCheck.key(m, target);
                return expect(m, targetKey, targetKey == null ? m.sys.emptyView() : target.currentMap(), off, depth + 1);
            }
            case RamRegion rr when !rr.isRamDevice() -> {
                RamBlock b = rr.ramBlock();
                if (Long.compareUnsigned(off, b.usedLength()) >= 0 || b.usedLength() - off < PAGE) {
                    return Expected.SLOW; // past its block: no host memory
                }
                int flags = s.readonly() ? GuestTlb.TLB_READONLY | GuestTlb.TLB_DISCARD_WRITE : 0;
                if (rr.dirtyLogMask() != 0) {
                    flags |= GuestTlb.TLB_NOTDIRTY;
                }
                return new Expected(flags, b, off);
            }
            case RomDeviceRegion rd when rd.isRomd() -> {
                RamBlock b = rd.ramBlock();
                if (Long.compareUnsigned(off, b.usedLength()) >= 0 || b.usedLength() - off < PAGE) {
                    return Expected.SLOW;
                }
                int flags = GuestTlb.TLB_READONLY; // its stores go to its callbacks: no TLB_DISCARD_WRITE
                if (rd.dirtyLogMask() != 0) {
                    flags |= GuestTlb.TLB_NOTDIRTY;
                }
                return new Expected(flags, b, off);
            }
            case RomDeviceRegion rd -> {
                return Expected.SLOW;
            }
            case IoRegion io -> {
                return Expected.SLOW;
            }
            default -> throw new AssertionError("the fuzzer has no region like " + mr);
        }
    }

    /** @return the index of the first range starting after {@code addr}, or -1 */
    private static int firstAfter(FlatView view, long addr) {
        for (int i = 0; i < view.ranges().size(); i++) {
            if (Long.compareUnsigned(view.range(i).start(), addr) > 0) {
                return i;
            }
        }
        return -1;
    }
}
