package dev.guestmem.scenario9;

import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;

/**
 * Where a RAM section goes in KVM: QEMU's {@code kvm_align_section} (start rounded up to a host page,
 * size cut down to whole pages) and {@code kvm_mem_flags}. The same rules serve the accelerator
 * (from a listener's section) and the oracle (from a published flat range).
 *
 * @param guestBase first guest address of the slot
 * @param size bytes, 0 when no whole page is left
 * @param regionOffset offset in the region of {@code guestBase}
 */
record SlotGeometry(long guestBase, long size, long regionOffset) {
    static SlotGeometry of(long start, long size, long offsetInRegion) {
        long aligned = (start + FakeKvm.PAGE_SIZE - 1) & -FakeKvm.PAGE_SIZE;
        long delta = aligned - start;
        if (Long.compareUnsigned(delta, size) > 0) {
            return new SlotGeometry(aligned, 0, offsetInRegion + delta);
        }
        return new SlotGeometry(aligned, (size - delta) & -FakeKvm.PAGE_SIZE, offsetInRegion + delta);
    }

    static SlotGeometry of(MemoryRegionSection s) {
        return of(s.offsetWithinAddressSpace(), s.size(), s.offsetWithinRegion());
    }

    static SlotGeometry of(FlatRange r) {
        return of(r.start(), r.size(), r.offsetInRegion());
    }

    /** Guest RAM KVM maps at all: RAM and ROM, and a ROM device only in ROMD mode (read-only). */
    static boolean slotted(MemoryRegion region, boolean romdMode) {
        return region.isRam() && !region.isRamDevice() || region.isRomDevice() && romdMode;
    }

    /**
     * Whether the slot is read-only: ROM, a ROM device, or RAM the view makes read-only (a PAM
     * segment's read-only alias). QEMU's {@code kvm_mem_flags} looks at the region's own flag only, so
     * it maps such an alias writable; the fake accelerator traps those writes too.
     */
    static boolean readonly(MemoryRegion region, boolean sectionReadonly) {
        return sectionReadonly || region.isReadonly() || region.isRomDevice();
    }

    /** KVM_MEM_LOG_DIRTY_PAGES: some client logs the range (CODE is TCG's, never KVM's). */
    static boolean logs(int dirtyLogMask) {
        return (dirtyLogMask & ~DirtyMemory.MASK_CODE) != 0;
    }
}
