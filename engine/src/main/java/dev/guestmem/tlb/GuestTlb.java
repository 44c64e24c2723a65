package dev.guestmem.tlb;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.AddressSpaceDispatch;
import dev.guestmem.dispatch.PhysPageMap;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.iommu.IommuTlbEntry;

/**
 * The JIT fast path: for a guest page, the host memory behind it and what may be done there
 * directly, tagged with a generation that changes whenever the answer could change. This is QEMU's
 * {@code tlb_set_page} input ({@code address_space_translate_for_iotlb}) for Java emulators.
 *
 * <h2 id="pattern">The soft-TLB pattern</h2>
 * {@snippet lang=java :
 * // per vCPU: a direct-mapped TLB of N entries, index = page number mod N
 * long page = addr & ~0xFFFL;
 * TlbEntry e = tlb[(int) (addr >>> 12) & (N - 1)];
 * if (e.pageAddr() != page || e.generation() != as.generation()) {
 *     GuestTlb.fill(as, addr, e);                 // slow path: refill
 * }
 * if (e.readDirect()) {
 *     try {
 *         return e.segment().get(JAVA_INT_UNALIGNED, e.hostOffset() + (addr - page));
 *     } catch (IllegalStateException | InternalError gone) {
 *         // released or SIGBUS between the check and the load: take the slow path below
 *     }
 * }
 * return as.ldl(addr);                            // MMIO, unassigned, or a fault: full dispatch
 * }
 * Stores check {@link TlbEntry#writeDirect()}; a page that is RAM but read-only for the guest, or
 * whose writes must be logged (dirty logging, translated code), is readable directly and writable only
 * through the address space, which dispatches or logs as QEMU does. A store to a
 * {@link #TLB_DISCARD_WRITE} page is dropped by the caller, as TCG does: the address space writes RAM
 * that is read-only only through an alias or container, as QEMU's {@code address_space_st*} do. A runnable version is
 * {@code SoftTlbExample} in the engine's tests.
 *
 * <h2 id="windows">The window form (one test for every kind of page)</h2>
 * A TLB (TARGETS P3, {@code SoftTlbBench.tlbHit}) can keep, per entry, the section's
 * immutable {@link dev.guestmem.dispatch.DirectWindow} ({@link TlbEntry#window()}): no copy, no
 * allocation (except for a page behind an IOMMU, whose one-page window the fill makes), and one
 * bounds test is both the tag compare and the range check. It keeps one
 * generation for the whole TLB, as QEMU does: compare {@link AddressSpace#generation()} where the CPU
 * loop already polls its exit request (block entry), flush every entry to
 * {@link dev.guestmem.dispatch.DirectWindow#empty()} when it moved, and have a topology listener
 * raise the exit request so a running loop notices ({@code tcg_commit} then {@code tlb_flush}); an
 * IOMMU's invalidation moves the generation with no new view, so raise it from
 * {@link AddressSpace#addInvalidationListener} too.
 * {@snippet lang=java :
 * DirectWindow w = windows[(int) (addr >>> 12) & (N - 1)];
 * long off = addr - w.start();
 * MemorySegment ram = w.read();                    // w.write() for stores
 * long limit = ram.byteSize() - 3;                 // 4 bytes: the JDK's own test, which C2 then shares
 * if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
 *     return ram.get(JAVA_INT_UNALIGNED, off);    // catch IllegalStateException/InternalError as above
 * }
 * if (GuestTlb.fill(as, addr, scratch) && scratch.generation() == tlbGeneration) {
 *     windows[(int) (addr >>> 12) & (N - 1)] = scratch.window();
 * }
 * return as.ldlLe(addr);
 * }
 * An entry may also hit for other pages of the same section, which is correct: the window covers
 * exactly the section. Empty slices (MMIO, ROM stores, logged or read-only pages, fault-prone blocks)
 * fail the test, so the same code handles every kind of page.
 *
 * <p>Where every cached page lives in one segment (one RAM block), QEMU's own shape is cheaper: a
 * page tag and {@code addend = hostOffset() - pageAddr()} per entry, and {@code ram.get(layout, addr
 * + addend)} on that segment held in a field, so the segment's checks do not depend on the entry
 * ({@code TlbFormsBench}: 1.61x a raw access against the window form's 1.94x). Cache only entries
 * whose {@link TlbEntry#segment()} is that segment and that are direct ({@link TlbEntry#readDirect()},
 * and {@link TlbEntry#writeDirect()} for stores: fault-prone pages carry a segment too).
 *
 * <p>Entries are valid for as long as {@link AddressSpace#generation()} is unchanged: every published
 * view (any region added, removed, moved, resized, enabled, disabled, made read-only, switched to or
 * from ROMD, or its dirty logging changed) increments it, and so does an UNMAP event of an IOMMU a
 * fill went through (see {@link #fill(AddressSpace, long, MemTxAttrs, TlbEntry)}). A load that
 * passed the generation check may still race with a topology change; it then reads either the old or
 * the new memory, or fails with {@link IllegalStateException} if the old block was released (never
 * unmapped memory).
 *
 * <p>Generations of distinct address spaces never share a value, so a vCPU may keep one TLB for all
 * its spaces (TCG's, for {@code cpu_ases}): checked against the generation of the space an access
 * goes to, an entry filled from another space misses. A dirty-bitmap clear moves no generation and
 * needs none: an entry of a logged page is {@link #TLB_NOTDIRTY} for as long as the page is logged,
 * whatever its bits say, so every store through it is marked (QEMU's {@code tlb_reset_dirty} re-arms
 * the flag instead, because its entries drop it once a page is dirty).
 *
 * <p><b>Thread safety.</b> Stateless; {@link #fill} may be called from any thread without locks. It
 * reads the generation (acquire) before the dispatch table (acquire), so an entry is never tagged with
 * a generation newer than the table it was built from.
 */
