package dev.guestmem.scenario6;

import static dev.guestmem.scenario6.HostIommu.PAGE;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.discard.PopulateRefusedException;
import dev.guestmem.discard.RamDiscardListener;
import dev.guestmem.discard.RamDiscardManager;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.iommu.IommuException;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuNotifiers;
import dev.guestmem.iommu.IommuRam;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU's VFIO container listener ({@code hw/vfio/listener.c}) ported to guestmem: it mirrors the
 * RAM sections of one address space into a {@link HostIommu}, registers an IOMMU notifier per IOMMU
 * section ({@code vfio_iommu_map_notify}), a {@link RamDiscardListener} per section of a region
 * with a {@link RamDiscardManager} ({@code vfio_ram_discard_listener}), and feeds the device's dirty
 * pages into the dirty log on {@code logSync} ({@code vfio_listener_log_sync}).
 */
final class VfioListener implements MemoryListener {
    private final MemorySystem sys;
    final HostIommu container;
    private final AddressSpace targetAs;
    /** What QEMU would error_report: a correct engine gives none. */
    final List<String> errors = new ArrayList<>();
    /** Sections skipped for a sub-page misalignment (QEMU reports them unless known safe). */
    final List<String> misaligned = new ArrayList<>();
    private final List<Giommu> giommus = new ArrayList<>();
    private final List<Vrdl> vrdls = new ArrayList<>();
    private final FakeDevice device;

    /** {@code VFIOGuestIOMMU}. */
    private record Giommu(MemoryRegion mr, long iommuOffset, IommuNotifier n) {
    }

    /** {@code VFIORamDiscardListener}. */
    private record Vrdl(MemoryRegion mr, long offsetWithinAddressSpace, long size, long granularity,
            RamDiscardListener listener) {
    }

    /**
     * @param targetAs the space IOMMU translations must target ({@code address_space_memory})
     * @param device the assigned device whose dirty pages {@link #logSync} reports
     */
    VfioListener(MemorySystem sys, HostIommu container, AddressSpace targetAs, FakeDevice device) {
        this.sys = sys;
        this.container = container;
        this.targetAs = targetAs;
        this.device = device;
    }

    /** {@code vfio_listener_skipped_section}. */
    static boolean skipped(MemoryRegionSection s) {
        return (!s.region().isRam() && !s.region().isIommu()) || (s.offsetWithinAddressSpace() & (1L << 63)) != 0;
    }

    /** {@code vfio_listener_valid_section}. */
    private boolean valid(MemoryRegionSection s) {
        if (skipped(s)) {
            return false;
        }
        if (((s.offsetWithinAddressSpace() ^ s.offsetWithinRegion()) & (PAGE - 1)) != 0) {
            misaligned.add(s.region().name() + " @0x" + Long.toHexString(s.offsetWithinAddressSpace()));
            return false;
        }
        return true;
    }

    /** {@code vfio_get_section_iova_range}: the host pages wholly inside the section, or null. */
    static long[] iovaRange(long start, long size) {
        long iova = (start + PAGE - 1) & -PAGE;
        long llend = (start + size) & -PAGE; // sections here never end at 2^64
        if (Long.compareUnsigned(iova, llend) >= 0 || (start != 0 && iova == 0)) {
            return null;
        }
        return new long[] {iova, llend};
    }

