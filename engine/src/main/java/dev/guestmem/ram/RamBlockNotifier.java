package dev.guestmem.ram;

/**
 * Hears of blocks added to, removed from and resized in a {@link RamList}: QEMU's
 * {@code RAMBlockNotifier} ({@code ram_block_added}, {@code ram_block_removed},
 * {@code ram_block_resized}). Dirty bitmaps and vhost-style memory tables use it.
 *
 * <p><b>Thread safety.</b> Called with the list's lock held, on the thread that changed the list;
 * implementations must not call back into the list's mutators.
 */
public interface RamBlockNotifier {
    /**
     * A block was placed in the list.
     *
     * @param block the block, with its offset assigned
     */
    default void ramBlockAdded(RamBlock block) {
    }

    /**
     * A block is about to leave the list; its memory is still mapped.
     *
     * @param block the block
     */
    default void ramBlockRemoved(RamBlock block) {
    }

    /**
     * A resizeable block's used length is about to change.
     *
     * @param block the block
     * @param oldSize the used length before
     * @param newSize the used length after
     */
    default void ramBlockResized(RamBlock block, long oldSize, long newSize) {
    }

    /**
     * A resizeable block's used length changed: {@link RamBlock#segment()} has the new length now
     * ({@link #ramBlockResized} came before the change). Called without the list's lock, on the
     * resizing thread, before the block's own resize callback.
     *
     * @param block the block
     */
    default void ramBlockUsedLengthChanged(RamBlock block) {
    }

    /**
     * Bytes of the block were written behind the address spaces ({@link RamBlock#markWritten}):
     * dirty logging and translated code must learn of it. Called without the list's lock, on the
     * writing thread.
     *
     * @param block the block
     * @param offset first byte written
     * @param length bytes written
     */
    default void ramBlockWritten(RamBlock block, long offset, long length) {
    }

    /**
     * Pages of the block an accelerator's dirty log reported ({@link RamBlock#markDirtyFromBitmap}):
     * one run of consecutive pages per call, clipped to the used length. Dirty logging marks them
     * for QEMU's clients of {@code cpu_physical_memory_set_dirty_lebitmap} (VGA; MIGRATION under
     * global dirty tracking; CODE under TCG). The default treats them as written
     * ({@link #ramBlockWritten}). Called without the list's lock, on the reporting thread.
     *
     * @param block the block
     * @param offset first byte of the run
     * @param length bytes of the run
     */
    default void ramBlockDirtyLogged(RamBlock block, long offset, long length) {
        ramBlockWritten(block, offset, length);
    }

    /**
     * Whether the block {@linkplain RamBlock#canFault() can fault} may have changed (its first
     * {@link FaultProneHold} opened or its last closed). Called without the list's lock, on the
     * thread that took or closed the hold.
     *
     * @param block the block
     */
    default void ramBlockFaultProneChanged(RamBlock block) {
    }
}
