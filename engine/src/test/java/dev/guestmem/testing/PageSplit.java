package dev.guestmem.testing;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
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
 * pieces give the same bytes). An aligned access on one page, or one that wraps past 2^64, is the
 * space's own access, whole.
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
    public static boolean splits(long addr, int size) {
        boolean wraps = Long.compareUnsigned(addr, -size) > 0;
        return !wraps && (crosses(addr, size) || (addr & (size - 1)) != 0);
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
     * Loads as a vCPU does.
     *
     * @param faults receives the failed pieces (or the failed access), in order; may be null
     * @return the value, widened as the {@code VcpuTlb} accessor of that size widens it
     */
    public static long load(AddressSpace as, long addr, int size, boolean big, List<Fault> faults) {
        MemTxResultHolder r = new MemTxResultHolder();
        if (!splits(addr, size)) {
            long v = SizedAccess.load(as, addr, size, big, r);
            if (r.get() != MemTxResult.OK && faults != null) {
                faults.add(new Fault(addr, size, false, r.get()));
            }
            return v;
        }
        int first = crosses(addr, size) ? firstPart(addr, size) : size;
        long be = loadPartBe(as, addr, first, 0, faults);
        be = loadPartBe(as, addr + first, size - first, be, faults);
        long v = big ? be : Long.reverseBytes(be) >>> (64 - 8 * size);
        return size == 4 ? (int) v : v;
    }

    /**
     * One page's part of a crossing load: its pieces through the space.
     *
     * @param addr the part's first byte
     * @param n its bytes (all on one page)
     * @param be the bytes before it, big-endian
     * @param faults receives the failed pieces; may be null
     * @return {@code be} with the part's bytes appended
     */
    public static long loadPartBe(AddressSpace as, long addr, int n, long be, List<Fault> faults) {
        MemTxResultHolder r = new MemTxResultHolder();
        for (Piece p : pieces(addr, n)) {
            long v = SizedAccess.load(as, p.addr(), p.size(), true, r);
            if (r.get() != MemTxResult.OK && faults != null) {
                faults.add(new Fault(p.addr(), p.size(), false, r.get()));
            }
            be = p.size() == 8 ? v : be << (8 * p.size()) | (v & ((1L << (8 * p.size())) - 1));
        }
        return be;
    }

    /**
     * Stores as a vCPU does: a page {@code dropsPage} names (the view makes it read-only RAM) takes
     * none of its bytes, without a fault.
     *
     * @param v the value (its low {@code size} bytes)
     * @param dropsPage whether the page at this address drops CPU stores
     * @param faults receives the failed pieces (or the failed access), in order; may be null
     */
    public static void store(AddressSpace as, long addr, int size, boolean big, long v, LongPredicate dropsPage,
                             List<Fault> faults) {
        boolean onePage = ((addr ^ (addr + size - 1)) & -PAGE) == 0;
        if (onePage && dropsPage.test(addr & -PAGE)) {
            return; // (an access wrapping past 2^64 is the space's error, whole)
        }
        if (!splits(addr, size)) {
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
            for (Piece p : pieces(part, n)) {
                int r = SizedAccess.store(as, p.addr(), p.size(), false, le);
                if (r != MemTxResult.OK && faults != null) {
                    faults.add(new Fault(p.addr(), p.size(), true, r));
                }
                le = p.size() == 8 ? 0 : le >>> (8 * p.size());
            }
        }
    }
}
