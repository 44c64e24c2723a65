package dev.guestmem.share;

/**
 * The {@code /FMT} of QEMU's monitor commands {@code x} and {@code xp}: a count, a format letter
 * ({@code x} hex, {@code d} signed, {@code u} unsigned, {@code o} octal, {@code c} char) and a
 * unit size ({@code b} 1, {@code h} 2, {@code w} 4, {@code g} or {@code L} 8), in any order after
 * the count, as QEMU's {@code monitor_parse_arguments} reads them. What is left out takes QEMU's
 * defaults of a fresh monitor: count 1, format {@code x}, size {@code w}. (QEMU then remembers the
 * last format and size per monitor; a one-shot tool has no "last".)
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param count how many units
 * @param format the format letter
 * @param size the unit size in bytes: 1, 2, 4 or 8
 */
public record XpFormat(int count, char format, int size) {
    /** A fresh QEMU monitor's defaults: {@code /1xw}. */
    public static final XpFormat DEFAULT = new XpFormat(1, 'x', 4);

    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException for a negative count, an unknown format or size
     */
    public XpFormat {
        if (count < 0) {
            throw new IllegalArgumentException("count " + count + " is negative");
        }
        if ("xduoc".indexOf(format) < 0) {
            throw new IllegalArgumentException("format '" + format + "' is not one of x, d, u, o, c"
                    + (format == 'i' ? " (disassembly is not supported)" : ""));
        }
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("size " + size + " is not 1, 2, 4 or 8");
        }
    }

    /**
     * Parses {@code /FMT} as QEMU does ({@code /4xw}, {@code /xg}, {@code /10}, {@code /wx}).
     *
     * @param text the argument, starting with {@code /}
     * @return the format
     * @throws IllegalArgumentException with QEMU's {@code invalid char in format: 'C'} for a
     *     character it would reject, or for {@code i}, which needs a disassembler
     */
    public static XpFormat parse(String text) {
        if (!text.startsWith("/")) {
            throw new IllegalArgumentException("format '" + text + "' must start with '/'");
        }
        int p = 1;
        int count = 1;
        if (p < text.length() && Character.isDigit(text.charAt(p))) {
            long c = 0;
            while (p < text.length() && Character.isDigit(text.charAt(p))) {
                c = c * 10 + (text.charAt(p++) - '0');
                if (c > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("count in '" + text + "' is too large");
                }
            }
            count = (int) c;
        }
        char format = DEFAULT.format();
        int size = -1;
        for (; p < text.length(); p++) {
            char ch = text.charAt(p);
            switch (ch) {
                case 'o', 'd', 'u', 'x', 'c', 'i' -> format = ch;
                case 'b' -> size = 1;
                case 'h' -> size = 2;
                case 'w' -> size = 4;
                case 'g', 'L' -> size = 8;
                default -> throw new IllegalArgumentException("invalid char in format: '" + ch + "'");
            }
        }
        return new XpFormat(count, format, size < 0 ? DEFAULT.size() : size);
    }

    /** @return the text QEMU accepts for this format, such as {@code /4xw} */
    @Override
    public String toString() {
        return "/" + count + format + switch (size) {
            case 1 -> 'b';
            case 2 -> 'h';
            case 4 -> 'w';
            default -> 'g';
        };
    }
}
