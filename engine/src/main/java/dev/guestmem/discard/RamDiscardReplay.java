package dev.guestmem.discard;

import dev.guestmem.region.MemoryRegionSection;

/**
 * The callback of {@link RamDiscardManager#replayPopulated} and {@link RamDiscardManager#replayDiscarded},
 * QEMU's {@code ReplayRamDiscardState}: called once per maximal populated (or discarded) run inside
 * the section asked for, clipped to it, in ascending order.
 *
 * <p>QEMU's callback returns a negative errno to stop the replay; here the callback throws, the
 * replay makes no further call and the exception reaches the caller of the replay.
 *
 * <p><b>Thread safety.</b> Called on the thread that asked for the replay, with the owning
 * {@link dev.guestmem.MemorySystem}'s lock held.
 */
@FunctionalInterface
public interface RamDiscardReplay {
    /**
     * One run.
     *
     * @param section the run: same region and flags as the section replayed, offsets and size cut
     *     to the run (no reference of its own)
     */
    void replay(MemoryRegionSection section);
}
