package dev.guestmem.discard;

/**
 * One bit per block (set = plugged), with QEMU's {@code find_next_bit} / {@code find_next_zero_bit}
 * searches: the state of a {@link BitmapRamDiscardManager}.
 *
 * <p><b>Thread safety.</b> None; the manager guards it with its system's lock.
 */
final class BlockBitmap {
    private final long[] words;
    private final long nbits;

    /**
     * Creates a bitmap with every bit clear.
     *
     * @param nbits bits, at most {@code Integer.MAX_VALUE * 64}
     */
    BlockBitmap(long nbits) {
        if (nbits < 0 || (nbits + 63) >>> 6 > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bitmap of " + nbits + " bits");
        }
        this.nbits = nbits;
        this.words = new long[(int) ((nbits + 63) >>> 6)];
    }

    /** @return the number of bits */
    long size() {
        return nbits;
    }

    /**
     * @param bit a bit index below {@link #size()}
     * @return whether it is set
     */
    boolean get(long bit) {
        return (words[(int) (bit >>> 6)] & (1L << bit)) != 0;
    }

    /**
     * Sets or clears {@code [from, from + n)}.
     *
     * @param from first bit
     * @param n bits, {@code from + n <= size()}
     * @param value set (true) or clear (false)
     */
    void fill(long from, long n, boolean value) {
        long end = from + n;
        for (long b = from; b < end; ) {
            int w = (int) (b >>> 6);
            long wordEnd = Math.min(end, ((long) w + 1) << 6);
            long mask = mask(b & 63, wordEnd - b);
            words[w] = value ? words[w] | mask : words[w] & ~mask;
            b = wordEnd;
        }
    }

    /**
     * QEMU's {@code find_next_bit}.
     *
     * @param from first bit to look at (any value; at or past the end finds nothing)
     * @return the first set bit at or after {@code from}, or {@link #size()}
     */
    long nextSet(long from) {
        return next(from, false);
    }

    /**
     * QEMU's {@code find_next_zero_bit}.
     *
     * @param from first bit to look at (any value; at or past the end finds nothing)
     * @return the first clear bit at or after {@code from}, or {@link #size()}
     */
    long nextClear(long from) {
        return next(from, true);
    }

    /** @return the number of set bits */
    long cardinality() {
        long c = 0;
        for (long w : words) {
            c += Long.bitCount(w);
        }
        return c;
    }

    private long next(long from, boolean zero) {
        if (from < 0 || from >= nbits) {
            return nbits;
        }
        int w = (int) (from >>> 6);
        long bits = (zero ? ~words[w] : words[w]) & (-1L << (from & 63));
        while (true) {
            if (bits != 0) {
                long found = ((long) w << 6) + Long.numberOfTrailingZeros(bits);
                return Math.min(found, nbits);
            }
            w++;
            if (w >= words.length) {
                return nbits;
            }
            bits = zero ? ~words[w] : words[w];
        }
    }

    private static long mask(long shift, long len) {
        long m = len == 64 ? -1L : (1L << len) - 1;
        return m << shift;
    }
}
