package dev.guestmem.listener;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.MemoryRegionSection;

/**
 * QEMU's {@code address_space_update_topology_pass} and {@code flatrange_equal}: tells an address
 * space's listeners how its view changed, coalesced MMIO windows included.
 *
 * <p><b>Thread safety.</b> Stateless; topology lock held.
 */
public final class TopologyDiff {
    private TopologyDiff() {
    }

    /**
     * Runs both passes (deletions, then nops/log changes/additions) from {@code oldView} to
     * {@code newView}.
     *
     * @param listeners the address space's listeners
     * @param oldView the current view (sections carry it, as QEMU's do), or null for none
     * @param newView the view about to be published
     */
    public static void update(ListenerList listeners, FlatView oldView, FlatView newView) {
        pass(listeners, oldView, newView, false);
        pass(listeners, oldView, newView, true);
    }

    private static void pass(ListenerList listeners, FlatView oldView, FlatView newView, boolean adding) {
        int nOld = oldView == null ? 0 : oldView.rangeCount();
        int nNew = newView.rangeCount();
        int iOld = 0;
        int iNew = 0;
        while (iOld < nOld || iNew < nNew) {
            FlatRange frOld = iOld < nOld ? oldView.range(iOld) : null;
            FlatRange frNew = iNew < nNew ? newView.range(iNew) : null;
            if (frOld != null && (frNew == null
                    || Long.compareUnsigned(frOld.start(), frNew.start()) < 0
                    || (frOld.start() == frNew.start() && !flatRangeEqual(frOld, frNew)))) {
                // In old but not in new, or in both with other attributes.
                if (!adding) {
                    CoalescedIoNotify.all(listeners, frOld, oldView, false);
                    MemoryRegionSection s = MemoryRegionSection.of(frOld, oldView);
                    listeners.reverse(l -> l.regionDel(s));
                }
                iOld++;
            } else if (frOld != null && flatRangeEqual(frOld, frNew)) {
                // In both and unchanged, except maybe logging.
                if (adding) {
                    MemoryRegionSection s = MemoryRegionSection.of(frNew, oldView);
                    int oldMask = frOld.dirtyLogMask();
                    int newMask = frNew.dirtyLogMask();
                    listeners.forward(l -> l.regionNop(s));
                    if ((newMask & ~oldMask) != 0) {
                        listeners.forward(l -> l.logStart(s, oldMask, newMask));
                    }
                    if ((oldMask & ~newMask) != 0) {
                        listeners.reverse(l -> l.logStop(s, oldMask, newMask));
                    }
                }
                iOld++;
                iNew++;
            } else {
                if (adding) {
                    FlatView sectionView = oldView == null ? newView : oldView;
                    MemoryRegionSection s = MemoryRegionSection.of(frNew, sectionView);
                    listeners.forward(l -> l.regionAdd(s));
                    CoalescedIoNotify.all(listeners, frNew, sectionView, true);
                }
                iNew++;
            }
        }
    }

    /**
     * QEMU's {@code flatrange_equal}: same region, range, offset, ROMD mode, read-only, non-volatile and
     * unmergeable flags. The dirty-log mask is deliberately not compared.
     *
     * @param a a range
     * @param b a range
     * @return whether listeners see them as the same range
     */
    public static boolean flatRangeEqual(FlatRange a, FlatRange b) {
        return a.region() == b.region()
                && a.start() == b.start() && a.last() == b.last()
                && a.offsetInRegion() == b.offsetInRegion()
                && a.romdMode() == b.romdMode()
                && a.readonly() == b.readonly()
                && a.nonvolatile() == b.nonvolatile()
                && a.unmergeable() == b.unmergeable();
    }
}
