package dev.guestmem.share;

/**
 * QEMU's monitor {@code memory_dump} (monitor/hmp-cmds-target.c in QEMU 7.2, behind {@code xp}):
 * the same lines, character for character.
 * <ul>
 *   <li>Each line starts with the guest-physical address as {@code %016" PRIx64 ":"}
 *       ({@code HWADDR_FMT_plx}) and holds 16 bytes, or 8 when the unit is one byte.</li>
 *   <li>Units are loaded in the target's byte order and printed after one space: {@code x} as
 *       {@code 0x} and {@code 2*size} zero-padded hex digits; {@code u} and {@code d} right-aligned
 *       in {@code ceil(size*80/33)} columns (units are loaded zero-extended, so {@code d} differs
 *       from {@code u} only for 8-byte units); {@code o} with C's {@code %#*o} in
 *       {@code ceil(size*8/3)} columns; {@code c} one byte at a time as {@code 'A'}, {@code '\n'},
 *       {@code '\r'}, {@code '\''}, {@code '\\'} or {@code '\xNN'}. With {@code c} the byte count
 *       is still count &times; size and the line width follows the size given.</li>
 *   <li>A line whose bytes cannot all be read prints {@code " Cannot access memory"} after its
 *       address and ends the dump, as in QEMU.</li>
 * </ul>
 *
 * <p><b>Thread safety.</b> Stateless; the {@link LineReader} decides what it reads.
 */
public final class MemoryDump {
    /** QEMU's text for a line that could not be read. */
    public static final String CANNOT_ACCESS = " Cannot access memory";

    /** Reads the bytes of one line. */
    @FunctionalInterface
    public interface LineReader {
        /**
         * Reads {@code len} bytes at a guest address.
         *
         * @param addr guest-physical address (unsigned)
         * @param buf where the bytes go
         * @param len how many bytes, at most 16
         * @return null when all bytes were read, else the text to print after the line's address
         *     (QEMU's {@link #CANNOT_ACCESS}, or a more precise reason that starts with a space)
         */
        String read(long addr, byte[] buf, int len);
    }

    private MemoryDump() {
    }

    /**
     * Prints a dump.
     *
     * @param fmt count, format and size
     * @param addr the first address (unsigned)
     * @param bigEndian the target's byte order
     * @param reader reads each line's bytes
     * @param out receives the lines, each ended by {@code \n}
     * @return true if every line was read, false if the dump stopped at an unreadable line
     */
    public static boolean dump(XpFormat fmt, long addr, boolean bigEndian, LineReader reader, StringBuilder out) {
        int wsize = fmt.size();
        long len = (long) wsize * fmt.count();
        int lineSize = wsize == 1 ? 8 : 16;
        int maxDigits = switch (fmt.format()) {
            case 'o' -> (wsize * 8 + 2) / 3;
            case 'u', 'd' -> (wsize * 8 * 10 + 32) / 33;
            case 'c' -> 0;
            default -> wsize * 2;
        };
        if (fmt.format() == 'c') {
            wsize = 1;
        }
        byte[] buf = new byte[16];
        while (len > 0) {
            appendHex(out, addr, 16).append(':');
            int l = (int) Math.min(len, lineSize);
            String failure = reader.read(addr, buf, l);
            if (failure != null) {
                out.append(failure).append('\n');
                return false;
            }
            for (int i = 0; i < l; i += wsize) {
                long v = load(buf, i, wsize, bigEndian);
                out.append(' ');
                switch (fmt.format()) {
                    case 'o' -> pad(out, v == 0 ? "0" : "0" + Long.toOctalString(v), maxDigits);
                    case 'u' -> pad(out, Long.toUnsignedString(v), maxDigits);
                    case 'd' -> pad(out, Long.toString(v), maxDigits);
                    case 'c' -> printc(out, (int) v);
                    default -> appendHex(out.append("0x"), v, maxDigits);
                }
            }
            out.append('\n');
            addr += l;
            len -= l;
        }
        return true;
    }

    private static long load(byte[] buf, int off, int size, boolean bigEndian) {
        long v = 0;
        for (int k = 0; k < size; k++) {
            int b = buf[off + (bigEndian ? k : size - 1 - k)] & 0xff;
            v = (v << 8) | b;
        }
        return v;
    }

    private static StringBuilder appendHex(StringBuilder out, long v, int digits) {
        String h = Long.toHexString(v);
        out.repeat('0', Math.max(0, digits - h.length()));
        return out.append(h);
    }

    private static void pad(StringBuilder out, String s, int width) {
        out.repeat(' ', Math.max(0, width - s.length())).append(s);
    }

    /** QEMU's {@code monitor_printc}. */
    private static void printc(StringBuilder out, int c) {
        out.append('\'');
        switch (c) {
            case '\'' -> out.append("\\'");
            case '\\' -> out.append("\\\\");
            case '\n' -> out.append("\\n");
            case '\r' -> out.append("\\r");
            default -> {
                if (c >= 32 && c <= 126) {
                    out.append((char) c);
                } else {
                    out.append("\\x");
                    appendHex(out, c, 2);
                }
            }
        }
        out.append('\'');
    }
}