public final class GuestTlb {
    /** The page is not a single directly readable RAM section (MMIO, subpage, ROM device in I/O mode). */
    public static final int TLB_MMIO = 1;
    /** Guest writes may not go to the segment: ROM, ROMD-mode ROM device, or read-only as rendered. */
    public static final int TLB_READONLY = 1 << 1;
    /** Writes must go through the address space so they are logged (dirty logging or code pages). */
    public static final int TLB_NOTDIRTY = 1 << 2;
    /** Nothing is mapped at the page. */
    public static final int TLB_INVALID = 1 << 3;
    /**
     * The page's block may raise SIGBUS (file or fd backed, hugetlb). HotSpot delivers that fault as
     * an asynchronous {@code InternalError} at the next safepoint poll, which an access inlined into
     * a hot loop cannot catch around itself; {@link TlbEntry#readDirect()} and
     * {@link TlbEntry#writeDirect()} therefore treat such pages as slow. An emulator that catches
     * {@code InternalError} at its dispatch loop (as QEMU's {@code cpu_loop_exit} recovers from
     * faults) may use the segment anyway.
     */
    public static final int TLB_FAULT_PRONE = 1 << 4;
    /**
     * QEMU's {@code TLB_DISCARD_WRITE}: RAM that the view makes read-only (ROM, or RAM under a
     * read-only alias or container, such as PAM-shadowed BIOS). TCG drops a CPU store to such a page;
     * the address space does not always (it refuses only where the RAM region itself is read-only,
     * as QEMU's {@code address_space_st*} do), so a JIT drops the store itself. Never set for a ROM
     * device, whose stores go to its callbacks.
     */
    public static final int TLB_DISCARD_WRITE = 1 << 5;

    /** Page size of entries. */
    public static final long PAGE_SIZE = PhysPageMap.PAGE_SIZE;

    private GuestTlb() {
    }

    /**
     * Fills {@code out} for the page holding {@code addr}, with unspecified attributes.
     *
     * @param as the address space
     * @param addr any guest address in the page (unsigned)
     * @param out the entry to fill
     * @return whether the page is directly readable ({@link TlbEntry#readDirect()})
     * @implNote Allocation-free and lock-free for pages without an IOMMU on the way.
     */
    public static boolean fill(AddressSpace as, long addr, TlbEntry out) {
        return fill(as, addr, MemTxAttrs.UNSPECIFIED, out);
    }