    @Override
    public void regionAdd(MemoryRegionSection s) {
        if (!valid(s)) {
            return;
        }
        MemoryRegion mr = s.region();
        if (mr.isIommu()) {
            IommuRegion iommu = IommuNotifiers.of(mr);
            long iommuOffset = s.offsetWithinAddressSpace() - s.offsetWithinRegion();
            long end = s.offsetWithinRegion() + s.size() - 1;
            int idx = iommu.attrsToIndex(MemTxAttrs.UNSPECIFIED);
            Giommu[] self = new Giommu[1];
            IommuNotifier n = new IommuNotifier((x, e) -> mapNotify(self[0], e), IommuNotifier.IOTLB_EVENTS,
                    s.offsetWithinRegion(), end, idx);
            self[0] = new Giommu(mr, iommuOffset, n);
            iommu.notifiers().register(n);
            giommus.addFirst(self[0]);
            iommu.notifiers().replay(n);
            return;
        }
        long[] r = iovaRange(s.offsetWithinAddressSpace(), s.size());
        if (r == null) {
            return;
        }
        if (mr.hasRamDiscardManager()) {
            registerRamDiscardListener(s);
            return;
        }
        long host = mr.ramSegment().address() + s.offsetWithinRegion() + (r[0] - s.offsetWithinAddressSpace());
        dmaMap(r[0], r[1] - r[0], host, s.readonly());
    }

    @Override
    public void regionDel(MemoryRegionSection s) {
        if (!valid(s)) {
            return;
        }
        MemoryRegion mr = s.region();
        if (mr.isIommu()) {
            for (Giommu g : List.copyOf(giommus)) {
                if (g.mr() == mr && g.n().start() == s.offsetWithinRegion()) {
                    IommuNotifiers.of(mr).notifiers().unregister(g.n());
                    giommus.remove(g);
                    break;
                }
            }
            // as QEMU: one big unmap below covers whatever the notifier mapped
        }
        long[] r = iovaRange(s.offsetWithinAddressSpace(), s.size());
        if (r == null) {
            return;
        }
        if (mr.hasRamDiscardManager()) {
            unregisterRamDiscardListener(s); // unregistering unmaps what is populated
            return;
        }
        try {
            container.unmap(r[0], r[1] - r[0]);
        } catch (HostIommu.HostIommuException e) {
            errors.add("region_del " + mr.name() + ": " + e.getMessage());
        }
    }

    private void dmaMap(long iova, long size, long host, boolean readonly) {
        try {
            container.map(iova, size, host, readonly);
        } catch (HostIommu.HostIommuException e) {
            errors.add("dma_map: " + e.getMessage());
            throw e;
        }
    }

    /** {@code vfio_iommu_map_notify}. */
    private void mapNotify(Giommu g, IommuTlbEntry e) {
        long iova = e.iova + g.iommuOffset();
        if (e.targetAs != targetAs && e.perm != IommuTlbEntry.NONE) {
            errors.add("wrong target_as " + e.targetAs);
            return;
        }
        try {
            if ((e.perm & IommuTlbEntry.RW) != IommuTlbEntry.NONE) {
                IommuRam ram = IommuRam.of(e);
                boolean readonly = !ram.writable() || ram.region().isReadonly();
                container.map(iova, e.addrMask + 1, ram.segment().address(), readonly);
            } else {
                container.unmap(iova, e.addrMask + 1);
            }
        } catch (IommuException | HostIommu.HostIommuException ex) {
            errors.add("iommu notify at iova 0x" + Long.toHexString(iova) + ": " + ex.getMessage());
        }
    }

    /** {@code vfio_register_ram_discard_listener}. */
    private void registerRamDiscardListener(MemoryRegionSection s) {
        RamDiscardManager rdm = s.region().ramDiscardManager();
        long granularity = rdm.minGranularity(s.region());
        Vrdl[] self = new Vrdl[1];
        RamDiscardListener l = RamDiscardListener.ramDiscardListener(
                sec -> populate(self[0], sec), this::discard, true);
        self[0] = new Vrdl(s.region(), s.offsetWithinAddressSpace(), s.size(), granularity, l);
        vrdls.add(self[0]);
        rdm.registerListener(l, s);
    }

    private void unregisterRamDiscardListener(MemoryRegionSection s) {
        for (Vrdl v : List.copyOf(vrdls)) {
            if (v.mr() == s.region() && v.offsetWithinAddressSpace() == s.offsetWithinAddressSpace()
                    && v.size() == s.size()) {
                vrdls.remove(v);
                s.region().ramDiscardManager().unregisterListener(v.listener());
                return;
            }
        }
        errors.add("no ram discard listener for " + s);
    }

