package dev.guestmem.testing;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongPredicate;

/**
 * TCG's rule for a vCPU access that crosses a page, written out plainly through the address space,
 * as the reference the {@code VcpuTlb} differential tests compare with ({@code do_ld_beN} and
 * {@code do_st_leN} of QEMU's {@code accel/tcg/cputlb.c}): each page's bytes go to that page alone,
 * in naturally aligned pieces of up to 8 bytes ({@code int_ld_mmio_beN}: a piece is
 * {@code 1 << ctz(left | addr | 8)} bytes), each piece one access of the space, each failed piece
 * one fault. (On RAM the pieces give the bytes TCG copies from host memory.) An unaligned access on
 * one page is split into the same pieces (current TCG splits every MMIO access so, and on RAM the
 * pieces give the same bytes). On a subpage page ({@code TlbEntry.subpage()}) each piece, aligned
 * accesses' one included, follows QEMU's {@code subpage_read}/{@code subpage_write}: refused whole
 * unless {@code accessValid}, else the buffer rules. Any other aligned access on one page, or one
 * that wraps past 2^64, is the space's own access, whole.
 */
public final class PageSplit {
    private static final long PAGE = 0x1000;

    /** A failed piece, as a vCPU's fault hook hears it. */
    public record Fault(long addr, int size, boolean isWrite, int result) {
        @Override
        public String toString() {
            return (isWrite ? "st" : "ld") + size + "@0x" + Long.toHexString(addr) + " " + MemTxResult.toString(result);
        }
    }

    /** One piece: its address and size. */
    public record Piece(long addr, int size) {
    }

    private PageSplit() {
    }

    /**
     * @param addr guest address
     * @param size bytes
     * @return whether the access crosses a page without wrapping past 2^64 (TCG splits it)
     */
    public static boolean crosses(long addr, int size) {
        long page = addr & -PAGE;
        return ((addr + size - 1) & -PAGE) != page && page + PAGE != 0;
    }

    /**
     * @param addr guest address
     * @param size bytes
     * @return whether a vCPU makes the access in pieces: it crosses a page or is unaligned, and does
     *     not wrap past 2^64
     */
    private static boolean splits(long addr, int size) {
        return !wraps(addr, size) && (crosses(addr, size) || (addr & (size - 1)) != 0);
    }

    /**
     * @param addr guest address of a crossing access
     * @param size bytes
     * @return the first page's part's size
     */
    public static int firstPart(long addr, int size) {
        return (int) (((addr & -PAGE) + PAGE) - addr);
    }

    /**
     * @param addr the part's first byte
     * @param n the part's bytes (all on one page)
     * @return its pieces, in address order
     */
    public static List<Piece> pieces(long addr, int n) {
        List<Piece> out = new ArrayList<>();
        for (long a = addr; n > 0; ) {
            int piece = Integer.lowestOneBit(n | (int) a | 8);
            out.add(new Piece(a, piece));
            a += piece;
            n -= piece;
        }
        return out;
    }

    /**
     * @param as the address space
     * @return whether a page is a subpage page in the view published now ({@code TlbEntry.subpage()})
     */
    public static LongPredicate subpages(AddressSpace as) {
        TlbEntry e = new TlbEntry();
        return page -> {
            GuestTlb.fill(as, page, e);
            return e.subpage();
        };
    }

    /**
     * Loads as a vCPU does, with the view's subpage pages.
     *
     * @param faults receives the failed pieces (or the failed access), in order; may be null
     * @return the value, widened as the {@code VcpuTlb} accessor of that size widens it
     */
    public static long load(AddressSpace as, long addr, int size, boolean big, List<Fault> faults) {
        return load(as, addr, size, big, faults, subpages(as));
    }

    /**
     * Loads as a vCPU does: in pieces when the access crosses a page, is unaligned, or lies on a
     * subpage page (there, by the buffer rules: {@link #pieceLoad}).
     *
     * @param subpage whether the page at this address is a subpage page
     * @param faults receives the failed pieces (or the failed access), in order; may be null
     * @return the value, widened as the {@code VcpuTlb} accessor of that size widens it
     */
    public static long load(AddressSpace as, long addr, int size, boolean big, List<Fault> faults,
                            LongPredicate subpage) {
        MemTxResultHolder r = new MemTxResultHolder();
        if (whole(addr, size, subpage)) {
            long v = SizedAccess.load(as, addr, size, big, r);
            if (r.get() != MemTxResult.OK && faults != null) {
                faults.add(new Fault(addr, size, false, r.get()));
            }
            return v;
        }
        int first = crosses(addr, size) ? firstPart(addr, size) : size;
        long be = loadPartBe(as, addr, first, 0, faults, subpage);
        be = loadPartBe(as, addr + first, size - first, be, faults, subpage);
        long v = big ? be : Long.reverseBytes(be) >>> (64 - 8 * size);
        return size == 4 ? (int) v : v;
    }

    /**
     * @param as the address space, whose view now says which pages are subpage pages
     * @param addr guest address
     * @param size bytes
     * @return whether a vCPU makes the access in pieces ({@link #load}, {@link #store}), not whole
     *     through the space's ld/st
     */
    public static boolean inPieces(AddressSpace as, long addr, int size) {
        return !whole(addr, size, subpages(as));
    }

    /** Whether a vCPU makes the access whole through the space: no pieces, and not on a subpage page (or wrapping). */
    private static boolean whole(long addr, int size, LongPredicate subpage) {
        return !splits(addr, size) && (wraps(addr, size) || !subpage.test(addr & -PAGE));
    }

