package dev.guestmem.debug;

import java.util.List;
import java.util.SplittableRandom;

/**
 * A device register outside PCI configuration space that moves a live machine's memory map, which
 * a {@link LiveMapWalk} turns now and then: found in the machine's own {@code info mtree} text.
 */
interface LiveKnob {
    /** @return what the walk's report calls it */
    String name();

    /**
     * Writes a random value to the register, now.
     *
     * @param random the walk's randomness
     * @param reAdded receives the names of the regions the device re-adds in place (see
     *     {@link LiveSiblingAges}), oldest first
     * @return the write, for the failure report (a {@link LivePci.Write} without a function)
     */
    LivePci.Write turn(SplittableRandom random, List<String> reAdded);
}
