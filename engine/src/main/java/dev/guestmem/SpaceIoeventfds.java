package dev.guestmem;

import dev.guestmem.flat.FlatView;
import dev.guestmem.ioeventfd.AddressSpaceIoeventfds;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.IoeventfdDiff;
import java.util.List;

/**
 * A {@link MemorySystem}'s eventfd bookkeeping: QEMU's {@code ioeventfd_update_pending}, how many
 * regions have eventfds, and each address space's {@code as->ioeventfds} (kept in its
 * {@link SpaceEntry}), with the update that tells listeners the difference
 * ({@code address_space_update_ioeventfds}).
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
final class SpaceIoeventfds {
    /** QEMU's {@code ioeventfd_update_pending}: an eventfd changed, views did not. */
    private boolean updatePending;
    /**
     * Regions of this system whose eventfd list is not empty: while 0, a commit's eventfd update
     * scans nothing (QEMU avoids the scan when no listener has eventfd hooks).
     */
    private int regionsWithEventfds;

    /** Eventfds changed, views did not. */
    void markUpdatePending() {
        updatePending = true;
    }

    /** @return whether eventfds changed since the last update */
    boolean isUpdatePending() {
        return updatePending;
    }

    /** An update is under way: it brings every space's eventfds up to date. */
    void clearUpdatePending() {
        updatePending = false;
    }

    /** A region's eventfd list stopped being empty. */
    void regionEventfdsAppeared() {
        regionsWithEventfds++;
    }

    /** A region's eventfd list became empty. */
    void regionEventfdsGone() {
        regionsWithEventfds--;
    }

    /** The eventfds of a view: none without a scan when no region of this system has any. */
    List<Ioeventfd> collect(FlatView view) {
        return regionsWithEventfds == 0 ? List.of() : AddressSpaceIoeventfds.collect(view);
    }

    /** QEMU's {@code address_space_update_ioeventfds} (skipped while nobody listens, as there). */
    void update(SpaceEntry e) {
        if (e.listeners.isEmpty()) {
            e.ioeventfds = null;
            return;
        }
        List<Ioeventfd> now = collect(e.as.currentMap());
        IoeventfdDiff.update(e.listeners, e.ioeventfds == null ? List.of() : e.ioeventfds, now);
        e.ioeventfds = now;
    }

    /** @return the eventfds {@code e}'s listeners know, computing them if nobody listened before */
    List<Ioeventfd> known(SpaceEntry e) {
        if (e.ioeventfds == null) {
            e.ioeventfds = collect(e.as.currentMap());
        }
        return e.ioeventfds;
    }
}