    private static boolean wraps(long addr, int size) {
        return Long.compareUnsigned(addr, -size) > 0;
    }

    /**
     * One page's part of a load made in pieces.
     *
     * @param addr the part's first byte
     * @param n its bytes (all on one page)
     * @param be the bytes before it, big-endian
     * @param faults receives the failed pieces; may be null
     * @param subpage whether the page at this address is a subpage page
     * @return {@code be} with the part's bytes appended
     */
    public static long loadPartBe(AddressSpace as, long addr, int n, long be, List<Fault> faults,
                                  LongPredicate subpage) {
        boolean shared = n > 0 && subpage.test(addr & -PAGE);
        for (Piece p : pieces(addr, n)) {
            long[] vr = pieceLoad(as, p, shared);
            if (vr[1] != MemTxResult.OK && faults != null) {
                faults.add(new Fault(p.addr(), p.size(), false, (int) vr[1]));
            }
            be = p.size() == 8 ? vr[0] : be << (8 * p.size()) | (vr[0] & ((1L << (8 * p.size())) - 1));
        }
        return be;
    }

    /**
     * One piece's load: the space's ld, or on a subpage page QEMU's {@code subpage_read}: refused
     * whole ({@code DECODE_ERROR}, 0) unless {@code accessValid}, else the buffer read, 0 if it failed.
     *
     * @return {value big-endian, result}
     */
    private static long[] pieceLoad(AddressSpace as, Piece p, boolean subpage) {
        if (!subpage) {
            MemTxResultHolder r = new MemTxResultHolder();
            long v = SizedAccess.load(as, p.addr(), p.size(), true, r);
            return new long[] {v, r.get()};
        }
        if (!as.accessValid(p.addr(), p.size(), false, MemTxAttrs.UNSPECIFIED)) {
            return new long[] {0, MemTxResult.DECODE_ERROR};
        }
        byte[] b = new byte[p.size()];
        int r = as.read(p.addr(), MemTxAttrs.UNSPECIFIED, b, 0, b.length);
        long v = 0;
        for (int k = 0; k < b.length && r == MemTxResult.OK; k++) {
            v = v << 8 | (b[k] & 0xFF);
        }
        return new long[] {v, r};
    }

    /**
     * Stores as a vCPU does, with the view's subpage pages.
     *
     * @param v the value (its low {@code size} bytes)
     * @param dropsPage whether the page at this address drops CPU stores
     * @param faults receives the failed pieces (or the failed access), in order; may be null
     */
    public static void store(AddressSpace as, long addr, int size, boolean big, long v, LongPredicate dropsPage,
                             List<Fault> faults) {
        store(as, addr, size, big, v, dropsPage, faults, subpages(as));
    }

    /**
     * Stores as a vCPU does: a page {@code dropsPage} names (the view makes it read-only RAM) takes
     * none of its bytes, without a fault; in pieces as {@link #load} makes them, on a subpage page by
     * QEMU's {@code subpage_write} ({@code accessValid}, then the buffer write).
     *
     * @param v the value (its low {@code size} bytes)
     * @param dropsPage whether the page at this address drops CPU stores
     * @param faults receives the failed pieces (or the failed access), in order; may be null
     * @param subpage whether the page at this address is a subpage page
     */
    public static void store(AddressSpace as, long addr, int size, boolean big, long v, LongPredicate dropsPage,
                             List<Fault> faults, LongPredicate subpage) {
        boolean onePage = ((addr ^ (addr + size - 1)) & -PAGE) == 0;
        if (onePage && dropsPage.test(addr & -PAGE)) {
            return; // (an access wrapping past 2^64 is the space's error, whole)
        }
        if (whole(addr, size, subpage)) {
            int r = SizedAccess.store(as, addr, size, big, v);
            if (r != MemTxResult.OK && faults != null) {
                faults.add(new Fault(addr, size, true, r));
            }
            return;
        }
        long le = big ? Long.reverseBytes(v) >>> (64 - 8 * size) : v; // memory order, first byte lowest
        int first = crosses(addr, size) ? firstPart(addr, size) : size;
        for (long part : new long[] {addr, addr + first}) {
            int n = part == addr ? first : size - first;
            if (n == 0) {
                continue;
            }
            if (dropsPage.test(part & -PAGE)) {
                le >>>= 8 * n;
                continue;
            }
            boolean shared = subpage.test(part & -PAGE);
            for (Piece p : pieces(part, n)) {
                int r = pieceStore(as, p, le, shared);
                if (r != MemTxResult.OK && faults != null) {
                    faults.add(new Fault(p.addr(), p.size(), true, r));
                }
                le = p.size() == 8 ? 0 : le >>> (8 * p.size());
            }
        }
    }

    /** One piece's store (its bytes the low ones of {@code le}): the space's st, or QEMU's {@code subpage_write}. */
    private static int pieceStore(AddressSpace as, Piece p, long le, boolean subpage) {
        if (!subpage) {
            return SizedAccess.store(as, p.addr(), p.size(), false, le);
        }
        if (!as.accessValid(p.addr(), p.size(), true, MemTxAttrs.UNSPECIFIED)) {
            return MemTxResult.DECODE_ERROR;
        }
        byte[] b = new byte[p.size()];
        for (int k = 0; k < b.length; k++) {
            b[k] = (byte) (le >>> (8 * k));
        }
        return as.write(p.addr(), MemTxAttrs.UNSPECIFIED, b, 0, b.length);
    }
}
