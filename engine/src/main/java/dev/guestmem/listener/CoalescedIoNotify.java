package dev.guestmem.listener;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegionSection;

/**
 * QEMU's {@code flat_range_coalesced_io_notify} and its listener-registration twin: each coalesced
 * window of a flat range's region, moved to guest addresses and cut to the range, reaches
 * {@code coalescedIoAdd} (listeners in priority order) or {@code coalescedIoDel} (reverse).
 *
 * <p>One deliberate difference: when a listener registers or unregisters, QEMU stops at the first
 * window of a range that does not intersect it (a {@code return} where its other loop has a
 * {@code continue}), so later windows of that range go unannounced; here every window is announced.
 *
 * <p><b>Thread safety.</b> Stateless; topology lock held.
 */
public final class CoalescedIoNotify {
    private CoalescedIoNotify() {
    }

    /**
     * Announces every coalesced window of {@code fr}'s region that intersects it.
     *
     * @param listeners the address space's listeners
     * @param fr the flat range
     * @param view the view its sections carry
     * @param add whether the windows appear ({@code coalescedIoAdd}) or go ({@code coalescedIoDel})
     */
    public static void all(ListenerList listeners, FlatRange fr, FlatView view, boolean add) {
        if (!fr.region().hasCoalescing()) {
            return; // the common case, without the list's copy
        }
        for (CoalescedRange cmr : fr.region().coalescedRanges()) {
            one(listeners, fr, view, cmr, add);
        }
    }

    /**
     * Announces one window of {@code fr}'s region, if it intersects the range.
     *
     * @param listeners the address space's listeners
     * @param fr the flat range
     * @param view the view its sections carry
     * @param cmr the window
     * @param add whether it appears or goes
     */
    public static void one(ListenerList listeners, FlatRange fr, FlatView view, CoalescedRange cmr, boolean add) {
        long[] cut = cut(fr, cmr);
        if (cut == null) {
            return;
        }
        MemoryRegionSection s = MemoryRegionSection.of(fr, view);
        if (add) {
            listeners.forward(l -> l.coalescedIoAdd(s, cut[0], cut[1]));
        } else {
            listeners.reverse(l -> l.coalescedIoDel(s, cut[0], cut[1]));
        }
    }

    /**
     * The registration replay for one listener ({@code flat_range_coalesced_io_notify_listener_add_del}).
     *
     * @param listener the listener
     * @param fr the flat range
     * @param section its section
     * @param add whether the listener is being added
     */
    public static void replay(MemoryListener listener, FlatRange fr, MemoryRegionSection section, boolean add) {
        if (!fr.region().hasCoalescing()) {
            return;
        }
        for (CoalescedRange cmr : fr.region().coalescedRanges()) {
            long[] cut = cut(fr, cmr);
            if (cut == null) {
                continue;
            }
            if (add) {
                listener.coalescedIoAdd(section, cut[0], cut[1]);
            } else {
                listener.coalescedIoDel(section, cut[0], cut[1]);
            }
        }
    }

    /**
     * @return {guest address, size (0 = 2^64)} of the window cut to the range, or null if they do not
     *     intersect
     */
    private static long[] cut(FlatRange fr, CoalescedRange cmr) {
        Int128 start = fr.addressOf(cmr.offset());
        Int128 end = start.add(Int128.ofSize(cmr.size()));
        Int128 frStart = Int128.ofUnsigned(fr.start());
        Int128 frEnd = fr.end();
        Int128 lo = Int128.max(start, frStart);
        Int128 hi = Int128.min(end, frEnd);
        if (lo.compareTo(hi) >= 0) {
            return null;
        }
        Int128 size = hi.sub(lo);
        return new long[] {lo.lo(), size.equals(Int128.TWO_64) ? 0 : size.lo()};
    }
}
