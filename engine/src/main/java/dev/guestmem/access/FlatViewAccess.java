package dev.guestmem.access;

import static dev.guestmem.internal.ByteOrderLayouts.HOST_BIG;
import static dev.guestmem.internal.ByteOrderLayouts.U16_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U16_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_LE;

import dev.guestmem.MemorySystem;
import dev.guestmem.dispatch.AddressSpaceDispatch;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.flat.FlatView;
import dev.guestmem.internal.SigbusFence;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.iommu.OwedInvalidations;
import dev.guestmem.ioeventfd.IoeventfdList;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The slow access paths over one {@link FlatView}, as QEMU's {@code flatview_translate},
 * {@code flatview_read/write(_continue)}, {@code address_space_ld/st*_internal} and
 * {@code address_space_write_rom}. {@link AddressSpace} inlines the RAM fast path and falls back here.
 *
 * <p>Guest faults come back as {@link MemTxResult} bits, never as exceptions: a released RAM block
 * ({@link IllegalStateException} from its closed arena) or a SIGBUS on a truncated file mapping
 * ({@link InternalError}, which also marks the block broken) give {@link MemTxResult#ERROR}.
 *
 * <p><b>Thread safety.</b> Stateless; called by any thread without locks. The view passed in is an
 * immutable snapshot; IOMMU hops load the target space's current view with acquire.
 */
final class FlatViewAccess {

    private FlatViewAccess() {
    }

    /** {@code memory_access_is_direct}, from the flags precomputed at build time. */
    static boolean isDirect(PhysSection s, boolean isWrite, MemTxAttrs attrs) {
        int f = s.flags();
        if (!isWrite) {
            return (f & PhysSection.DIRECT_READ) != 0;
        }
        return (f & (attrs.debug() ? PhysSection.DIRECT_WRITE_DEBUG : PhysSection.DIRECT_WRITE)) != 0;
    }

    static String name(PhysSection s) {
        MemoryRegion mr = s.region();
        return mr == null ? "unassigned" : mr.name();
    }

    /** @return the eventfds of the section's region (none for unassigned space) */
    static IoeventfdList eventfds(PhysSection s) {
        MemoryRegion mr = s.region();
        return mr == null ? IoeventfdList.EMPTY : mr.ioeventfds();
    }

    /**
     * {@code flatview_translate} / {@code flatview_do_translate}: section lookup, RAM length clamp and
     * the IOMMU loop. After a translation through IOMMUs, {@code e} holds the last hop's target
     * space and, in {@code addrMask}, every hop's page mask ANDed ({@code page_mask}); without an
     * IOMMU on the way it is left as it was. A walk through more than
     * {@link IommuRegion#MAX_CHAIN} IOMMUs is a cycle and ends at the unassigned section.
     */
    static PhysSection translate(FlatView v, long addr, long len, boolean isWrite, MemTxAttrs attrs, Translation t,
                                 IommuTlbEntry e) {
        PhysSection s = v.dispatch().translateInternal(addr, len, true, t);
        long pageMask = -1;
        for (int hops = 0; (s.flags() & PhysSection.IOMMU) != 0; hops++) {
            IommuOps tr = ((IommuRegion) s.region()).iommuOps();
            long xlat = t.xlat();
            long plen = t.plen();
            e.targetAs = null;
            e.perm = IommuTlbEntry.NONE;
            e.pasid = 0;
            if (tr != null && hops < IommuRegion.MAX_CHAIN) { // past the bound: a cycle, refused below
                tr.translate(xlat, isWrite ? IommuTlbEntry.WO : IommuTlbEntry.RO, tr.attrsToIndex(attrs), e);
            }
            if ((e.perm & (isWrite ? IommuTlbEntry.WO : IommuTlbEntry.RO)) == 0 || e.targetAs == null) {
                PhysSection u = v.dispatch().unassignedSection();
                t.set(u, xlat, plen);
                return u;
            }
            long mask = e.addrMask;
            addr = (e.translatedAddr & ~mask) | (xlat & mask);
            long toPageEnd = (addr | mask) - addr + 1; // 0 means 2^64
            if (toPageEnd != 0 && Long.compareUnsigned(plen, toPageEnd) > 0) {
                plen = toPageEnd;
            }
            v = e.targetAs.currentMap(); // acquire; the target's current view
            s = v.dispatch().translateInternal(addr, plen, true, t);
            pageMask &= mask;
            e.addrMask = pageMask;
        }
        return s;
    }

    // ------------------------------------------------------------------ RAM faults

    /**
     * A direct RAM access threw: released block (ISE) or SIGBUS (InternalError, marks it broken).
     * The fault itself is reported, never the access re-run: a re-read finds no fault where only a
     * write needs a block (a hole on a full ext4 reads as zeros), and a re-run store could land late.
     */
    static int ramFault(PhysSection s, long segOffset, long len, Throwable fault) {
        RamBlock b = s.ramBlock();
        if (fault instanceof InternalError sigbus && b != null) {
            b.reportFault(segOffset, len, sigbus); // idempotent: returns at once on a broken block
        }
        return MemTxResult.ERROR;
    }

    static long loadFault(PhysSection s, long segOffset, int size, Throwable fault, MemTxResultHolder res) {
        int r = ramFault(s, segOffset, size, fault);
        if (res != null) {
            res.set(r);
        }
        return 0;
    }

    /**
     * QEMU's {@code invalidate_and_set_dirty(mr, ...)}: marks a direct write with the region's dirty
     * log mask at this moment ({@code memory_region_get_dirty_log_mask}), not the one of the view the
     * write went through. So a write between {@code setLog} (or the start of global logging) and the
     * commit that publishes it is logged, as in QEMU, and so is a write through a pointer handed out
     * earlier (a DMA mapping's unmap, a cache's invalidate). (The inlined fast path of {@link LdSt}
     * follows the published view instead, as QEMU's TLB follows its flushes.)
     *
     * <p>The bits are the region's system's: after an IOMMU into another machine's space the write
     * landed in that machine's RAM, indexed by its {@code ram_addr}s, and that machine's migration
     * must send it (QEMU has one {@code ram_list}; the accessing space's system would be the wrong
     * bitmap, as {@link PhysSection}'s window already knows).
     */
    static void dirty(PhysSection s, long segOffset, long len) {
        RamBlock b = s.ramBlock();
        MemoryRegion mr = s.region();
        if (b != null && mr != null) {
            int mask = mr.dirtyLogMask();
            MemorySystem sys = mr.system();
            // A block out of its machine's list (close() took it; another machine may have placed it
            // since) has no ram_addr there: a late DMA unmap or cache store marks nothing.
            if (mask != 0 && b.ramList() == sys.ramList()) {
                sys.dirtyMemory().invalidateAndSetDirty(b.offset() + segOffset, len, mask);
            }
        }
    }

    // ------------------------------------------------------------------ single loads and stores

    static long getRaw(MemorySegment seg, long off, int size, boolean big) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(seg.get(ValueLayout.JAVA_BYTE, off));
            case 2 -> Short.toUnsignedLong(seg.get(big ? U16_BE : U16_LE, off));
            case 4 -> Integer.toUnsignedLong(seg.get(big ? U32_BE : U32_LE, off));
            default -> seg.get(big ? U64_BE : U64_LE, off);
        };
    }

    static void setRaw(MemorySegment seg, long off, int size, boolean big, long v) {
        switch (size) {
            case 1 -> seg.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> seg.set(big ? U16_BE : U16_LE, off, (short) v);
            case 4 -> seg.set(big ? U32_BE : U32_LE, off, (int) v);
            default -> seg.set(big ? U64_BE : U64_LE, off, v);
        }
    }

    /**
     * {@code address_space_ld*_internal}: one load of {@code size} bytes. If the translated length is
     * short of the size (an access crossing a section), the whole access goes as MMIO to the first
     * region, as in QEMU (for RAM that means unassigned ops: decode error, 0).
     */
    static long load(AddressSpace as, long addr, int size, boolean big, MemTxAttrs attrs, MemTxResultHolder res) {
        if (Long.compareUnsigned(addr, -size) > 0) { // addr + size wraps past 2^64
            if (res != null) {
                res.set(MemTxResult.DECODE_ERROR);
            }
            return 0;
        }
        for (;;) {
            AddressSpaceDispatch d = as.dispatch();
            try {
                return loadOnce(as, d, addr, size, big, attrs, res);
            } catch (IllegalStateException released) {
                if (as.dispatch() == d) { // the current map still shows the released block
                    if (res != null) {
                        res.set(MemTxResult.ERROR);
                    }
                    return 0;
                }
                // a hot-unplug released the block between the lookup and the access: run the
                // access again on the map published since (the map after the change)
            }
        }
    }

    /** One attempt of {@link #load} on table {@code d}; throws IllegalStateException if a block it reaches was released. */
    private static long loadOnce(AddressSpace as, AddressSpaceDispatch d, long addr, int size, boolean big, MemTxAttrs attrs,
                                 MemTxResultHolder res) {
        PhysSection s = d.lookupRegion(addr, true);
        if ((s.flags() & (PhysSection.DIRECT_READ | PhysSection.FAULT_PRONE)) == PhysSection.DIRECT_READ) {
            as.cacheFastSection(d, s); // the next access to this RAM takes LdSt's fast path
        } else if (s.plainReadSizes() != 0) {
            as.cacheFastIo(d, s); // the next load of this device takes LdSt's MMIO fast path
        }
        if ((s.flags() & PhysSection.IOMMU) == 0) {
            // No IOMMU: translate_internal inline, no scratch objects (P4).
            long off = addr - s.start();
            long xlat = off + s.offsetWithinRegion();
            boolean whole = (s.flags() & PhysSection.IS_RAM) == 0
                    || Long.compareUnsigned(s.sizeMinusOne() - off, size - 1) >= 0;
            MemoryRegionOps ops = s.ops();
            if (!whole || !isDirect(s, false, attrs)) {
                if (ops == null || ops.read() != null) {
                    return mmioRead(s, xlat, size, big, attrs, res);
                }
            } else {
                return loadRam(s, xlat, size, big, res);
            }
        }
        return loadThrough(as.currentMap(), addr, size, big, attrs, res);
    }

    /**
     * {@code memory_region_dispatch_read} on the section's region after the coalesced-MMIO flush, for
     * a section whose ops have a plain read callback (or none: unassigned), every rule applied.
     */
    static long mmioRead(PhysSection s, long xlat, int size, boolean big, MemTxAttrs attrs, MemTxResultHolder res) {
        prepareMmio(s);
        return MmioDispatch.readValue(s.ops(), s.guard(), name(s), xlat, size, big, attrs, null, res);
    }

    /**
     * A load translated from view {@code v} (its IOMMUs followed into their targets' current views),
     * the whole access as MMIO to the first region if it crosses out of it; throws
     * IllegalStateException if a block it reaches was released. Used by {@code loadOnce} with the
     * current view and by a {@link MemoryRegionCache} over an IOMMU with the view it pinned.
     */
    static long loadThrough(FlatView v, long addr, int size, boolean big, MemTxAttrs attrs, MemTxResultHolder res) {
        AccessScratch sc = AccessScratch.acquire();
        try {
            PhysSection s = translate(v, addr, size, false, attrs, sc.t, sc.e);
            long xlat = sc.t.xlat();
            long l = sc.t.plen();
            if (Long.compareUnsigned(l, size) < 0 || !isDirect(s, false, attrs)) {
                prepareMmio(s);
                return MmioDispatch.readValue(s.ops(), s.guard(), name(s), xlat, size, big, attrs, sc.v, res);
            }
            return loadRam(s, xlat, size, big, res);
        } finally {
            sc.release();
        }
    }

    /**
     * A load from a RAM section's block at {@code xlat}, fenced if the block can fault; a fault is
     * {@code ERROR}, an offset past the block {@code DECODE_ERROR}. A released block's
     * IllegalStateException goes to the caller (load runs the access again on the newer map).
     */
    static long loadRam(PhysSection s, long xlat, int size, boolean big, MemTxResultHolder res) {
        int r;
        long val;
        try {
            val = (s.flags() & PhysSection.FAULT_PRONE) != 0
                    ? SigbusFence.get(s.segment(), xlat, size, big) : getRaw(s.segment(), xlat, size, big);
            r = MemTxResult.OK;
        } catch (InternalError | IndexOutOfBoundsException e) { // a released block's IllegalStateException goes up to load
            r = e instanceof IndexOutOfBoundsException ? MemTxResult.DECODE_ERROR : ramFault(s, xlat, size, e);
            val = 0;
        }
        if (res != null) {
            res.set(r);
        }
        return val;
    }

    /**
     * QEMU's {@code prepare_mmio_access}: before a device access to a flush-coalesced region, the
     * accelerator's buffered MMIO writes go out. The region's own flag, read at access time as QEMU
     * does, on the dispatch path only: the plain MMIO read fast path never holds such a region
     * ({@link AddressSpace#dropFastIo}).
     */
    static void prepareMmio(PhysSection s) {
        MemoryRegion r = s.region();
        if (r != null && r.isFlushCoalesced()) {
            r.system().flushCoalescedMmio();
        }
    }

    /** The trusting MMIO read and write, only for this package; a constant, so calls through it inline (P4). */
    static final MmioDispatch.EngineAccess MMIO = MmioDispatch.engineAccess(java.lang.invoke.MethodHandles.lookup());

    /**
     * Whether an access of {@code size} bytes at offset {@code off} of section {@code s} is one call
     * of its device: a size in {@code sizes} (the section's {@link PhysSection#plainReadSizes()} or
     * {@link PhysSection#plainWriteSizes()}, 0 for anything but plain MMIO), wholly inside the
     * section, aligned in the region or to a device that takes unaligned accesses (valid.unaligned,
     * for reads and writes alike).
     */
    static boolean oneCall(PhysSection s, int sizes, long off, int size) {
        if ((sizes & size) != 0 && off >= 0 && off <= s.sizeMinusOne() - (size - 1)) {
            long xlat = off + s.offsetWithinRegion();
            return (xlat & (size - 1)) == 0 || s.plainReadUnaligned();
        }
        return false;
    }

    /**
     * Whether a load of {@code size} bytes at offset {@code off} of {@code s} is one plain read of its
     * device with nothing before it: {@link #oneCall}, and the region is not flush-coalesced at this
     * moment (a section that did not come from the fast MMIO slot, which never holds such a region).
     */
    static boolean readsInOneCall(PhysSection s, long off, int size) {
        return oneCall(s, s.plainReadSizes(), off, size) && !s.region().isFlushCoalesced();
    }

    /**
     * {@code memory_region_dispatch_write} on the section's region, then what an IOMMU model's UNMAP
     * sent during it owes the soft TLBs ({@link OwedInvalidations#afterMmioWrite}: one plain field
     * read while nothing is owed). Every MMIO write of the access paths goes through here. A write
     * the section serves with one call ({@link PhysSection#plainWriteSizes()}, wholly inside it,
     * aligned or to a device that takes unaligned accesses) to a region with no eventfds at this
     * moment is that call ({@link MmioDispatch.EngineAccess#writePlain}); the rest take every rule.
     */
    static int mmioWrite(PhysSection s, long xlat, long val, int size, boolean big, MemTxAttrs attrs) {
        int r;
        if (oneCall(s, s.plainWriteSizes(), xlat - s.offsetWithinRegion(), size) && !s.region().hasIoeventfds()) {
            r = MMIO.writePlain(s.ops(), s.plainWrite(), s.guard(), s.region(), xlat, val, size, big,
                    s.deviceBigEndian(), attrs);
        } else {
            r = MmioDispatch.write(s.ops(), s.guard(), name(s), eventfds(s), xlat, val, size, big, attrs);
        }
        OwedInvalidations owed = s.owedInvalidations();
        if (owed != null) { // null: the unassigned section, no device
            owed.afterMmioWrite();
        }
        return r;
    }

    /**
     * A store that missed {@link LdSt}'s fast window ({@link MissPath}'s target): to the space's fast
     * MMIO section for stores when it holds {@code addr}, else its previous RAM section when that
     * holds the whole access and takes direct writes, else its previous MMIO section for stores,
     * which is what the full dispatch would do with it (a device-only section's stores always go to
     * its device, the whole access to the region of its first byte), else {@link #store}.
     */
    static int storeMissed(AddressSpace as, long addr, int size, boolean big, long val, MemTxAttrs attrs) {
        PhysSection s = as.fastIoStore();
        if (holdsFirstByte(s, addr, size)) {
            return deviceStore(s, addr, size, big, val, attrs);
        }
        s = as.previousRam();
        long off = addr - s.start();
        if (holdsDirect(s, off, size) && isDirect(s, true, attrs)) {
            as.countPreviousHit(s);
            try {
                return storeRam(s, off + s.offsetWithinRegion(), size, big, val);
            } catch (IllegalStateException released) {
                // its block was released since: the current view's answer
            }
        }
        s = as.previousIoStore();
        if (holdsFirstByte(s, addr, size)) {
            return deviceStore(s, addr, size, big, val, attrs);
        }
        return store(as, addr, size, big, val, attrs);
    }

    /** Whether {@code s} is device-only and holds {@code addr}, the access not wrapping past 2^64. */
    static boolean holdsFirstByte(PhysSection s, long addr, int size) {
        return s.isDeviceOnly() && Long.compareUnsigned(addr - s.start(), s.sizeMinusOne()) <= 0
                && Long.compareUnsigned(addr, -size) <= 0;
    }

    /** A store to device-only section {@code s} holding {@code addr}: the full dispatch's, without the lookup. */
    static int deviceStore(PhysSection s, long addr, int size, boolean big, long val, MemTxAttrs attrs) {
        prepareMmio(s);
        return mmioWrite(s, addr - s.start() + s.offsetWithinRegion(), val, size, big, attrs);
    }

    /**
     * A load that missed the fast window and the fast MMIO section ({@link MissPath}'s target): from
     * the space's {@linkplain AddressSpace#previousRam() previous RAM section} when the whole access
     * lies in it, or one call of its {@linkplain AddressSpace#previousIo() previous MMIO section}'s
     * device, which is what the full dispatch would do with it, else {@link #load}.
     */
    static long loadMissed(AddressSpace as, long addr, int size, boolean big, MemTxAttrs attrs, MemTxResultHolder res) {
        PhysSection s = as.previousRam();
        long off = addr - s.start();
        if (holdsDirect(s, off, size)) {
            as.countPreviousHit(s);
            try {
                return loadRam(s, off + s.offsetWithinRegion(), size, big, res);
            } catch (IllegalStateException released) {
                // its block was released since: the current view's answer
            }
        }
        s = as.previousIo();
        if (readsInOneCall(s, addr - s.start(), size)) {
            as.countPreviousIoHit(s);
            return LdSt.plainRead(s, addr, size, big, attrs, res);
        }
        return load(as, addr, size, big, attrs, res);
    }

    /**
     * Whether section {@code s} is directly readable RAM holding all {@code size} bytes from offset
     * {@code off} (an address below it wraps {@code off} to a huge value): then the full dispatch of
     * the access finds {@code s} and reads it from the block ({@code loadOnce}'s whole test).
     */
    private static boolean holdsDirect(PhysSection s, long off, int size) {
        return (s.flags() & PhysSection.DIRECT_READ) != 0 && Long.compareUnsigned(off, s.sizeMinusOne()) <= 0
                && Long.compareUnsigned(s.sizeMinusOne() - off, size - 1) >= 0;
    }

    /** {@code address_space_st*_internal}. */
    static int store(AddressSpace as, long addr, int size, boolean big, long val, MemTxAttrs attrs) {
        if (Long.compareUnsigned(addr, -size) > 0) {
            return MemTxResult.DECODE_ERROR;
        }
        for (;;) {
            AddressSpaceDispatch d = as.dispatch();
            try {
                return storeOnce(as, d, addr, size, big, val, attrs);
            } catch (IllegalStateException released) {
                if (as.dispatch() == d) { // the current map still shows the released block
                    return MemTxResult.ERROR;
                }
                // released between the lookup and the access: again on the map published since
            }
        }
    }

    /** One attempt of {@link #store} on table {@code d}; throws IllegalStateException if a block it reaches was released. */
    private static int storeOnce(AddressSpace as, AddressSpaceDispatch d, long addr, int size, boolean big, long val,
                                 MemTxAttrs attrs) {
        PhysSection s = d.lookupRegion(addr, true);
        if ((s.flags() & (PhysSection.DIRECT_READ | PhysSection.FAULT_PRONE)) == PhysSection.DIRECT_READ) {
            as.cacheFastSection(d, s); // the next access to this RAM takes LdSt's fast path
        } else if (s.isDeviceOnly()) {
            as.cacheFastIoStore(d, s); // the next store to this device skips the lookup (storeMissed)
        }
        if ((s.flags() & PhysSection.IOMMU) == 0) {
            long off = addr - s.start();
            long xlat = off + s.offsetWithinRegion();
            boolean whole = (s.flags() & PhysSection.IS_RAM) == 0
                    || Long.compareUnsigned(s.sizeMinusOne() - off, size - 1) >= 0;
            if (!whole || !isDirect(s, true, attrs)) {
                prepareMmio(s);
                return mmioWrite(s, xlat, val, size, big, attrs);
            }
            return storeRam(s, xlat, size, big, val);
        }
        return storeThrough(as.currentMap(), addr, size, big, val, attrs);
    }

    /** The store counterpart of {@link #loadThrough}: translated from {@code v}, logged in the target region's system. */
    static int storeThrough(FlatView v, long addr, int size, boolean big, long val, MemTxAttrs attrs) {
        AccessScratch sc = AccessScratch.acquire();
        try {
            PhysSection s = translate(v, addr, size, true, attrs, sc.t, sc.e);
            long xlat = sc.t.xlat();
            long l = sc.t.plen();
            if (Long.compareUnsigned(l, size) < 0 || !isDirect(s, true, attrs)) {
                prepareMmio(s);
                return mmioWrite(s, xlat, val, size, big, attrs);
            }
            return storeRam(s, xlat, size, big, val);
        } finally {
            sc.release();
        }
    }

    /**
     * A store to a RAM section's block at {@code xlat}, logged; a released block's
     * IllegalStateException goes to the caller.
     */
    static int storeRam(PhysSection s, long xlat, int size, boolean big, long val) {
        try {
            if ((s.flags() & PhysSection.FAULT_PRONE) != 0) {
                SigbusFence.set(s.segment(), xlat, size, big, val);
            } else {
                setRaw(s.segment(), xlat, size, big, val);
            }
        } catch (InternalError | IndexOutOfBoundsException e) { // a released block's IllegalStateException goes up to store
            return e instanceof IndexOutOfBoundsException ? MemTxResult.DECODE_ERROR : ramFault(s, xlat, size, e);
        }
        dirty(s, xlat, size);
        return MemTxResult.OK;
    }

    // ------------------------------------------------------------------ buffers

    /**
     * Bytes from {@code a} (at most {@code rem}) that certainly belong to section {@code s}. The
     * unassigned section nominally covers all 2^64 addresses, so for it only the rest of a page that
     * is unassigned as a whole counts (a partly mapped page is a subpage: no shortcut there).
     */
    private static long silentSpan(FlatView v, PhysSection s, long a, long rem) {
        long last = s.last();
        if (s.isUnassigned()) {
            if (!v.dispatch().physPageFind(a).isUnassigned()) {
                return 0;
            }
            last = a | (dev.guestmem.dispatch.PhysPageMap.PAGE_SIZE - 1);
        }
        long in = last - a + 1; // 0 means 2^64
        return in == 0 || Long.compareUnsigned(rem, in) < 0 ? rem : in;
    }

    /** Stores the low {@code n} bytes of {@code v} in host order ({@code stn_he_p}). */
    static void putHostBytes(byte[] arr, int arrOff, MemorySegment seg, long segOff, int n, long v) {
        for (int i = 0; i < n; i++) {
            byte b = (byte) (HOST_BIG ? v >>> (8 * (n - 1 - i)) : v >>> (8 * i));
            if (arr != null) {
                arr[arrOff + i] = b;
            } else {
                seg.set(ValueLayout.JAVA_BYTE, segOff + i, b);
            }
        }
    }

    /** Loads {@code n} bytes in host order ({@code ldn_he_p}). */
    static long getHostBytes(byte[] arr, int arrOff, MemorySegment seg, long segOff, int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            long b = Byte.toUnsignedLong(arr != null ? arr[arrOff + i] : seg.get(ValueLayout.JAVA_BYTE, segOff + i));
            v |= HOST_BIG ? b << (8 * (n - 1 - i)) : b << (8 * i);
        }
        return v;
    }

    /** {@link #zero}, except into a caller's segment that itself faults (nothing to do there). */
    private static void zeroIfPossible(byte[] arr, int arrOff, MemorySegment seg, long segOff, long n) {
        try {
            zero(arr, arrOff, seg, segOff, n);
        } catch (InternalError callerMemoryFaults) {
            // the caller's destination is what faulted: the access already answers ERROR
        }
    }

    /**
     * A fault while copying between guest RAM and a caller's segment: only when the guest pages
     * themselves fault is the block reported broken ({@link #ramFault}); when they read fine, the
     * caller's own memory faulted (a file it mapped was truncated), and the access just answers
     * ERROR, leaving guest RAM in service.
     */
    static int copyFault(PhysSection s, long segOffset, long len, InternalError fault, MemorySegment callerSeg) {
        if (callerSeg != null && callerSeg.isNative() && guestPagesRead(s.segment(), segOffset, len)) {
            return MemTxResult.ERROR;
        }
        return ramFault(s, segOffset, len, fault);
    }

    /** Whether one byte of every page of {@code [off, off + len)} of guest RAM reads without a fault. */
    private static boolean guestPagesRead(MemorySegment ram, long off, long len) {
        try {
            for (long p = off; Long.compareUnsigned(p, off + len) < 0; p = (p | 0xFFF) + 1) {
                SigbusFence.get(ram, p, 1, false);
            }
            return true;
        } catch (InternalError | IllegalStateException guestFaults) {
            return false;
        }
    }

    private static void zero(byte[] arr, int arrOff, MemorySegment seg, long segOff, long n) {
        if (arr != null) {
            java.util.Arrays.fill(arr, arrOff, arrOff + (int) n, (byte) 0);
        } else {
            seg.asSlice(segOff, n).fill((byte) 0);
        }
    }

    /**
     * {@code flatview_read} / {@code flatview_write}: a buffer access, chunk by chunk: direct RAM
     * chunks are one copy each (clamped to the section); MMIO chunks follow {@code memory_access_size}.
     * Results are ORed and the loop always runs to the end. Exactly one of {@code arr} and
     * {@code seg} is non-null. An access whose end wraps past 2^64 is refused whole with
     * {@link MemTxResult#DECODE_ERROR} (QEMU would wrap to address 0).
     */
    static int rw(AddressSpace as, long addr, MemTxAttrs attrs, byte[] arr, int arrOff, MemorySegment seg,
                  long segOff, long len, boolean isWrite) {
        return rw(as, null, addr, attrs, arr, arrOff, seg, segOff, len, isWrite);
    }

    /**
     * {@link #rw} from view {@code pinned} when it is not null (a {@link MemoryRegionCache} over an
     * IOMMU: QEMU translates its accesses from the cached region, never from the space's current
     * view). A chunk whose block was released then answers ERROR instead of running again on the
     * newer view.
     */
    static int rw(AddressSpace as, FlatView pinned, long addr, MemTxAttrs attrs, byte[] arr, int arrOff,
                  MemorySegment seg, long segOff, long len, boolean isWrite) {
        if (len == 0) {
            return MemTxResult.OK;
        }
        if (Long.compareUnsigned(len - 1, -1L - addr) > 0) {
            return MemTxResult.DECODE_ERROR;
        }
        FlatView v = pinned != null ? pinned : as.currentMap();
        AccessScratch sc = AccessScratch.acquire();
        try {
            int result = MemTxResult.OK;
            long done = 0;
            boolean first = true;
            while (done != len) {
                long a = addr + done;
                long rem = len - done;
                PhysSection s = translate(v, a, rem, isWrite, attrs, sc.t, sc.e);
                long xlat = sc.t.xlat();
                long l = sc.t.plen();
                // flatview_access_allowed: attrs.memory refuses non-RAM (and stops the access).
                if (attrs.memory() && (s.flags() & PhysSection.IS_RAM) == 0) {
                    if (first) {
                        return MemTxResult.ACCESS_ERROR;
                    }
                    result |= MemTxResult.ACCESS_ERROR;
                    done += l;
                    continue;
                }
                first = false;
                int ai = arrOff + (int) done;
                long so = segOff + done;
                if (isDirect(s, isWrite, attrs)) {
                    MemorySegment ram = s.segment();
                    long avail = blockBytesFrom(ram, xlat); // qemu_ram_ptr_length: clamp to the block
                    if (avail <= 0) {
                        // Past the block (a region grown beyond it): nothing there, read as 0. Only to
                        // the section's end: a ROM device's length is not clamped to its section, and
                        // whatever follows it is served as usual.
                        long toEndMinus1 = s.sizeMinusOne() - (xlat - s.offsetWithinRegion());
                        if (Long.compareUnsigned(l - 1, toEndMinus1) > 0) {
                            l = toEndMinus1 + 1;
                        }
                        if (!isWrite) {
                            zero(arr, ai, seg, so, l);
                        }
                        result |= MemTxResult.DECODE_ERROR;
                        done += l;
                        continue;
                    }
                    if (Long.compareUnsigned(l, avail) > 0) {
                        l = avail;
                    }
                    try {
                        copy(ram, xlat, arr, ai, seg, so, l, isWrite, (s.flags() & PhysSection.FAULT_PRONE) != 0);
                        if (isWrite) {
                            dirty(s, xlat, l);
                        }
                    } catch (IllegalStateException released) {
                        FlatView now = as.currentMap();
                        if (pinned == null && now != v) { // unplugged under this chunk: again on the map after
                            v = now;
                            continue;
                        }
                        result |= MemTxResult.ERROR;
                        if (!isWrite) {
                            zero(arr, ai, seg, so, l);
                        }
                    } catch (InternalError e) {
                        result |= copyFault(s, xlat, l, e, seg);
                        if (!isWrite) {
                            zeroIfPossible(arr, ai, seg, so, l);
                        }
                    }
                    done += l;
                    continue;
                }
                MemoryRegionOps ops = s.ops();
                // flatview_read/write_continue_step: memory_access_size of the translated length,
                // which is clamped to the section for RAM kinds (a RAM device, ROM) and IOMMU pages.
                int c = MmioDispatch.accessSize(ops, l, xlat);
                if (ops == null && c == 4) {
                    // Nothing decodes here: every 4-byte chunk that stays inside the section is a
                    // side-effect-free decode error, so take them all at once (same result as QEMU's
                    // chunk-by-chunk loop, without 2^30 iterations over a 4 GiB hole).
                    long k = silentSpan(v, s, a, l) >>> 2;
                    if (k > 1) {
                        if (!isWrite) {
                            zero(arr, ai, seg, so, k << 2);
                        }
                        result |= MemTxResult.DECODE_ERROR;
                        done += k << 2;
                        continue;
                    }
                }
                prepareMmio(s);
                if (isWrite) {
                    long val = getHostBytes(arr, ai, seg, so, c);
                    result |= mmioWrite(s, xlat, val, c, HOST_BIG, attrs);
                } else {
                    result |= MmioDispatch.read(ops, s.guard(), name(s), xlat, c, HOST_BIG, attrs, sc.v);
                    putHostBytes(arr, ai, seg, so, c, sc.v.value);
                }
                done += c;
            }
            return result;
        } finally {
            sc.release();
        }
    }

    /**
     * {@code flatview_access_valid}: whether every chunk of {@code [addr, addr + len)} would be
     * accepted: direct chunks always are; others must pass {@code memory_region_access_valid} in
     * {@code memory_access_size} chunks (QEMU sizes them from the address-space address, not the
     * region offset, and so does this). Unassigned addresses, and an IOMMU refusing the access, are
     * not valid. A range wrapping past 2^64 is not valid either.
     */
    static boolean accessValid(AddressSpace as, long addr, long len, boolean isWrite, MemTxAttrs attrs) {
        if (len != 0 && Long.compareUnsigned(len - 1, -1L - addr) > 0) {
            return false;
        }
        FlatView v = as.currentMap();
        AccessScratch sc = AccessScratch.acquire();
        try {
            long done = 0;
            while (done != len) {
                long a = addr + done;
                PhysSection s = translate(v, a, len - done, isWrite, attrs, sc.t, sc.e);
                long l = sc.t.plen();
                if (!isDirect(s, isWrite, attrs)) {
                    l = MmioDispatch.accessSize(s.ops(), l, a);
                    if (s.ops() == null || !MmioDispatch.accessValid(s.ops(), name(s), sc.t.xlat(), (int) l, isWrite, attrs)) {
                        return false;
                    }
                }
                done += l;
            }
            return true;
        } finally {
            sc.release();
        }
    }

    /**
     * The bytes of a section's block from region offset {@code xlat} on: 0 past its end. {@code xlat}
     * is unsigned (a region grown past its block, to 2^64, has offsets past 2^63), so the plain
     * difference would come out positive there.
     *
     * @param ram the block's segment
     * @param xlat offset in the region (unsigned)
     * @return bytes left from {@code xlat}, 0 if none
     */
    static long blockBytesFrom(MemorySegment ram, long xlat) {
        return Long.compareUnsigned(xlat, ram.byteSize()) >= 0 ? 0 : ram.byteSize() - xlat;
    }

    static void copy(MemorySegment ram, long ramOff, byte[] arr, int ai, MemorySegment seg, long so, long l,
                     boolean isWrite, boolean fenced) {
        if (fenced) {
            if (arr != null) {
                if (isWrite) {
                    SigbusFence.fromArray(arr, ai, ram, ramOff, (int) l);
                } else {
                    SigbusFence.toArray(ram, ramOff, arr, ai, (int) l);
                }
            } else if (isWrite) {
                SigbusFence.copy(seg, so, ram, ramOff, l);
            } else {
                SigbusFence.copy(ram, ramOff, seg, so, l);
            }
            return;
        }
        if (arr != null) {
            if (isWrite) {
                MemorySegment.copy(arr, ai, ram, ValueLayout.JAVA_BYTE, ramOff, (int) l);
            } else {
                MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, ramOff, arr, ai, (int) l);
            }
        } else if (isWrite) {
            MemorySegment.copy(seg, so, ram, ramOff, l);
        } else {
            MemorySegment.copy(ram, ramOff, seg, so, l);
        }
    }

    /**
     * {@code address_space_write_rom}: writes RAM and ROM (and ROMD-mode ROM devices) directly;
     * other chunks are skipped silently. Always {@link MemTxResult#OK}, as in QEMU, except a write
     * wrapping past 2^64, which is refused with {@link MemTxResult#DECODE_ERROR}, and RAM or ROM
     * whose block is mapped read-only, which is skipped with {@link MemTxResult#ACCESS_ERROR} (QEMU
     * would store into the read-only mapping and crash). A chunk whose block
     * a hot-unplug releases under it is dropped: the write took effect on the map before the change,
     * in a block that is gone ({@link #rw} runs such a chunk again only so as not to answer ERROR,
     * which write_rom never does).
     */
    static int writeRom(AddressSpace as, long addr, MemTxAttrs attrs, byte[] arr, int arrOff, MemorySegment seg,
                        long segOff, long len) {
        if (len == 0) {
            return MemTxResult.OK;
        }
        if (Long.compareUnsigned(len - 1, -1L - addr) > 0) {
            return MemTxResult.DECODE_ERROR;
        }
        FlatView v = as.currentMap();
        AccessScratch sc = AccessScratch.acquire();
        try {
            long done = 0;
            int result = MemTxResult.OK;
            while (done != len) {
                long a = addr + done;
                long rem = len - done;
                PhysSection s = translate(v, a, rem, true, attrs, sc.t, sc.e);
                long xlat = sc.t.xlat();
                long l = sc.t.plen();
                // memory_region_supports_direct_access == what a debug write may do directly
                if ((s.flags() & PhysSection.DIRECT_WRITE_DEBUG) == 0) {
                    if ((s.flags() & PhysSection.DIRECT_READ) != 0) {
                        result = MemTxResult.ACCESS_ERROR; // RAM or ROM mapped read-only: not written
                    }
                    long translated = l; // memory_access_size of the translated length, as QEMU
                    l = MmioDispatch.accessSize(s.ops(), translated, xlat);
                    if (l == 4) { // skip whole 4-byte chunks inside the section at once (nothing is written)
                        long span = silentSpan(v, s, a, translated);
                        if ((span >>> 2) > 1) {
                            l = (span >>> 2) << 2;
                        }
                    }
                } else {
                    MemorySegment ram = s.segment();
                    long avail = blockBytesFrom(ram, xlat);
                    if (avail > 0) {
                        if (Long.compareUnsigned(l, avail) > 0) {
                            l = avail;
                        }
                        try {
                            copy(ram, xlat, arr, arrOff + (int) done, seg, segOff + done, l, true,
                                    (s.flags() & PhysSection.FAULT_PRONE) != 0);
                            dirty(s, xlat, l);
                        } catch (IllegalStateException released) {
                            ramFault(s, xlat, l, released);
                        } catch (InternalError e) {
                            copyFault(s, xlat, l, e, seg);
                        }
                    }
                }
                done += l;
            }
            return result;
        } finally {
            sc.release();
        }
    }
}
