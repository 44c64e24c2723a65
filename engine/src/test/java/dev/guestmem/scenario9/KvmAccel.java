package dev.guestmem.scenario9;

import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The accelerator's memory listener, after QEMU's {@code kvm-all.c}: {@code regionAdd}/{@code regionDel}
 * queue sections and {@link #commit} applies the batch (deletions, then additions) in one slot-table
 * update ({@code kvm_region_commit}); dirty logging follows {@code logStart}/{@code logStop}; a sync
 * copies slot bitmaps into guestmem's dirty memory and a clear re-arms (clears in the kernel) only
 * the bits a sync fetched, as {@code kvm_log_clear_one_slot} under manual dirty-log protection.
 */
final class KvmAccel implements MemoryListener {
    private final FakeKvm kvm;
    private final List<MemoryRegionSection> pendingAdd = new ArrayList<>();
    private final List<MemoryRegionSection> pendingDel = new ArrayList<>();
    /** Per slot id: the bits syncs fetched and not yet cleared (QEMU's {@code mem->dirty_bmap}). */
    private final Map<Integer, long[]> fetched = new HashMap<>();

    KvmAccel(FakeKvm kvm) {
        this.kvm = kvm;
    }

    @Override
    public int priority() {
        return 10; // MEMORY_LISTENER_PRIORITY_ACCEL
    }

    @Override
    public synchronized void regionAdd(MemoryRegionSection section) {
        queue(pendingAdd, section);
    }

    @Override
    public synchronized void regionDel(MemoryRegionSection section) {
        queue(pendingDel, section);
    }

    private static void queue(List<MemoryRegionSection> list, MemoryRegionSection section) {
        MemoryRegion mr = section.region();
        if (mr.isRam() || mr.isRomDevice()) {
            mr.ref(); // the section outlives this call until commit, as QEMU's memory_region_ref
            list.add(section);
        }
    }

    @Override
    public synchronized void commit() {
        if (pendingAdd.isEmpty() && pendingDel.isEmpty()) {
            return;
        }
        try {
            kvm.update(() -> {
                pendingDel.forEach(this::removeSlot);
                pendingAdd.forEach(this::addSlot);
            });
        } finally {
            pendingDel.forEach(s -> s.region().unref());
            pendingAdd.forEach(s -> s.region().unref());
            pendingDel.clear();
            pendingAdd.clear();
        }
    }

    private void removeSlot(MemoryRegionSection s) {
        SlotGeometry g = SlotGeometry.of(s);
        MemSlot slot = g.size() == 0 ? null : kvm.slotAt(g.guestBase(), g.size());
        if (slot == null) {
            return; // never mapped (ROMD off, no whole page)
        }
        if (slot.logsDirty()) {
            report(s.region(), g, slot.dirtyLog()); // what the guest wrote must survive the slot
        }
        fetched.remove(slot.id);
        kvm.deleteSlot(slot.id);
    }

    private void addSlot(MemoryRegionSection s) {
        MemoryRegion mr = s.region();
        SlotGeometry g = SlotGeometry.of(s);
        // read at commit, as kvm_set_phys_mem does: the region's state in the view just published
        if (g.size() == 0 || !SlotGeometry.slotted(mr, mr.isRomd())) {
            return;
        }
        MemorySegment host = mr.ramBlock().segment().asSlice(g.regionOffset(), g.size());
        kvm.createSlot(g.guestBase(), g.size(), host, SlotGeometry.readonly(mr, s.readonly()),
                SlotGeometry.logs(mr.dirtyLogMask()));
    }

    @Override
    public synchronized void logStart(MemoryRegionSection section, int oldMask, int newMask) {
        setLogging(section, SlotGeometry.logs(newMask));
    }

    @Override
    public synchronized void logStop(MemoryRegionSection section, int oldMask, int newMask) {
        setLogging(section, SlotGeometry.logs(newMask));
    }

    private void setLogging(MemoryRegionSection section, boolean on) {
        MemSlot slot = slotOf(section);
        if (slot != null && slot.logsDirty() != on) {
            kvm.setSlotLogging(slot.id, on);
            fetched.remove(slot.id);
        }
    }

    @Override
    public synchronized void logSync(MemoryRegionSection section) {
        MemSlot slot = slotOf(section);
        if (slot == null || !slot.logsDirty()) {
            return;
        }
        long[] bits = slot.dirtyLog();
        long[] mine = fetched.computeIfAbsent(slot.id, id -> new long[bits.length]);
        for (int i = 0; i < bits.length; i++) {
            mine[i] |= bits[i];
        }
        report(section.region(), SlotGeometry.of(section), bits);
    }

    @Override
    public synchronized void logClear(MemoryRegionSection section) {
        long start = section.offsetWithinAddressSpace();
        long end = start + section.size();
        for (MemSlot slot : kvm.slots()) {
            long[] mine = fetched.get(slot.id);
            if (mine == null || Long.compareUnsigned(slot.guestBase, end) >= 0
                    || Long.compareUnsigned(start, slot.end()) >= 0) {
                continue;
            }
            long first = Long.compareUnsigned(start, slot.guestBase) <= 0 ? 0 : (start - slot.guestBase) >>> 12;
            long last = Long.compareUnsigned(end, slot.end()) >= 0 ? slot.pages()
                    : (end - slot.guestBase + FakeKvm.PAGE_SIZE - 1) >>> 12;
            long[] clear = new long[mine.length];
            for (long p = first; p < last; p++) {
                int w = (int) (p >>> 6);
                long bit = 1L << (p & 63);
                if ((mine[w] & bit) != 0) {
                    clear[w] |= bit;
                    mine[w] &= ~bit;
                }
            }
            slot.clearDirtyLog(clear);
        }
    }

    /**
     * QEMU's {@code cpu_physical_memory_set_dirty_lebitmap}: the slot's dirty pages into guestmem, in
     * one call. A slot of a block shrunk since it was made runs past the used length: its pages
     * beyond the page-rounded used length are left out (the block refuses them); the last, partial
     * page the block clips itself.
     */
    private static void report(MemoryRegion mr, SlotGeometry g, long[] bits) {
        RamBlock block = mr.ramBlock();
        long used = block.usedLength();
        long inBlock = used <= g.regionOffset() ? 0 : (used - g.regionOffset() + FakeKvm.PAGE_SIZE - 1) >>> FakeKvm.PAGE_BITS;
        long pages = Math.min(g.size() >>> FakeKvm.PAGE_BITS, inBlock);
        block.markDirtyFromBitmap(g.regionOffset(), bits, pages);
    }

    private MemSlot slotOf(MemoryRegionSection section) {
        SlotGeometry g = SlotGeometry.of(section);
        return g.size() == 0 ? null : kvm.slotAt(g.guestBase(), g.size());
    }

    @Override
    public void eventfdAdd(Ioeventfd fd) {
        kvm.assignIoeventfd(fd);
    }

    @Override
    public void eventfdDel(Ioeventfd fd) {
        kvm.deassignIoeventfd(fd);
    }

    @Override
    public void coalescedIoAdd(MemoryRegionSection section, long addr, long size) {
        kvm.registerCoalesced(addr, size);
    }

    @Override
    public void coalescedIoDel(MemoryRegionSection section, long addr, long size) {
        kvm.unregisterCoalesced(addr, size);
    }
}
