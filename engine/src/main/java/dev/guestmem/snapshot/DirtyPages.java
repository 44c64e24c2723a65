package dev.guestmem.snapshot;

import java.util.Objects;

/**
 * The pages of one block written since the previous snapshot, as the migration dirty-log client
 * will report them: the input of an incremental snapshot. The dirty-log package feeds it from its
 * bitmaps; tests build one from a hand-made bitmap with {@link #ofBitmap(long[], long)}.
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
