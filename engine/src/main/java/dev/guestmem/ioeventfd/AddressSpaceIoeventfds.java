package dev.guestmem.ioeventfd;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.Int128;
import java.util.ArrayList;
import java.util.List;

/**
 * The eventfds an address space shows its listeners ({@code address_space_update_ioeventfds}): every
 * eventfd of every flat range's region, moved to guest addresses, kept if it intersects the range.
 *
 * <p>As in QEMU, an eventfd is neither cut to the range nor de-duplicated: one whose region is split
 * into several ranges (by a region covering part of it) is listed once per range it touches, so the
 * listeners hear one {@code eventfdAdd} per range. One exception: an eventfd that would start below
 * address 0 (a region mapped through an alias from inside it) is left out, where QEMU aborts.
 *
 * <p><b>Thread safety.</b> Stateless; call with the topology lock held.
 */
public final class AddressSpaceIoeventfds {
    private AddressSpaceIoeventfds() {
    }

    /**
     * @param view an address space's view
     * @return its eventfds at guest addresses, in flat-range order then each region's order
     */
    public static List<Ioeventfd> collect(FlatView view) {
        List<Ioeventfd> out = new ArrayList<>();
        for (int r = 0; r < view.rangeCount(); r++) {
            FlatRange fr = view.range(r);
            IoeventfdList fds = fr.region().ioeventfds();
            for (int i = 0; i < fds.size(); i++) {
                Ioeventfd fd = fds.get(i);
                Int128 start = fr.addressOf(fd.addr());
                if (intersects(fr, start, fd.size())) {
                    if (start.fitsUnsigned64()) {
                        out.add(fd.at(start.lo()));
                    }
                }
            }
        }
        return out;
    }

    /** QEMU's {@code addrrange_intersects(fr->addr, [start, start + size))}. */
    private static boolean intersects(FlatRange fr, Int128 start, long size) {
        Int128 frStart = Int128.ofUnsigned(fr.start());
        Int128 frEnd = fr.end();
        boolean startInRange = start.compareTo(frStart) >= 0 && start.compareTo(frEnd) < 0;
        boolean rangeStartInFd = frStart.compareTo(start) >= 0 && frStart.compareTo(start.addUnsigned(size)) < 0;
        return startInRange || rangeStartInFd;
    }
}
