package dev.guestmem.share;

import java.util.HexFormat;

/**
 * Numbers as the command line and QEMU's monitor write them.
 *
 * <p><b>Thread safety.</b> Stateless.
 */
public final class Numbers {
    private Numbers() {
    }

    /**
     * Parses an unsigned 64-bit number as C's {@code strtoull(s, NULL, 0)} reads a whole word:
     * {@code 0x} hex, a leading {@code 0} octal, else decimal.
     *
     * @param s the text
     * @return the value
     * @throws IllegalArgumentException if it is not such a number or does not fit in 64 bits
     */
    public static long parseAddress(String s) {
        try {
            if (s.startsWith("0x") || s.startsWith("0X")) {
                return Long.parseUnsignedLong(digits(s.substring(2)), 16);
            }
            if (s.length() > 1 && s.startsWith("0")) {
                return Long.parseUnsignedLong(digits(s.substring(1)), 8);
            }
            return Long.parseUnsignedLong(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + s + "' is not an address (0x hex, 0 octal or decimal)");
        }
    }

    /** The digits after a prefix: Long's parser takes a sign there, strtoull does not. */
    private static String digits(String afterPrefix) {
        if (afterPrefix.startsWith("+") || afterPrefix.startsWith("-")) {
            throw new NumberFormatException(afterPrefix);
        }
        return afterPrefix;
    }

    /**
     * Parses a size with an optional {@code K}, {@code M}, {@code G} suffix (powers of 1024), as
     * QEMU's {@code -m} does.
     *
     * @param s the text, such as {@code 64M} or {@code 0x1000}
     * @return bytes
     * @throws IllegalArgumentException if it is not a positive size
     */
    public static long parseSize(String s) {
        int shift = 0;
        String digits = s;
        if (!s.isEmpty()) {
            switch (Character.toUpperCase(s.charAt(s.length() - 1))) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                default -> { }
            }
        }
        if (shift > 0 && !s.startsWith("0x")) {
            digits = s.substring(0, s.length() - 1);
        }
        long v;
        try {
            v = parseAddress(digits);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + s + "' is not a size (a number with K, M or G)");
        }
        if (v <= 0 || v > (Long.MAX_VALUE >>> shift)) {
            throw new IllegalArgumentException("'" + s + "' is not a positive size");
        }
        return v << shift;
    }

    /**
     * Parses bytes written as hex digits, with or without {@code 0x}.
     *
     * @param s an even number of hex digits
     * @return the bytes
     * @throws IllegalArgumentException if it is not
     */
    public static byte[] parseHexBytes(String s) {
        String h = s.startsWith("0x") || s.startsWith("0X") ? s.substring(2) : s;
        if (h.isEmpty() || (h.length() & 1) != 0) {
            throw new IllegalArgumentException("'" + s + "' is not an even, non-zero number of hex digits");
        }
        try {
            return HexFormat.of().parseHex(h);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + s + "' is not hex bytes");
        }
    }
}
