package dev.guestmem.testing;

import java.util.List;

/**
 * A stream of choices drawn by a jqwik property (a list of integers that jqwik shrinks); past its end
 * every choice is 0, so a shrunk list still drives a whole scenario. Shared by the random-tree
 * properties of the flat-view and dispatch tests.
 *
 * <p><b>Thread safety.</b> One property run, one thread.
 */
public final class Choices {
    private final List<Integer> values;
    private int next;

    /**
     * Wraps the drawn values.
     *
     * @param values the values jqwik drew
     */
    public Choices(List<Integer> values) {
        this.values = values;
    }

    /**
     * Takes the next choice.
     *
     * @param bound exclusive upper bound (positive)
     * @return a value in {@code [0, bound)}
     */
    public int next(int bound) {
        return next < values.size() ? values.get(next++) % bound : 0;
    }

    /**
     * Takes the next choice among some values.
     *
     * @param from the values
     * @return one of them
     */
    public long pick(long[] from) {
        return from[next(from.length)];
    }
}
