package dev.guestmem.region;

/**
 * A signed 128-bit integer, as QEMU's {@code Int128}: the arithmetic of region placement, where alias
 * offsets push bases below zero and a region may be exactly 2^64 bytes long. Only the operations the
 * topology code needs.
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param hi the high 64 bits (signed)
 * @param lo the low 64 bits (unsigned)
 */
public record Int128(long hi, long lo) implements Comparable<Int128> {
    /** Zero. */
    public static final Int128 ZERO = new Int128(0, 0);
    /** 2^64, the end of the address space and the size {@code -1L} stands for. */
    public static final Int128 TWO_64 = new Int128(1, 0);

    /**
     * @param v an unsigned 64-bit value
     * @return it as a 128-bit value
     */
    public static Int128 ofUnsigned(long v) {
        return new Int128(0, v);
    }

    /**
     * Converts a region size in QEMU's convention ({@code -1L} means 2^64).
     *
     * @param size a size
     * @return the size as a 128-bit value
     */
    public static Int128 ofSize(long size) {
        return size == -1L ? TWO_64 : new Int128(0, size);
    }

    /**
     * @param o addend
     * @return {@code this + o}
     */
    public Int128 add(Int128 o) {
        long l = lo + o.lo;
        long carry = Long.compareUnsigned(l, lo) < 0 ? 1 : 0;
        return new Int128(hi + o.hi + carry, l);
    }

    /**
     * @param v an unsigned 64-bit addend
     * @return {@code this + v}
     */
    public Int128 addUnsigned(long v) {
        return add(ofUnsigned(v));
    }

    /**
     * @param o subtrahend
     * @return {@code this - o}
     */
    public Int128 sub(Int128 o) {
        long l = lo - o.lo;
        long borrow = Long.compareUnsigned(lo, o.lo) < 0 ? 1 : 0;
        return new Int128(hi - o.hi - borrow, l);
    }

    /**
     * @param v an unsigned 64-bit subtrahend
     * @return {@code this - v}
     */
    public Int128 subUnsigned(long v) {
        return sub(ofUnsigned(v));
    }

    @Override
    public int compareTo(Int128 o) {
        int c = Long.compare(hi, o.hi);
        return c != 0 ? c : Long.compareUnsigned(lo, o.lo);
    }

    /**
     * @param a a value
     * @param b a value
     * @return the smaller
     */
    public static Int128 min(Int128 a, Int128 b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /**
     * @param a a value
     * @param b a value
     * @return the larger
     */
    public static Int128 max(Int128 a, Int128 b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /** @return whether the value is negative */
    public boolean isNegative() {
        return hi < 0;
    }

    /** @return whether {@code 0 <= this < 2^64} */
    public boolean fitsUnsigned64() {
        return hi == 0;
    }

    /**
     * Converts back to QEMU's size convention.
     *
     * @return {@code -1L} for 2^64, else the low 64 bits
     * @throws ArithmeticException if the value is negative or above 2^64
     */
    public long toSize() {
        if (equals(TWO_64)) {
            return -1L;
        }
        if (hi != 0) {
            throw new ArithmeticException("not a 64-bit size: " + this);
        }
        return lo;
    }

    @Override
    public String toString() {
        if (hi == 0) {
            return "0x" + Long.toHexString(lo);
        }
        return java.math.BigInteger.valueOf(hi).shiftLeft(64).add(
                new java.math.BigInteger(Long.toUnsignedString(lo))).toString(16).replaceFirst("^(-?)", "$10x");
    }
}
