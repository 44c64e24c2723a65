package dev.guestmem.cli;

import dev.guestmem.share.MemoryDump;
import dev.guestmem.share.XpFormat;
import java.io.PrintStream;

/**
 * Prints an {@code xp} dump as it reads it, a slice at a time: a count over gigabytes of RAM prints
 * its first lines at once and holds one slice in memory, not the whole text (which ran out of heap).
 * The slices start on line boundaries, so the text is {@link MemoryDump}'s, line for line.
 *
 * <p><b>Thread safety.</b> Stateless.
 */
final class DumpPrinter {
    /** Units per slice: a multiple of 16, so each slice is whole lines for every unit size. */
    private static final int SLICE_UNITS = 4096;

    private DumpPrinter() {
    }

    /**
     * Prints a dump.
     *
     * @param fmt count, format and size
     * @param addr the first address (unsigned)
     * @param bigEndian the target's byte order
     * @param reader reads each line's bytes
     * @param out where the lines go
     * @return true if every line was read, false if the dump stopped at an unreadable line or
     *     {@code out} failed (a closed pipe)
     */
    static boolean print(XpFormat fmt, long addr, boolean bigEndian, MemoryDump.LineReader reader, PrintStream out) {
        long left = fmt.count();
        long at = addr;
        do {
            int n = (int) Math.min(left, SLICE_UNITS);
            StringBuilder sb = new StringBuilder();
            boolean all = MemoryDump.dump(new XpFormat(n, fmt.format(), fmt.size()), at, bigEndian, reader, sb);
            out.print(sb);
            if (!all || out.checkError()) {
                return false;
            }
            left -= n;
            at += (long) n * fmt.size();
        } while (left > 0);
        return true;
    }
}
