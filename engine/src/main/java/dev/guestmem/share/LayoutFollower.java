package dev.guestmem.share;

import dev.guestmem.ram.RamBlock;
import java.util.List;

/**
 * Told of every layout change of a {@link SharedMachine} (a {@link RamShareServer} keeping what it
 * serves current), in two steps so that a change that one follower cannot take is made nowhere.
 *
 * <p><b>Thread safety.</b> Called with the machine's layout lock held, one change at a time.
 */
interface LayoutFollower {
    /**
     * Readies the follower for the new layout without switching to it.
     *
     * @param layout the layout after the change
     * @param blocks its blocks, in region order
     * @param change what changed: the region plugged (its block is in {@code blocks}) or unplugged
     * @return the change to commit once the machine has made it, or abort if it is not made
     * @throws RuntimeException if the follower cannot take the layout: the change is not made
     */
    Pending prepare(List<SharedRamRegion> layout, List<RamBlock> blocks, LayoutChange change);

    /** A prepared change. Neither method throws. */
    interface Pending {
        /** Switches the follower to the prepared layout. */
        void commit();

        /** Drops the prepared layout; the follower keeps the one it had. */
        void abort();
    }
}