    /**
     * Fills {@code out} for the page holding {@code addr} ({@code address_space_translate_for_iotlb}).
     * A page behind an IOMMU is followed to the memory it maps to, as TCG does: the IOMMU is asked
     * for every permission ({@link IommuTlbEntry#NONE}) in the context {@code attrs} select, a
     * missing read permission makes the page slow ({@link #TLB_MMIO}) and a missing write
     * permission read-only, and the entry stays valid only until the IOMMU sends an UNMAP event or
     * a space on the way publishes a view: both move {@code as}'s generation. A page whose IOMMU
     * page is smaller than a TLB page is slow.
     *
     * @param as the address space
     * @param addr any guest address in the page (unsigned)
     * @param attrs the attributes of the accesses the entry will serve (an IOMMU may translate
     *     secure and non-secure accesses differently)
     * @param out the entry to fill
     * @return whether the page is directly readable ({@link TlbEntry#readDirect()})
     * @implNote Allocation-free and lock-free for pages without an IOMMU on the way. Through an
     *     IOMMU a fill allocates a translation holder and the page's window; the first fill per IOMMU
     *     context registers the invalidation notifier, and the first per context and address space
     *     adds the space to it, under the IOMMU's notifier lock.
     */
    public static boolean fill(AddressSpace as, long addr, MemTxAttrs attrs, TlbEntry out) {
        long gen = as.generation(); // first: see the class comment
        AddressSpaceDispatch d = as.dispatch();
        long page = addr & ~(PAGE_SIZE - 1);
        PhysSection s = d.physPageFind(page);
        out.pageAddr = page;
        out.generation = gen;
        out.segment = null;
        out.hostOffset = 0;
        out.ramAddr = -1;
        out.ramBlock = null;
        out.ioSection = null; // none behind an IOMMU: its accesses take the translation and its permissions
        out.subpage = false;
        if ((s.flags() & PhysSection.IOMMU) != 0) {
            return IommuPageWalk.fill(as, page, attrs, s, out);
        }
        out.subpage = s.subpage() != null;
        out.window = s.window();
        if (s.isDeviceOnly() && holdsPage(s, page - s.start())) {
            out.ioSection = s;
        }
        return describe(s, page - s.start(), IommuTlbEntry.RW, out);
    }

    /** Whether the 4 KiB page at offset {@code off} of {@code s} lies wholly in it. */
    static boolean holdsPage(PhysSection s, long off) {
        return Long.compareUnsigned(off, s.sizeMinusOne()) <= 0
                && Long.compareUnsigned(s.sizeMinusOne() - off, PAGE_SIZE - 1) >= 0;
    }

    /**
     * Sets {@code out}'s segment, offset and flags for the 4 KiB page at offset {@code off} of the
     * (non-IOMMU) section {@code s}, reachable with permissions {@code perm}.
     */
    static boolean describe(PhysSection s, long off, int perm, TlbEntry out) {
        if (s.isUnassigned()) {
            out.flags = TLB_INVALID | TLB_MMIO;
            return false;
        }
        int f = s.flags();
        boolean wholePage = s.subpage() == null && holdsPage(s, off);
        // A RAM region grown past its block has pages with no host memory behind them: not direct
        // (the access path answers DECODE_ERROR there).
        boolean backed = s.segment() != null && Long.compareUnsigned(s.segmentOffset() + off,
                s.segment().byteSize() - PAGE_SIZE) <= 0 && s.segment().byteSize() >= PAGE_SIZE;
        if (!wholePage || !backed || (f & PhysSection.DIRECT_READ) == 0 || (perm & IommuTlbEntry.RO) == 0) {
            out.flags = TLB_MMIO | TLB_READONLY;
            return false;
        }
        boolean direct = (f & PhysSection.FAULT_PRONE) == 0;
        int flags = 0;
        if ((f & PhysSection.DIRECT_WRITE) == 0 || (f & PhysSection.READONLY) != 0
                || (perm & IommuTlbEntry.WO) == 0) {
            flags |= TLB_READONLY;
        }
        if ((f & PhysSection.READONLY) != 0 && (f & PhysSection.IS_RAM) != 0) {
            flags |= TLB_DISCARD_WRITE; // tlb_set_page_full: section->readonly on RAM
        }
        if ((f & PhysSection.DIRTY_LOGGING) != 0) {
            flags |= TLB_NOTDIRTY;
        }
        if ((f & PhysSection.FAULT_PRONE) != 0) {
            flags |= TLB_FAULT_PRONE;
        }
        out.segment = s.segment();
        out.hostOffset = s.segmentOffset() + off;
        out.ramBlock = s.ramBlock();
        out.ramAddr = s.ramBlock() == null ? -1 : s.ramBlock().offset() + out.hostOffset;
        out.flags = flags;
        return direct;
    }
}
