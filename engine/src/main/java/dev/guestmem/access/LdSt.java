package dev.guestmem.access;

import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The shared implementation of QEMU's {@code memory_ldst.c.inc} family: one load and one store per
 * access width, parameterised by the byte order's {@code static final} layout, so that each public
 * {@code ld*}/{@code st*} variant of {@link AddressSpace} is a one-line call that C2 inlines with a
 * constant layout.
 *
 * <p>The fast case is the address space's {@linkplain AddressSpace#fastSection() fast RAM section}
 * (one acquire load of an immutable {@link PhysSection}, then its final fields and one segment
 * access). Anything else (MMIO, another section, dirty logging without a dirty page, a fault-prone
 * block) takes {@link FlatViewAccess}'s full dispatch, which also refills the fast section.
 *
 * <p><b>Thread safety.</b> Stateless; allocation-free and lock-free on every path without an IOMMU.
 * Hot path: TARGETS P1, P2, P8 ({@code LoadStoreBench}, {@code DirtyStoreBench}).
 */
final class LdSt {
    private static final int READ_MASK = PhysSection.DIRECT_READ | PhysSection.FAULT_PRONE;
    private static final int WRITE_MASK = PhysSection.DIRECT_WRITE | PhysSection.FAULT_PRONE;
    /** Sections whose loads are not a plain MMIO dispatch of their own ops. */
    private static final int NOT_PLAIN_IO = PhysSection.DIRECT_READ | PhysSection.IOMMU | PhysSection.SUBPAGE
            | PhysSection.UNASSIGNED;

    private LdSt() {
    }

    /**
     * The segment offset of a direct read of {@code n} bytes at {@code addr} in {@code s}, or -1 when
     * the access is not a plain direct read of that section. Kept tiny so it inlines everywhere.
     */
    private static long readOffset(PhysSection s, long addr, int n) {
        long off = addr - s.start();
        if ((s.flags() & READ_MASK) == PhysSection.DIRECT_READ && off >= 0 && off <= s.sizeMinusOne() - (n - 1)) {
            return s.segmentOffset() + off;
        }
        return -1;
    }

    /** As {@link #readOffset} for a direct write; dirty-logged sections pass (the caller marks). */
    private static long writeOffset(PhysSection s, long addr, int n) {
        long off = addr - s.start();
        if ((s.flags() & WRITE_MASK) == PhysSection.DIRECT_WRITE && off >= 0 && off <= s.sizeMinusOne() - (n - 1)) {
            return s.segmentOffset() + off;
        }
        return -1;
    }

    private static void ok(MemTxResultHolder res) {
        if (res != null) {
            res.set(MemTxResult.OK);
        }
    }

    /**
     * After a direct store to a dirty-logged section: marks the bytes dirty unless every client of
     * the section's mask already has the page dirty (QEMU's TLB_NOTDIRTY shortcut). Out of line: the
     * no-logging store never calls it.
     */
    private static void afterStore(AddressSpace as, PhysSection s, long so, int n) {
        if ((s.flags() & PhysSection.DIRTY_LOGGING) != 0) {
            FlatViewAccess.dirty(as, s, so, n);
        }
    }

    /**
     * A load that missed the fast RAM section: a plain single-chunk MMIO read of the dispatch
     * table's MRU section through {@link MmioDispatch#readPlain} (P4), else the full dispatch.
     */
    private static long ioOrSlow(AddressSpace as, long addr, int size, boolean big, MemTxAttrs attrs,
                                 MemTxResultHolder res) {
        PhysSection s = as.dispatch().mru();
        if (s != null && (s.flags() & NOT_PLAIN_IO) == 0) {
            MemoryRegionOps ops = s.ops();
            long off = addr - s.start();
            if (ops != null && (ops.plainReadSizes() & size) != 0 && off >= 0 && off <= s.sizeMinusOne() - (size - 1)) {
                long xlat = off + s.offsetWithinRegion();
                if ((xlat & (size - 1)) == 0 || ops.validUnaligned()) {
                    return MmioDispatch.readPlain(ops, s.guard(), s.region(), xlat, size, big, attrs, res);
                }
            }
        }
        return FlatViewAccess.load(as, addr, size, big, attrs, res);
    }

