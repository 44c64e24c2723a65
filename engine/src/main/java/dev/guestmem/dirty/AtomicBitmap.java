package dev.guestmem.dirty;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Atomic bit-range operations on one {@code long[]} bitmap block, as QEMU's {@code
 * bitmap_set_atomic}, {@code bitmap_test_and_clear_atomic} and {@code bitmap_copy_and_clear_atomic}
 * (util/bitmap.c). Bit {@code i} is bit {@code i & 63} of word {@code i >>> 6}.
 *
 * <p><b>Thread safety.</b> Any thread, no locks, no allocation. Bits change only through
 * read-modify-write atomics ({@code getAndBitwiseOr}, {@code getAndBitwiseAnd}, {@code getAndSet}),
 * so a concurrent set is never lost by a concurrent clear of other bits. Reads that decide whether
 * an atomic is needed at all are opaque: a word observed with every wanted bit already set (or
 * clear) needs no write, which keeps the steady state of logging free of atomics.
 */
final class AtomicBitmap {
    /** Element access to bitmap words; every non-plain access in this package goes through it. */
    static final VarHandle WORDS = MethodHandles.arrayElementVarHandle(long[].class);

    private AtomicBitmap() {
    }

    /**
     * Returns mask of the bits {@code [from & 63, 64)} of the first word of a range.
     *
     * @return mask of the bits {@code [from & 63, 64)} of the first word of a range
     */
    static long headMask(long from) {
        return -1L << from;
    }

    /**
     * Returns mask of the bits below {@code to} in the last word of a range (all when 64-aligned).
     *
     * @return mask of the bits below {@code to} in the last word of a range (all when 64-aligned)
     */
    static long tailMask(long to) {
        return -1L >>> -to;
    }

    /**
     * Sets bits {@code [from, to)}; {@code from < to}.
     *
     * @param words the block
     * @param from first bit
     * @param to bit after the last
     */
    static void set(long[] words, int from, int to) {
        int w = from >>> 6;
        int last = (to - 1) >>> 6;
        if (w == last) {
            orWord(words, w, headMask(from) & tailMask(to));
            return;
        }
        orWord(words, w, headMask(from));
        for (int i = w + 1; i < last; i++) {
            orWord(words, i, -1L);
        }
        orWord(words, last, tailMask(to));
    }

    private static void orWord(long[] words, int i, long mask) {
        long cur = (long) WORDS.getOpaque(words, i);
        if ((cur & mask) != mask) {
            WORDS.getAndBitwiseOr(words, i, mask);
        }
    }

    /**
     * Tests whether any bit of {@code [from, to)} is set; {@code from < to}.
     *
     * @param words the block
     * @param from first bit
     * @param to bit after the last
     * @return true if one is set
     */
    static boolean anySet(long[] words, int from, int to) {
        int w = from >>> 6;
        int last = (to - 1) >>> 6;
        if (w == last) {
            return (word(words, w) & headMask(from) & tailMask(to)) != 0;
        }
        if ((word(words, w) & headMask(from)) != 0) {
            return true;
        }
        for (int i = w + 1; i < last; i++) {
            if (word(words, i) != 0) {
                return true;
            }
        }
        return (word(words, last) & tailMask(to)) != 0;
    }

    /**
     * Tests whether any bit of {@code [from, to)} is clear; {@code from < to}.
     *
     * @param words the block
     * @param from first bit
     * @param to bit after the last
     * @return true if one is clear
     */
    static boolean anyClear(long[] words, int from, int to) {
        int w = from >>> 6;
        int last = (to - 1) >>> 6;
        if (w == last) {
            return (~word(words, w) & headMask(from) & tailMask(to)) != 0;
        }
        if ((~word(words, w) & headMask(from)) != 0) {
            return true;
        }
        for (int i = w + 1; i < last; i++) {
            if (word(words, i) != -1L) {
                return true;
            }
        }
        return (~word(words, last) & tailMask(to)) != 0;
    }

    /**
     * Clears bits {@code [from, to)} and reports whether any of them was set; {@code from < to}.
     *
     * @param words the block
     * @param from first bit
     * @param to bit after the last
     * @return true if a cleared bit was set
     */
    static boolean testAndClear(long[] words, int from, int to) {
        int w = from >>> 6;
        int last = (to - 1) >>> 6;
        if (w == last) {
            return andNotWord(words, w, headMask(from) & tailMask(to));
        }
        boolean dirty = andNotWord(words, w, headMask(from));
        for (int i = w + 1; i < last; i++) {
            dirty |= andNotWord(words, i, -1L);
        }
        return andNotWord(words, last, tailMask(to)) | dirty;
    }

    private static boolean andNotWord(long[] words, int i, long mask) {
        if ((word(words, i) & mask) == 0) {
            return false;
        }
        long old = (long) WORDS.getAndBitwiseAnd(words, i, ~mask);
        return (old & mask) != 0;
    }

    /**
     * Moves whole words {@code [fromWord, fromWord + count)} of {@code src} into {@code dst} from
     * {@code dstWord}, leaving them zero in {@code src} ({@code bitmap_copy_and_clear_atomic}). A
     * bit set concurrently lands either in {@code dst} or stays in {@code src}; {@code dst} must
     * start zero (a fresh array).
     *
     * @param src the block
     * @param fromWord first word
     * @param count words
     * @param dst destination
     * @param dstWord first destination word
     * @return number of set bits moved
     */
    static long copyAndClear(long[] src, int fromWord, int count, long[] dst, int dstWord) {
        long moved = 0;
        for (int i = 0; i < count; i++) {
            // A zero word needs no exchange: a set racing with this read is ordered after the snapshot
            // and stays for the next one. Skipping keeps an all-clean scan a plain memory sweep.
            if (word(src, fromWord + i) != 0) {
                long bits = (long) WORDS.getAndSet(src, fromWord + i, 0L);
                dst[dstWord + i] = bits;
                moved += Long.bitCount(bits);
            }
        }
        return moved;
    }

    private static long word(long[] words, int i) {
        return (long) WORDS.getOpaque(words, i);
    }
}
