package dev.guestmem.debug;

import java.util.Locale;

/**
 * Prints an {@link MtreeDocument} as QEMU 7.2 prints {@code info mtree} (byte for byte), in one of
 * the three dialects:
 * <ul>
 * <li>{@link MtreeDialect#PLAIN}: disabled and hidden nodes print no line, their subregions are
 *     printed at their own level all the same (QEMU walks them with {@code level + 1});</li>
 * <li>{@link MtreeDialect#DISABLED}: disabled nodes end in {@code [disabled]}, {@code container}
 *     prints as {@code i/o}, no {@code [readonly]};</li>
 * <li>{@link MtreeDialect#ANNOTATED}: as {@code DISABLED} but with {@code container} and
 *     {@code [readonly]}.</li>
 * </ul>
 * Hidden nodes never print (their facts are unknown). The {@code -o} owner suffix is not printed.
 *
 * <p><b>Thread safety.</b> Stateless; all methods are thread-safe.
 */
public final class MtreeWriter {
    private MtreeWriter() {
    }

    /**
     * Prints a document.
     *
     * @param doc the document
     * @param dialect which dialect to print
     * @return the text, every block followed by a blank line as QEMU does
     */
    public static String write(MtreeDocument doc, MtreeDialect dialect) {
        StringBuilder sb = new StringBuilder();
        for (MtreeBlock b : doc.blocks()) {
            switch (b) {
                case MtreeBlock.AddressSpaceGroup g -> {
                    for (String n : g.names()) {
                        sb.append("address-space: ").append(n).append('\n');
                    }
                }
                case MtreeBlock.RegionBlock r -> sb.append("memory-region: ").append(r.name()).append('\n');
            }
            node(sb, b.root(), 1, dialect);
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void node(StringBuilder sb, MtreeNode n, int level, MtreeDialect dialect) {
        boolean show = !n.hidden() && (!n.disabled() || dialect != MtreeDialect.PLAIN);
        if (show) {
            line(sb, n, level, dialect);
            sb.append('\n');
        } else if (n.overflowMarks() > 0) {
            // QEMU prints the warning before deciding to hide the line: it prefixes the next line.
            sb.append("[DETECTED OVERFLOW!] ".repeat(n.overflowMarks()));
        }
        for (MtreeNode c : n.children()) {
            node(sb, c, level + 1, dialect);
        }
    }

    /**
     * Formats one node's line (with its overflow prefixes, without a line terminator).
     *
     * @param n a visible node
     * @param level its depth (the root is level 1)
     * @param dialect {@code container} and {@code [readonly]} print only in the annotated dialect
     * @return the line
     */
    static String line(MtreeNode n, int level, MtreeDialect dialect) {
        if (n.hidden()) {
            return "(a region plain info mtree left out)";
        }
        StringBuilder sb = new StringBuilder();
        line(sb, n, level, dialect);
        return sb.toString();
    }

    private static void line(StringBuilder sb, MtreeNode n, int level, MtreeDialect dialect) {
        sb.append("[DETECTED OVERFLOW!] ".repeat(n.overflowMarks()));
        sb.append("  ".repeat(level));
        sb.append(hex(n.start())).append('-').append(hex(n.end()));
        sb.append(" (prio ").append(n.priority()).append(", ");
        if (n.nonvolatile()) {
            sb.append("nv-");
        }
        sb.append(dialect == MtreeDialect.ANNOTATED ? n.type().text() : n.type().qemuText()).append("): ");
        if (n.isAlias()) {
            MtreeAlias a = n.alias();
            sb.append("alias ").append(n.name()).append(" @").append(a.target()).append(' ')
                    .append(hex(a.targetStart())).append('-').append(hex(a.targetEnd()));
            if (n.readonlyMarker() && dialect == MtreeDialect.ANNOTATED) {
                sb.append(" [readonly]");
            }
        } else {
            sb.append(n.name());
        }
        if (n.disabled()) {
            sb.append(" [disabled]");
        }
    }

    /**
     * @param v an unsigned value
     * @return {@code v} as QEMU's {@code %016" PRIx64}
     */
    static String hex(long v) {
        String h = Long.toHexString(v);
        return "0".repeat(16 - h.length()) + h.toLowerCase(Locale.ROOT);
    }
}
