package dev.guestmem.dirty;

/**
 * One published generation of the dirty bitmaps' pointer array, as QEMU's {@code
 * DirtyMemoryBlocks}: for each bitmap block of {@link DirtyMemory#DIRTY_MEMORY_BLOCK_SIZE} pages,
 * one {@code long[]} per client. Growing copies the pointers into a new instance and allocates only
 * the new blocks, so a bitmap block, once allocated, is shared by every later generation and a bit
 * set through an old generation is seen through the new one.
 *
 * <p><b>Thread safety.</b> Immutable pointer array (the bitmap words inside change atomically);
 * published by {@link DirtyMemory} with a release store and read with acquire.
 */
final class DirtyMemoryBlocks {
    /** Bitmap of client {@code c} for block {@code b} at index {@code b * DIRTY_MEMORY_NUM + c}. */
    final long[][] bitmaps;
    /** Number of blocks. */
    final int numBlocks;
    /** Bytes of ram_addr space covered: {@code numBlocks * DIRTY_MEMORY_BLOCK_SIZE} pages. */
    final long limitBytes;

    static final DirtyMemoryBlocks EMPTY = new DirtyMemoryBlocks(new long[0][], 0);

    private DirtyMemoryBlocks(long[][] bitmaps, int numBlocks) {
        this.bitmaps = bitmaps;
        this.numBlocks = numBlocks;
        this.limitBytes = ((long) numBlocks * DirtyMemory.DIRTY_MEMORY_BLOCK_SIZE) << DirtyMemory.TARGET_PAGE_BITS;
    }

    /**
     * Returns a copy with {@code newNumBlocks} blocks: old bitmaps shared, new ones zero (clean).
     * Called with the extend lock held ({@code dirty_memory_extend}).
     */
    DirtyMemoryBlocks extend(int newNumBlocks) {
        long[][] grown = new long[newNumBlocks * DirtyMemory.DIRTY_MEMORY_NUM][];
        System.arraycopy(bitmaps, 0, grown, 0, bitmaps.length);
        for (int i = bitmaps.length; i < grown.length; i++) {
            grown[i] = new long[DirtyMemory.DIRTY_MEMORY_BLOCK_SIZE / Long.SIZE];
        }
        return new DirtyMemoryBlocks(grown, newNumBlocks);
    }

    /**
     * Returns the bitmap of {@code client} for {@code block}.
     *
     * @return the bitmap of {@code client} for {@code block}
     */
    long[] bitmap(int block, int client) {
        return bitmaps[block * DirtyMemory.DIRTY_MEMORY_NUM + client];
    }
}
