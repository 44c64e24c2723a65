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
     * Whether the block {@linkplain RamBlock#canFault() can fault} may have changed (its first
     * {@link FaultProneHold} opened or its last closed). Called without the list's lock, on the
     * thread that took or closed the hold.
     *
     * @param block the block
     */
    default void ramBlockFaultProneChanged(RamBlock block) {
    }

    /**
     * Bytes of the block were replaced other than through an address space (a snapshot restore):
     * {@link RamBlock#contentsReplaced}. Called without the list's lock, on the thread that
     * replaced them.
     *
     * @param block the block
     * @param ramOffset first byte replaced, from the start of the block
     * @param length bytes replaced
     */
    default void ramBlockContentsReplaced(RamBlock block, long ramOffset, long length) {
    }
}
