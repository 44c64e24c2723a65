package dev.guestmem.debug;

import java.util.ArrayList;
import java.util.List;

/**
 * The choices that make one reading of an {@code info mtree} text (see {@link MtreeImporter}'s
 * "Readings"): which option to take at each decision the text leaves open, in the order the import
 * meets them, and the depth-first successor of a reading.
 *
 * <p><b>Thread safety.</b> Confined to one import.
 */
final class ReadingChoices {
    /** Which option to take at each decision with more than one (missing ones: the first). */
    private final List<Integer> wanted;
    /** The options taken at each decision with more than one, in decision order. */
    private final List<Integer> taken = new ArrayList<>();
    /** How many options each of those decisions had. */
    private final List<Integer> optionCounts = new ArrayList<>();

    ReadingChoices(List<Integer> wanted) {
        this.wanted = wanted;
    }

    /** Takes an option at a decision with {@code options} options, as the wanted choices say. */
    int decide(int options) {
        if (options == 1) {
            return 0;
        }
        int i = taken.size();
        int k = i < wanted.size() ? Math.min(wanted.get(i), options - 1) : 0;
        taken.add(k);
        optionCounts.add(options);
        return k;
    }

    /** @return the options taken so far: the choices that rebuild this reading */
    List<Integer> taken() {
        return taken;
    }

    /**
     * @return the choices of the next reading in depth-first order (the last decision that has
     *     an untried option takes it; later decisions start over), or null after the last one
     */
    List<Integer> next() {
        for (int j = taken.size() - 1; j >= 0; j--) {
            if (taken.get(j) + 1 < optionCounts.get(j)) {
                List<Integer> next = new ArrayList<>(taken.subList(0, j));
                next.add(taken.get(j) + 1);
                return next;
            }
        }
        return null;
    }
}