    /** {@code vfio_ram_discard_notify_populate}: maps granularity-sized pieces. */
    private void populate(Vrdl v, MemoryRegionSection sec) {
        long end = sec.offsetWithinAddressSpace() + sec.size();
        for (long start = sec.offsetWithinAddressSpace(); Long.compareUnsigned(start, end) < 0;) {
            long next = Math.min((start + v.granularity()) & -v.granularity(), end);
            long host = sec.region().ramSegment().address() + sec.offsetWithinRegion()
                    + (start - sec.offsetWithinAddressSpace());
            try {
                dmaMap(start, next - start, host, sec.readonly());
            } catch (HostIommu.HostIommuException e) {
                discard(sec);
                throw new PopulateRefusedException(sec, e.getMessage());
            }
            start = next;
        }
    }

    /** {@code vfio_ram_discard_notify_discard}. */
    private void discard(MemoryRegionSection sec) {
        try {
            container.unmap(sec.offsetWithinAddressSpace(), sec.size());
        } catch (HostIommu.HostIommuException e) {
            errors.add("discard: " + e.getMessage());
        }
    }

    /**
     * {@code vfio_listener_log_sync} / {@code vfio_sync_dirty_bitmap}: the device's dirty iova pages
     * of the section (queried and cleared) become dirty RAM pages, as
     * {@code cpu_physical_memory_set_dirty_lebitmap} does.
     */
    @Override
    public void logSync(MemoryRegionSection s) {
        if (!valid(s)) {
            return;
        }
        if (s.region().isIommu()) {
            syncIommuDirty(s);
            return;
        }
        long[] r = iovaRange(s.offsetWithinAddressSpace(), s.size());
        if (r == null) {
            return;
        }
        long ramBase = s.region().ramBlock().offset() + s.offsetWithinRegion() - s.offsetWithinAddressSpace();
        for (long iova : device.queryAndClearDirty(r[0], r[1])) {
            sys.dirtyMemory().setDirtyRange(ramBase + iova, PAGE, DirtyMemory.MASK_MIGRATION | DirtyMemory.MASK_VGA);
        }
    }

    /**
     * {@code vfio_sync_iommu_dirty_bitmap}: a MAP-only notifier over the section, replayed, turns each
     * mapping's dirty iova pages into dirty pages of the RAM it maps ({@code vfio_iommu_map_dirty_notify}).
     */
    private void syncIommuDirty(MemoryRegionSection s) {
        for (Giommu g : giommus) {
            if (g.mr() != s.region() || g.n().start() != s.offsetWithinRegion()) {
                continue;
            }
            IommuRegion iommu = IommuNotifiers.of(s.region());
            IommuNotifier dirtyNotify = new IommuNotifier((x, e) -> {
                long iova = e.iova + g.iommuOffset();
                try {
                    IommuRam ram = IommuRam.of(e);
                    long ramBase = ram.block().offset() + ram.offset() - iova;
                    for (long page : device.queryAndClearDirty(iova, iova + e.addrMask + 1)) {
                        sys.dirtyMemory().setDirtyRange(ramBase + page, PAGE,
                                DirtyMemory.MASK_MIGRATION | DirtyMemory.MASK_VGA);
                    }
                } catch (IommuException ex) {
                    errors.add("dirty sync at iova 0x" + Long.toHexString(iova) + ": " + ex.getMessage());
                }
            }, IommuNotifier.MAP, s.offsetWithinRegion(), s.offsetWithinRegion() + s.size() - 1, g.n().iommuIdx());
            iommu.notifiers().replay(dirtyNotify);
            return;
        }
    }

    int notifierCount() {
        return giommus.size();
    }

    int ramDiscardListenerCount() {
        return vrdls.size();
    }
}
