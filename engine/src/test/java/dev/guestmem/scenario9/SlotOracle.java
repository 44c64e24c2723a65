package dev.guestmem.scenario9;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import dev.guestmem.ioeventfd.Ioeventfd;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;

/** What the slot table and the coalesced zones must be for a published flat view. */
final class SlotOracle {
    /** A slot as the kernel holds it, for comparison. */
    record Expected(long guestBase, long size, long hostAddress, boolean readonly, boolean logDirty) {
        @Override
        public String toString() {
            return String.format("[0x%x+0x%x host=0x%x%s%s]", guestBase, size, hostAddress, readonly ? " ro" : "",
                    logDirty ? " log" : "");
        }
    }

    private SlotOracle() {
    }

    static List<Expected> slots(FlatView view) {
        List<Expected> out = new ArrayList<>();
        for (FlatRange r : view.ranges()) {
            MemoryRegion mr = r.region();
            SlotGeometry g = SlotGeometry.of(r);
            if (g.size() == 0 || !SlotGeometry.slotted(mr, r.romdMode())) {
                continue;
            }
            out.add(new Expected(g.guestBase(), g.size(), mr.ramBlock().hostAddress() + g.regionOffset(),
                    SlotGeometry.readonly(mr, r.readonly()), SlotGeometry.logs(r.dirtyLogMask())));
        }
        return out;
    }

    static List<Expected> slots(FakeKvm kvm) {
        return kvm.slots().stream()
                .map(s -> new Expected(s.guestBase, s.size, s.host.address(), s.readonly, s.logsDirty()))
                .toList();
    }

    /** QEMU's {@code flat_range_coalesced_io_add} over every range: each window cut to its range. */
    static Map<List<Long>, Integer> coalesced(FlatView view) {
        Map<List<Long>, Integer> out = new HashMap<>();
        for (FlatRange r : view.ranges()) {
            for (CoalescedRange c : r.region().coalescedRanges()) {
                long lo = Math.max(c.offset(), r.offsetInRegion());
                long hi = Math.min(c.offset() + c.size(), r.offsetInRegion() + r.size());
                if (lo < hi) {
                    out.merge(List.of(r.start() + (lo - r.offsetInRegion()), hi - lo), 1, Integer::sum);
                }
            }
        }
        return out;
    }

    /**
     * QEMU's {@code address_space_update_ioeventfds}: each region eventfd whose bytes meet a range
     * that shows the region, at the guest address the range puts it.
     */
    static Set<Ioeventfd> ioeventfds(FlatView view) {
        Set<Ioeventfd> out = new HashSet<>();
        for (FlatRange r : view.ranges()) {
            for (Ioeventfd e : r.region().ioeventfds()) {
                long addr = r.start() + (e.addr() - r.offsetInRegion());
                boolean startsInside = Long.compareUnsigned(addr - r.start(), r.size()) < 0;
                boolean coversStart = Long.compareUnsigned(r.start() - addr, e.size()) < 0;
                if (startsInside || coversStart) {
                    out.add(new Ioeventfd(addr, e.size(), e.matchData(), e.data(), e.notifier()));
                }
            }
        }
        return out;
    }

    /**
     * Slots that disagree with the address space's own dispatch: at the first and last byte of each
     * slot, the host byte {@code translate} finds must be the slot's, and a writable slot must be
     * RAM the dispatch writes directly. (A read-only slot may be too: the dispatch, as QEMU's, writes
     * the RAM behind a read-only alias.)
     */
    static List<String> disagreeWithDispatch(AddressSpace as, FakeKvm kvm) {
        List<String> out = new ArrayList<>();
        Translation t = new Translation();
        for (MemSlot slot : kvm.slots()) {
            for (long off : new long[] {0, slot.size - 8}) {
                PhysSection ps = as.translate(slot.guestBase + off, 8, false, MemTxAttrs.UNSPECIFIED, t);
                long host = ps.segment() == null ? -1 : ps.segment().address() + ps.segmentOffsetOf(t.xlat());
                boolean directWrite = (ps.flags() & PhysSection.DIRECT_WRITE) != 0;
                if (host != slot.host.address() + off || !slot.readonly && !directWrite) {
                    out.add(slot + "+0x" + Long.toHexString(off) + ": dispatch host 0x" + Long.toHexString(host)
                            + (directWrite ? " writable" : " not writable"));
                }
            }
        }
        return out;
    }
}
