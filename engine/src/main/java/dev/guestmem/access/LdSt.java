package dev.guestmem.access;

import static dev.guestmem.internal.ByteOrderLayouts.HOST_BIG;

import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The shared implementation of QEMU's {@code memory_ldst.c.inc} family: one load and one store per
 * access width, parameterised by the access's byte order, so that each public {@code ld*}/{@code st*}
 * variant of {@link LoadStoreAccessors} is a one-line call. Segments are always accessed through the
 * native-order {@code static final} layout and the value swapped when needed: a standalone compile
 * of a body (hot from many call sites) then has no non-constant VarHandle and stays small, which
 * keeps C2 willing to inline it into every caller ("already compiled into a big method" otherwise).
 *
 * <p>The fast case is the address space's fast window (one load of an immutable
 * {@link DirectWindow}, its start and slice, then {@link #fits}, which C2 merges with the segment's
 * own bounds check, and the segment access). A load reads the window after an acquire fence, a
 * store with a plain read and its {@link DirectWindow#writable()} flag on the same read slice: in
 * an emulator's load-then-store (an x86 {@code add [mem], reg}, P1) C2 then reads the window once
 * and checks the segment once, as for the raw baseline's {@code get} and {@code set}. Stores to
 * dirty-logged RAM take the window's logged slice and then mark the bytes through the window. A
 * load that misses tries the space's fast MMIO section (a plain one-call read of a device). Then,
 * out of line ({@link MissPath}), a load or store tries the space's previous RAM section, a load
 * its previous MMIO section, a store its two MMIO sections for stores
 * ({@link FlatViewAccess#loadMissed}, {@link FlatViewAccess#storeMissed}); anything else (another section, a fault-prone block, IOMMU,
 * subpages, unassigned) takes {@link FlatViewAccess}'s full dispatch, which refills the slots.
 *
 * <p>The fast paths call nothing C2 might decline to inline: the byte swap and the result are
 * written out in each method. In a JVM whose early accesses mostly missed, the fast path's call
 * sites look rare to C2, and it refused even a 10-byte helper there ("low call site frequency"),
 * which left two calls in every guest load ({@code P1warm}).
 *
 * <p>A direct access can fail two ways. {@code IllegalStateException}: the block was released
 * between reading the window and the access (a racing topology change); the access then runs again
 * through the full dispatch of the current table, so it completes against the map after the change
 * (a store whose exception arrived after it was written, which only an interpreted frame can see
 * during an arena's close, is then written twice: once to the released block). {@code
 * InternalError}: SIGBUS, which a window can meet on an anonymous or memfd block whose missing pages
 * a dead lazy-restore page server left poisoned; that goes to the section's block through the fenced
 * accessors, which mark it broken, and answers {@code MEMTX_ERROR}.
 *
 * <p><b>Thread safety.</b> Stateless; allocation-free and lock-free on every path without an IOMMU.
 * Hot path: TARGETS P1, P2, P8 ({@code LoadStoreBench}, {@code DirtyStoreBench}).
 */
final class LdSt {
    static final ValueLayout.OfShort U16_NE = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfInt U32_NE = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong U64_NE = ValueLayout.JAVA_LONG_UNALIGNED;
    private LdSt() {
    }

    /**
     * Whether an access of {@code n} bytes at offset {@code off} of a direct window fits in it. A
     * non-direct section's window has length 0, so this one test is the whole fast-path decision.
     * It is written as the JDK's own bounds check of the access that follows ({@code checkIndex(off,
     * byteSize - n + 1)}: the limit's sign test, then an unsigned compare), so that C2 shares the
     * limit and its sign test with the segment's check (the compiled code keeps the unsigned compare
     * twice, one macro-fused compare-and-branch each). An address below the section makes
     * {@code off} wrap to a huge unsigned value, so it fails too.
     */
    static boolean fits(long off, MemorySegment window, int n) {
        long limit = window.byteSize() - n + 1;
        if (limit < 0) {
            return false;
        }
        return Long.compareUnsigned(off, limit) < 0;
    }

    /**
     * A load that missed the fast window: a plain single-chunk MMIO read of the space's fast MMIO
     * section through {@link MmioDispatch.EngineAccess#readPlain} (P4), else the full dispatch (which
     * refills both fast slots).
     */
    private static long ioOrSlow(AddressSpace as, long addr, int size, boolean big, MemTxAttrs attrs,
                                 MemTxResultHolder res) {
        PhysSection s = as.fastIo();
        if (FlatViewAccess.oneCall(s, s.plainReadSizes(), addr - s.start(), size)) {
            return plainRead(s, addr, size, big, attrs, res);
        }
        return MissPath.load(as, addr, size, big, attrs, res);
    }

    /** A read {@link FlatViewAccess#oneCall} allowed: the guard, one callback, truncation, byte order. */
    static long plainRead(PhysSection s, long addr, int size, boolean big, MemTxAttrs attrs,
                                  MemTxResultHolder res) {
        long xlat = addr - s.start() + s.offsetWithinRegion();
        return FlatViewAccess.MMIO.readPlain(s.ops(), s.plainRead(), s.guard(), s.region(), xlat, size, big,
                s.deviceBigEndian(), attrs, res);
    }

    /**
     * QEMU's {@code io_readx}: a load a soft TLB found to be MMIO of section {@code s}. One plain call
     * of the device when {@link FlatViewAccess#oneCall} (and the region is not flush-coalesced: the
     * fast MMIO slot never holds such a region, this path has no slot to drop, so it reads the flag); else,
     * for a device-only section with a plain read callback holding {@code addr}, every rule of the
     * dispatch on that section (splitting, {@code accepts}, the flush); else the full dispatch of
     * {@code addr} (a device with only an attrs-taking read needs its scratch). A section of another
     * machine is only a hint not taken.
     */
    static long ioLoad(AddressSpace as, PhysSection s, long addr, int size, boolean big, MemTxAttrs attrs,
                       MemTxResultHolder res) {
        long off = addr - s.start();
        if (s.isDeviceOnly() && s.region().system() == as.system()) { // (a plainly read section is device-only)
            if (FlatViewAccess.readsInOneCall(s, off, size)) {
                return plainRead(s, addr, size, big, attrs, res);
            }
            if (s.ops().read() != null && FlatViewAccess.holdsFirstByte(s, addr, size)) {
                return FlatViewAccess.mmioRead(s, off + s.offsetWithinRegion(), size, big, attrs, res);
            }
        }
        return MissPath.load(as, addr, size, big, attrs, res);
    }

    /**
     * QEMU's {@code io_writex}: a store a soft TLB found to be MMIO of section {@code s}, to the
     * device as the full dispatch would send it (the whole access to the region of its first byte,
     * eventfds, coalesced-MMIO flush, IOMMU invalidations owed after it), without looking
     * {@code addr} up again; else the full dispatch of {@code addr}.
     */
    static int ioStore(AddressSpace as, PhysSection s, long addr, int size, boolean big, long val, MemTxAttrs attrs) {
        if (FlatViewAccess.holdsFirstByte(s, addr, size) && s.region().system() == as.system()) {
            return FlatViewAccess.deviceStore(s, addr, size, big, val, attrs);
        }
        return MissPath.store(as, addr, size, big, val, attrs);
    }

    static int ld8(AddressSpace as, long addr, MemTxAttrs attrs, MemTxResultHolder res) {
        DirectWindow w = as.fastWindowForLoad();
        MemorySegment ram = w.read();
        long off = addr - w.start();
        if (fits(off, ram, 1)) {
            try {
                int v = Byte.toUnsignedInt(ram.get(ValueLayout.JAVA_BYTE, off));
                if (res != null) {
                    res.set(MemTxResult.OK);
                }
                return v;
            } catch (IllegalStateException released) {
                return (int) FlatViewAccess.load(as, addr, 1, false, attrs, res);
            } catch (InternalError sigbus) {
                return (int) FlatViewAccess.loadFault(w.section(), w.segmentOffset() + off, 1, sigbus, res);
            }
        }
        return (int) ioOrSlow(as, addr, 1, false, attrs, res);
    }

    static int ld16(AddressSpace as, long addr, boolean big, MemTxAttrs attrs,
                    MemTxResultHolder res) {
        DirectWindow w = as.fastWindowForLoad();
        MemorySegment ram = w.read();
        long off = addr - w.start();
        if (fits(off, ram, 2)) {
            try {
                short raw = ram.get(U16_NE, off);
                int v = Short.toUnsignedInt(big != HOST_BIG ? Short.reverseBytes(raw) : raw);
                if (res != null) {
                    res.set(MemTxResult.OK);
                }
                return v;
            } catch (IllegalStateException released) {
                return (int) FlatViewAccess.load(as, addr, 2, big, attrs, res);
            } catch (InternalError sigbus) {
                return (int) FlatViewAccess.loadFault(w.section(), w.segmentOffset() + off, 2, sigbus, res);
            }
        }
        return (int) ioOrSlow(as, addr, 2, big, attrs, res);
    }

    static int ld32(AddressSpace as, long addr, boolean big, MemTxAttrs attrs,
                    MemTxResultHolder res) {
        DirectWindow w = as.fastWindowForLoad();
        MemorySegment ram = w.read();
        long off = addr - w.start();
        if (fits(off, ram, 4)) {
            try {
                int raw = ram.get(U32_NE, off);
                int v = big != HOST_BIG ? Integer.reverseBytes(raw) : raw;
                if (res != null) {
                    res.set(MemTxResult.OK);
                }
                return v;
            } catch (IllegalStateException released) {
                return (int) FlatViewAccess.load(as, addr, 4, big, attrs, res);
            } catch (InternalError sigbus) {
                return (int) FlatViewAccess.loadFault(w.section(), w.segmentOffset() + off, 4, sigbus, res);
            }
        }
        return (int) ioOrSlow(as, addr, 4, big, attrs, res);
    }

    static long ld64(AddressSpace as, long addr, boolean big, MemTxAttrs attrs,
                     MemTxResultHolder res) {
        DirectWindow w = as.fastWindowForLoad();
        MemorySegment ram = w.read();
        long off = addr - w.start();
        if (fits(off, ram, 8)) {
            try {
                long raw = ram.get(U64_NE, off);
                long v = big != HOST_BIG ? Long.reverseBytes(raw) : raw;
                if (res != null) {
                    res.set(MemTxResult.OK);
                }
                return v;
            } catch (IllegalStateException released) {
                return FlatViewAccess.load(as, addr, 8, big, attrs, res);
            } catch (InternalError sigbus) {
                return FlatViewAccess.loadFault(w.section(), w.segmentOffset() + off, 8, sigbus, res);
            }
        }
        return ioOrSlow(as, addr, 8, big, attrs, res);
    }

    /**
     * After a store through the fast window {@code w}: if a newer view was published meanwhile (a
     * dirty client started logging: global migration logging, a display's {@code setLog}), marks the
     * bytes with the region's mask of this moment, as QEMU's {@code invalidate_and_set_dirty} reads
     * it after the store. Without this a store that read the window before the publication and
     * landed after a migration's first pass had copied its page was never logged
     * ({@code LogStartRaceTest}). A window read after the publication is the new one, and a store
     * older than the publication is ordered before the migration's copy by the clear's membarrier
     * (where there is none, the fence below does it).
     */
    private static void republished(AddressSpace as, DirectWindow w, long off, long len) {
        if (DirtyMemory.writersFence()) {
            VarHandle.fullFence(); // no membarrier for the clearer: order the store before the load below
        }
        if (as.fastWindow() != w) {
            FlatViewAccess.dirty(w.section(), w.segmentOffset() + off, len);
        }
    }

    static int st8(AddressSpace as, long addr, int val, MemTxAttrs attrs) {
        DirectWindow w = as.fastWindowForStore();
        MemorySegment ram = w.read(); // the slice a load just before tested, if any: one set of checks
        long off = addr - w.start();
        if (w.writable() && fits(off, ram, 1)) {
            try {
                ram.set(ValueLayout.JAVA_BYTE, off, (byte) val);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 1, false, val & 0xFFL, attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 1, sigbus);
            }
            republished(as, w, off, 1);
            return MemTxResult.OK;
        }
        ram = w.loggedWrite(); // dirty-logged RAM: the store, then the marking
        if (fits(off, ram, 1)) {
            try {
                ram.set(ValueLayout.JAVA_BYTE, off, (byte) val);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 1, false, val & 0xFFL, attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 1, sigbus);
            }
            w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 1, w.dirtyMask());
            republished(as, w, off, 1);
            return MemTxResult.OK;
        }
        return MissPath.store(as, addr, 1, false, val & 0xFFL, attrs);
    }

    static int st16(AddressSpace as, long addr, int val, boolean big, MemTxAttrs attrs) {
        short hostOrder = big != HOST_BIG ? Short.reverseBytes((short) val) : (short) val;
        DirectWindow w = as.fastWindowForStore();
        MemorySegment ram = w.read(); // the slice a load just before tested, if any: one set of checks
        long off = addr - w.start();
        if (w.writable() && fits(off, ram, 2)) {
            try {
                ram.set(U16_NE, off, hostOrder);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 2, big, val & 0xFFFFL, attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 2, sigbus);
            }
            republished(as, w, off, 2);
            return MemTxResult.OK;
        }
        ram = w.loggedWrite(); // dirty-logged RAM: the store, then the marking
        if (fits(off, ram, 2)) {
            try {
                ram.set(U16_NE, off, hostOrder);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 2, big, val & 0xFFFFL, attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 2, sigbus);
            }
            w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 2, w.dirtyMask());
            republished(as, w, off, 2);
            return MemTxResult.OK;
        }
        return MissPath.store(as, addr, 2, big, val & 0xFFFFL, attrs);
    }

    static int st32(AddressSpace as, long addr, int val, boolean big, MemTxAttrs attrs) {
        int hostOrder = big != HOST_BIG ? Integer.reverseBytes(val) : val;
        DirectWindow w = as.fastWindowForStore();
        MemorySegment ram = w.read(); // the slice a load just before tested, if any: one set of checks
        long off = addr - w.start();
        if (w.writable() && fits(off, ram, 4)) {
            try {
                ram.set(U32_NE, off, hostOrder);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 4, big, Integer.toUnsignedLong(val), attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 4, sigbus);
            }
            republished(as, w, off, 4);
            return MemTxResult.OK;
        }
        ram = w.loggedWrite(); // dirty-logged RAM: the store, then the marking
        if (fits(off, ram, 4)) {
            try {
                ram.set(U32_NE, off, hostOrder);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 4, big, Integer.toUnsignedLong(val), attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 4, sigbus);
            }
            w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 4, w.dirtyMask());
            republished(as, w, off, 4);
            return MemTxResult.OK;
        }
        return MissPath.store(as, addr, 4, big, Integer.toUnsignedLong(val), attrs);
    }

    static int st64(AddressSpace as, long addr, long val, boolean big, MemTxAttrs attrs) {
        long hostOrder = big != HOST_BIG ? Long.reverseBytes(val) : val;
        DirectWindow w = as.fastWindowForStore();
        MemorySegment ram = w.read(); // the slice a load just before tested, if any: one set of checks
        long off = addr - w.start();
        if (w.writable() && fits(off, ram, 8)) {
            try {
                ram.set(U64_NE, off, hostOrder);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 8, big, val, attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 8, sigbus);
            }
            republished(as, w, off, 8);
            return MemTxResult.OK;
        }
        ram = w.loggedWrite(); // dirty-logged RAM: the store, then the marking
        if (fits(off, ram, 8)) {
            try {
                ram.set(U64_NE, off, hostOrder);
            } catch (IllegalStateException released) {
                return FlatViewAccess.store(as, addr, 8, big, val, attrs);
            } catch (InternalError sigbus) {
                return FlatViewAccess.ramFault(w.section(), w.segmentOffset() + off, 8, sigbus);
            }
            w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 8, w.dirtyMask());
            republished(as, w, off, 8);
            return MemTxResult.OK;
        }
        return MissPath.store(as, addr, 8, big, val, attrs);
    }
}
