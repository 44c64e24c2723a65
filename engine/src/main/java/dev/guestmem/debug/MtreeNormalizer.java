package dev.guestmem.debug;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Puts {@code info mtree} output (tree or flat) in the comparable form the fixtures' README defines.
 * QEMU walks pointer-keyed hash tables, so the order of blocks and the {@code FlatView #N} numbers
 * change from run to run, and the {@code AS "..."} lines of a shared view follow address-space
 * creation order, which the tree text does not record. So: split at blank lines into blocks,
 * replace {@code FlatView #<digits>} by {@code FlatView #N}, sort each run of consecutive
 * {@code  AS "..."} lines, sort the blocks as strings, join them with one blank line.
 *
 * <p><b>Thread safety.</b> Stateless; all methods are thread-safe.
 */
public final class MtreeNormalizer {
    private static final Pattern VIEW_NUMBER = Pattern.compile("^FlatView #[0-9]+", Pattern.MULTILINE);

    private MtreeNormalizer() {
    }

    /**
     * Normalises a text.
     *
     * @param text QEMU's output or ours
     * @return the normal form (blocks joined by one blank line, no trailing newline)
     */
    public static String normalize(String text) {
        String t = VIEW_NUMBER.matcher(text.replace("\r\n", "\n")).replaceAll("FlatView #N");
        List<String> blocks = new ArrayList<>();
        List<String> current = new ArrayList<>();
        for (String line : t.split("\n", -1)) {
            if (line.isEmpty()) {
                flush(current, blocks);
            } else {
                current.add(line);
            }
        }
        flush(current, blocks);
        Collections.sort(blocks);
        return String.join("\n\n", blocks);
    }

    private static void flush(List<String> lines, List<String> blocks) {
        if (lines.isEmpty()) {
            return;
        }
        List<String> out = new ArrayList<>(lines.size());
        int i = 0;
        while (i < lines.size()) {
            if (lines.get(i).startsWith(" AS \"")) {
                int j = i;
                while (j < lines.size() && lines.get(j).startsWith(" AS \"")) {
                    j++;
                }
                List<String> run = new ArrayList<>(lines.subList(i, j));
                Collections.sort(run);
                out.addAll(run);
                i = j;
            } else {
                out.add(lines.get(i));
                i++;
            }
        }
        blocks.add(String.join("\n", out));
        lines.clear();
    }
}
