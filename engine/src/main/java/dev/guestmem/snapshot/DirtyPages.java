package dev.guestmem.snapshot;

import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import java.util.Objects;

/**
 * The pages of one block written since the previous snapshot, as the migration dirty-log client
 * reports them: the input of an incremental snapshot. {@link #ofDirtyLog} feeds it from the
 * dirty-log bitmaps; {@link #ofBitmap(long[], long)} from a plain bitmap.
 *
 * <p>Thread safety: implementations need not be thread-safe; the writer calls one instance from one
 * thread, and the caller must not change the bitmap behind it while it is read.
 */
@FunctionalInterface
public interface DirtyPages {
    /**
     * Finds the next dirty page.
     *
     * @param fromPage the first page index to consider (0 or more)
     * @return the smallest dirty page index {@code >= fromPage}, or -1 if there is none
     */
    long nextDirty(long fromPage);

    /**
     * A bitmap view: bit {@code p % 64} of word {@code p / 64} set means page {@code p} is dirty,
     * the layout of QEMU's {@code unsigned long} dirty bitmaps on a 64-bit host.
     *
     * @param bitmap the bits; read, not copied
     * @param pageCount pages covered; bits at or beyond it are ignored
     * @return the view
     * @throws IllegalArgumentException if the bitmap is shorter than {@code pageCount} bits
     */
    static DirtyPages ofBitmap(long[] bitmap, long pageCount) {
        Objects.requireNonNull(bitmap, "bitmap");
        if (pageCount < 0 || (long) bitmap.length * 64 < pageCount) {
            throw new IllegalArgumentException("bitmap of " + bitmap.length + " words cannot cover " + pageCount + " pages");
        }
        return from -> {
            if (from < 0) {
                throw new IllegalArgumentException("negative page index " + from);
            }
            for (long p = from; p < pageCount; ) {
                int word = (int) (p >>> 6);
                long bits = bitmap[word] & (-1L << (p & 63));
                if (bits != 0) {
                    long found = ((long) word << 6) + Long.numberOfTrailingZeros(bits);
                    return found < pageCount ? found : -1;
                }
                p = (long) (word + 1) << 6;
            }
            return -1;
        };
    }

    /**
     * The pages of one RAM block that a dirty-log snapshot says were written: how an incremental
     * snapshot is fed from the MIGRATION client ({@code DirtyMemory.snapshotAndClearDirty(block.offset(),
     * block.usedLength(), DIRTY_MEMORY_MIGRATION)}). The dirty log counts 4 KiB target pages in the
     * ram_addr space; a snapshot page of {@code pageSize} bytes is dirty when any of its target pages
     * is. The snapshot's window may be larger than the block (it is rounded to 64 pages): pages past
     * {@code pageCount} are ignored.
     *
     * @param snapshot the dirty-log snapshot covering the block
     * @param blockRamAddr the block's offset in the ram_addr space ({@code RamBlock.offset()})
     * @param pageSize the snapshot's page size for the block (a multiple of 4 KiB)
     * @param pageCount pages in the block
     * @return the view
     * @throws IllegalArgumentException if {@code pageSize} is not a positive multiple of 4 KiB
     */
    static DirtyPages ofDirtyLog(DirtyBitmapSnapshot snapshot, long blockRamAddr, long pageSize, long pageCount) {
        Objects.requireNonNull(snapshot, "snapshot");
        if (pageSize <= 0 || pageSize % DirtyMemory.TARGET_PAGE_SIZE != 0) {
            throw new IllegalArgumentException("page size " + pageSize + " is not a multiple of "
                    + DirtyMemory.TARGET_PAGE_SIZE);
        }
        return from -> {
            if (from < 0) {
                throw new IllegalArgumentException("negative page index " + from);
            }
            if (from >= pageCount) {
                return -1;
            }
            long ramAddr = snapshot.nextDirtyPage(blockRamAddr + from * pageSize);
            if (ramAddr == -1 || Long.compareUnsigned(ramAddr, blockRamAddr) < 0) {
                return -1;
            }
            long page = (ramAddr - blockRamAddr) / pageSize;
            return page < pageCount ? page : -1;
        };
    }

    /**
     * Every page dirty: an incremental snapshot that is in fact full.
     *
     * @param pageCount pages in the block
     * @return the view
     */
    static DirtyPages all(long pageCount) {
        return from -> from < pageCount ? from : -1;
    }

    /**
     * No page dirty.
     *
     * @return the view
     */
    static DirtyPages none() {
        return from -> -1;
    }
}
