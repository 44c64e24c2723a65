package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dispatch.DirectWindow;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Judges a cached TLB entry after a change: either the generation moved (the JIT refills), or the
 * entry still gives exactly what a fresh fill gives and what the address space's slow path reads.
 * A fresh fill is judged against the slow path too, so a stale dispatch table is caught as well.
 */
final class TlbOracle {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    /** Offsets in the page the oracle compares: the first, middle and last words. */
    private static final long[] PROBES = {0, 0x800, GuestTlb.PAGE_SIZE - 8};

    private TlbOracle() {
    }

    /** Fills every 8-byte word of {@code seg} with {@code tag << 32 | offset}: who and where, at a glance. */
    static void pattern(MemorySegment seg, int tag) {
        for (long off = 0; off + 8 <= seg.byteSize(); off += 8) {
            seg.set(LONG, off, ((long) tag << 32) | off);
        }
    }

    /** A fresh fill of {@code addr}'s page. */
    static TlbEntry fill(AddressSpace as, long addr) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, addr, e);
        return e;
    }

    /**
     * Asserts that {@code cached}, as a JIT following the documented pattern would use it now, gives
     * the right answer, and that a refill does.
     */
    static void assertCoherent(AddressSpace as, TlbEntry cached, String what) {
        TlbEntry fresh = fill(as, cached.pageAddr());
        assertAgreesWithSlowPath(as, fresh, what + " (fresh fill)");
        if (cached.generation() == as.generation()) { // the JIT would keep using it
            assertSame(fresh.segment(), cached.segment(), what + ": generation kept but segment changed");
            assertEquals(fresh.hostOffset(), cached.hostOffset(), what + ": generation kept but offset changed");
            assertEquals(fresh.flags(), cached.flags(), what + ": generation kept but flags changed");
            assertEquals(fresh.ramAddr(), cached.ramAddr(), what + ": generation kept but ram_addr changed");
            assertSameWindow(fresh.window(), cached.window(), what + ": generation kept but window changed");
            assertAgreesWithSlowPath(as, cached, what + " (cached entry)");
        }
    }

    /** Same start and the same host bytes in each slice (a page behind an IOMMU gets a new window per fill). */
    private static void assertSameWindow(DirectWindow want, DirectWindow got, String what) {
        assertEquals(want.start(), got.start(), what);
        assertEquals(want.dirtyMask(), got.dirtyMask(), what);
        assertEquals(want.ramAddr(), got.ramAddr(), what);
        MemorySegment[][] pairs = {{want.read(), got.read()}, {want.write(), got.write()},
            {want.loggedWrite(), got.loggedWrite()}};
        for (MemorySegment[] p : pairs) {
            assertEquals(p[0].address(), p[1].address(), what);
            assertEquals(p[0].byteSize(), p[1].byteSize(), what);
        }
    }

    /** A directly readable entry reads what the address space reads; a directly writable one writes there. */
    static void assertAgreesWithSlowPath(AddressSpace as, TlbEntry e, String what) {
        if (!e.readDirect()) {
            return; // slow path anyway: always right
        }
        byte[] buf = new byte[8];
        for (long off : PROBES) {
            int r = as.read(e.pageAddr() + off, MemTxAttrs.UNSPECIFIED, buf, 0, 8);
            assertEquals(MemTxResult.OK, r, what + ": the entry is direct but the address space answers "
                    + MemTxResult.toString(r) + " at +0x" + Long.toHexString(off));
            long slow = MemorySegment.ofArray(buf).get(LONG, 0);
            long direct = e.segment().get(LONG, e.hostOffset() + off);
            assertEquals(Long.toHexString(slow), Long.toHexString(direct),
                    what + ": direct and slow loads differ at +0x" + Long.toHexString(off));
        }
        if (e.writeDirect()) {
            long off = 0x400;
            long old = e.segment().get(LONG, e.hostOffset() + off);
            long probe = old ^ 0x5a5a_5a5a_5a5a_5a5aL;
            e.segment().set(LONG, e.hostOffset() + off, probe);
            as.read(e.pageAddr() + off, MemTxAttrs.UNSPECIFIED, buf, 0, 8);
            long seen = MemorySegment.ofArray(buf).get(LONG, 0);
            e.segment().set(LONG, e.hostOffset() + off, old);
            assertEquals(Long.toHexString(probe), Long.toHexString(seen), what + ": a direct store is not what the guest reads");
        }
        assertFalse(e.segment().isReadOnly() && e.writeDirect(), what + ": writable entry on a read-only segment");
    }
}
