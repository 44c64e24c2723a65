package dev.guestmem.tlb;

import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;

/**
 * One cached translation of a guest page for a JIT's soft TLB, filled by {@link GuestTlb#fill}: the
 * host segment and the offset of the page in it, what the emulator may do directly, and the
 * address space {@linkplain dev.guestmem.access.AddressSpace#generation() generation} it was filled
 * under.
 *
 * <p>A direct load of {@code n} bytes at guest address {@code addr} in the page is
 * {@code segment().get(layout, hostOffset() + (addr - pageAddr()))}; it must still catch
 * {@link IllegalStateException} (the block was released after the generation check) and
 * {@link InternalError} (SIGBUS) and fall back to the address space, whose accessors turn both into
 * a {@link dev.guestmem.access.MemTxResult}.
 *
 * <p><b>Thread safety.</b> None: a reusable holder owned by one vCPU thread.
 */
public final class TlbEntry {
    long pageAddr;
    MemorySegment segment;
    long hostOffset;
    long ramAddr = -1;
    /** The block behind {@link #segment}, or null: what {@link VcpuTlb} references while it keeps the page. */
    RamBlock ramBlock;
    int flags;
    long generation;
    DirectWindow window = DirectWindow.empty();
    PhysSection ioSection;
    boolean subpage;

    /** Creates an empty entry (flags {@link GuestTlb#TLB_INVALID}). */
    public TlbEntry() {
        this.flags = GuestTlb.TLB_INVALID;
    }

    /** @return the guest address of the page (page aligned) */
    public long pageAddr() {
        return pageAddr;
    }

    /**
     * @return the host memory of the page's RAM block, or null when the page is not one whole RAM-like
     *     section (MMIO, subpage, unassigned); a fault-prone or read-only page has one too, so check
     *     {@link #readDirect()} / {@link #writeDirect()} before a direct access
     */
    public MemorySegment segment() {
        return segment;
    }

    /** @return offset in {@link #segment()} of the page's first byte */
    public long hostOffset() {
        return hostOffset;
    }

    /**
     * The page's ram_addr: where its first byte lies in the system's RAM list, the index of the
     * dirty bitmaps ({@link dev.guestmem.dirty.DirtyMemory}). A JIT that translates code on the page
     * protects it with this ({@code tlb_protect_code}: clear the CODE bit) and learns of writes to
     * it from its {@link dev.guestmem.dirty.CodeInvalidator}. A page reached through an IOMMU into
     * another system's space is that system's RAM: the ram_addr, the bitmaps and the invalidator are
     * that system's ({@code window().section().region().system()}: a read-only page's window has no
     * {@code dirtyMemory()}), not the filling space's.
     *
     * @return the ram_addr, or -1 when {@link #segment()} is null (no RAM behind the page)
     */
    public long ramAddr() {
        return ramAddr;
    }

    /**
     * The direct window of the section holding the page (immutable, shared with the dispatch table:
     * an emulator may cache it as its TLB entry). Its {@link DirectWindow#read()} and
     * {@link DirectWindow#write()} slices are empty where the page is not directly readable or
     * writable (MMIO, ROM stores, logged or read-only pages, fault-prone blocks), so one bounds test
     * decides a hit; an address in another page of the same section hits too, correctly. A page
     * reached through an IOMMU gets a window of its own, one page long, made by the fill
     * ({@link DirectWindow#slice}): the section behind the IOMMU lies in another space.
     *
     * @return the window (never null)
     */
    public DirectWindow window() {
        return window;
    }

    /**
     * QEMU's iotlb: the section every access to the page goes to when the page is wholly one
     * {@linkplain PhysSection#isDeviceOnly() device-only} section of the filling space (MMIO, a ROM
     * device in I/O mode, a RAM device), reached without an IOMMU. The emulator sends the page's
     * accesses to {@link dev.guestmem.access.LoadStoreAccessors#ioLoad} and
     * {@link dev.guestmem.access.LoadStoreAccessors#ioStore} with it, which skip the lookup: every
     * device page then has its own entry, where the address space keeps one fast MMIO section. Use
     * it while {@link #generation()} is the space's current one, as {@link VcpuTlb} does; after a
     * change, send the page's accesses to the space's ordinary accessors until the entry is refilled.
     *
     * @return the section, or null (RAM, subpage, unassigned, or a page behind an IOMMU)
     */
    public PhysSection ioSection() {
        return ioSection;
    }

    /**
     * Whether the page is one QEMU splits into subpages: shared by several sections, or only partly
     * covered by one (a device smaller than a page, RAM ending inside it). TCG reaches such a page
     * through its subpage region ({@code subpage_read}/{@code subpage_write}), that is by the
     * view's buffer rules ({@code flatview_read}, after {@code flatview_access_valid}), one
     * naturally aligned piece at a time, not by the ld/st rule of the space's accessors; a JIT
     * with its own TLB does the same with {@code AddressSpace.accessValid} and {@code read}/{@code
     * write} (as {@link VcpuTlb} does). Behind an IOMMU, whether the page it maps to is one in
     * the target space (TCG's fill follows the IOMMU to the target's section); the accesses still
     * go to this space's address, whose translation reaches the same bytes.
     *
     * @return whether the page is a subpage page
     */
    public boolean subpage() {
        return subpage;
    }

    /** @return the {@code TLB_*} flags of {@link GuestTlb} */
    public int flags() {
        return flags;
    }

    /** @return the address space generation the entry was filled under */
    public long generation() {
        return generation;
    }

    /** @return whether loads may use {@link #segment()} directly */
    public boolean readDirect() {
        return (flags & (GuestTlb.TLB_MMIO | GuestTlb.TLB_INVALID | GuestTlb.TLB_FAULT_PRONE)) == 0;
    }

    /** @return whether stores may use {@link #segment()} directly */
    public boolean writeDirect() {
        return (flags & (GuestTlb.TLB_MMIO | GuestTlb.TLB_INVALID | GuestTlb.TLB_READONLY | GuestTlb.TLB_NOTDIRTY
                | GuestTlb.TLB_FAULT_PRONE)) == 0;
    }

    @Override
    public String toString() {
        return "TlbEntry[page=0x" + Long.toHexString(pageAddr) + " flags=0x" + Integer.toHexString(flags) + " gen="
                + generation + "]";
    }
}