    static int ld8(AddressSpace as, long addr, MemTxAttrs attrs, MemTxResultHolder res) {
        PhysSection s = as.fastSection();
        long so = readOffset(s, addr, 1);
        if (so >= 0) {
            try {
                int v = Byte.toUnsignedInt(s.segment().get(ValueLayout.JAVA_BYTE, so));
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return (int) FlatViewAccess.loadFault(s, so, 1, e, res);
            }
        }
        return (int) ioOrSlow(as, addr, 1, false, attrs, res);
    }

    static int ld16(AddressSpace as, long addr, ValueLayout.OfShort l, boolean big, MemTxAttrs attrs,
                    MemTxResultHolder res) {
        PhysSection s = as.fastSection();
        long so = readOffset(s, addr, 2);
        if (so >= 0) {
            try {
                int v = Short.toUnsignedInt(s.segment().get(l, so));
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return (int) FlatViewAccess.loadFault(s, so, 2, e, res);
            }
        }
        return (int) ioOrSlow(as, addr, 2, big, attrs, res);
    }

    static int ld32(AddressSpace as, long addr, ValueLayout.OfInt l, boolean big, MemTxAttrs attrs,
                    MemTxResultHolder res) {
        PhysSection s = as.fastSection();
        long so = readOffset(s, addr, 4);
        if (so >= 0) {
            try {
                int v = s.segment().get(l, so);
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return (int) FlatViewAccess.loadFault(s, so, 4, e, res);
            }
        }
        return (int) ioOrSlow(as, addr, 4, big, attrs, res);
    }

    static long ld64(AddressSpace as, long addr, ValueLayout.OfLong l, boolean big, MemTxAttrs attrs,
                     MemTxResultHolder res) {
        PhysSection s = as.fastSection();
        long so = readOffset(s, addr, 8);
        if (so >= 0) {
            try {
                long v = s.segment().get(l, so);
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.loadFault(s, so, 8, e, res);
            }
        }
        return ioOrSlow(as, addr, 8, big, attrs, res);
    }

    static int st8(AddressSpace as, long addr, int val, MemTxAttrs attrs) {
        PhysSection s = as.fastSection();
        long so = writeOffset(s, addr, 1);
        if (so >= 0) {
            MemorySegment seg = s.segment();
            try {
                seg.set(ValueLayout.JAVA_BYTE, so, (byte) val);
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(s, so, 1, e);
            }
            afterStore(as, s, so, 1);
            return MemTxResult.OK;
        }
        return FlatViewAccess.store(as, addr, 1, false, val & 0xFFL, attrs);
    }

    static int st16(AddressSpace as, long addr, int val, ValueLayout.OfShort l, boolean big, MemTxAttrs attrs) {
        PhysSection s = as.fastSection();
        long so = writeOffset(s, addr, 2);
        if (so >= 0) {
            try {
                s.segment().set(l, so, (short) val);
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(s, so, 2, e);
            }
            afterStore(as, s, so, 2);
            return MemTxResult.OK;
        }
        return FlatViewAccess.store(as, addr, 2, big, val & 0xFFFFL, attrs);
    }

    static int st32(AddressSpace as, long addr, int val, ValueLayout.OfInt l, boolean big, MemTxAttrs attrs) {
        PhysSection s = as.fastSection();
        long so = writeOffset(s, addr, 4);
        if (so >= 0) {
            try {
                s.segment().set(l, so, val);
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(s, so, 4, e);
            }
            afterStore(as, s, so, 4);
            return MemTxResult.OK;
        }
        return FlatViewAccess.store(as, addr, 4, big, Integer.toUnsignedLong(val), attrs);
    }

    static int st64(AddressSpace as, long addr, long val, ValueLayout.OfLong l, boolean big, MemTxAttrs attrs) {
        PhysSection s = as.fastSection();
        long so = writeOffset(s, addr, 8);
        if (so >= 0) {
            try {
                s.segment().set(l, so, val);
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(s, so, 8, e);
            }
            afterStore(as, s, so, 8);
            return MemTxResult.OK;
        }
        return FlatViewAccess.store(as, addr, 8, big, val, attrs);
    }
}
