package dev.guestmem.bench.access;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Draws the access group's target lines ({@code targets.txt} written by {@code ./guestmem bench
 * access}) as an SVG bar chart for {@code docs/benchmarks.md}: one bar per ratio target, the target
 * drawn as a tick, green when met and red when missed. Absolute lines are left out.
 *
 * <p>Usage: {@code java -cp jmh/target/benchmarks.jar dev.guestmem.bench.access.AccessChart
 * jmh/target/bench/access/targets.txt docs/access-ratios.svg [TITLE]}; absolute targets (P4ns, P6, P9,
 * P13) are left out, so the concatenated targets of every group draw the summary chart.
 *
 * <p><b>Thread safety.</b> A command-line tool; single-threaded.
 */
public final class AccessChart {
    private AccessChart() {
    }

    /** One parsed line. */
    private record Line(String id, double ratio, String target, boolean pass) {
    }

    /**
     * Entry point.
     *
     * @param args {@code targets.txt output.svg}
     * @throws IOException if reading or writing fails
     */
    public static void main(String[] args) throws IOException {
        List<Line> lines = new ArrayList<>();
        for (String l : Files.readAllLines(Path.of(args[0]))) {
            String[] f = l.trim().split("\\s+");
            if (f.length < 4 || ABSOLUTE.contains(f[0])) {
                continue;
            }
            lines.add(new Line(f[0], Double.parseDouble(f[1].substring("ratio=".length())),
                    f[2].substring("target=".length()), f[3].equals("PASS")));
        }
        String title = args.length > 2 ? args[2] : "access path";
        Files.writeString(Path.of(args[1]), svg(lines, title));
    }

    /**
     * The bound a row's marker shows.
     *
     * @param target a target as printed after {@code target=}
     * @return X for {@code <=X} or {@code >=X}, B for a range {@code A..B}
     */
    public static double bound(String target) {
        int range = target.indexOf("..");
        return Double.parseDouble(range >= 0 ? target.substring(range + 2) : target.substring(2));
    }

    /** Targets whose figure is absolute (ms, ns, B/op), not a ratio: not drawn. */
    private static final java.util.Set<String> ABSOLUTE = java.util.Set.of("P4ns", "P6", "P9", "P13");

    private static String svg(List<Line> lines, String title) {
        int w = 640;
        int rowH = 34;
        int left = 70;
        int h = 60 + rowH * lines.size();
        double max = 1;
        for (Line l : lines) {
            max = Math.max(max, Math.max(l.ratio(), bound(l.target())));
        }
        max = Math.ceil(max);
        double scale = (w - left - 150) / max;
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"13\">%n", w, h));
        sb.append("<text x=\"10\" y=\"20\" font-weight=\"bold\">" + title + ": ratio to the same-run baseline "
                + "(bar) and target (tick)</text>\n");
        for (int x = 0; x <= max; x++) {
            double px = left + x * scale;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"35\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" fill=\"#666\">%dx</text>%n", px, px, h - 15, px - 6, h - 2, x));
        }
        int y = 40;
        for (Line l : lines) {
            double t = bound(l.target());
            String color = l.pass() ? "#3a3" : "#c33";
            sb.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"%d\">%s</text>%n", y + 17, l.id()));
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"20\" fill=\"%s\"/>%n",
                    left, y + 3, Math.max(1, l.ratio() * scale), color));
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#000\" "
                    + "stroke-width=\"3\"/>%n", left + t * scale, y, left + t * scale, y + 26));
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">%.2f (target %s) %s</text>%n",
                    left + Math.max(l.ratio(), t) * scale + 8, y + 17, l.ratio(), l.target(), l.pass() ? "PASS" : "MISS"));
            y += rowH;
        }
        sb.append("</svg>\n");
        return sb.toString();
    }
}
