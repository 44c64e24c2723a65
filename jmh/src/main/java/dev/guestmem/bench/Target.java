package dev.guestmem.bench;

import java.util.Objects;
import java.util.function.DoublePredicate;
import java.util.function.ToDoubleFunction;

/**
 * One TARGETS.md line a group decides: {@code measure} turns the run's results into the figure
 * printed as {@code ratio=} (a ratio, or an absolute value in the target's unit) and {@code pass}
 * says whether it meets {@code targetText}.
 *
 * @param id the target id, such as {@code "P11"}
 * @param targetText the target as printed after {@code target=}, such as {@code ">=0.9"}
 * @param measure computes the figure from the results
 * @param pass decides PASS (true) or MISS (false)
 */
public record Target(String id, String targetText, ToDoubleFunction<BenchResults> measure, DoublePredicate pass) {
    /** Checks every part is given. */
    public Target {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(targetText, "targetText");
        Objects.requireNonNull(measure, "measure");
        Objects.requireNonNull(pass, "pass");
    }

    /**
     * A target met when the figure is at least {@code min} (prints {@code >=min}).
     *
     * @param id the id
     * @param min the smallest passing figure
     * @param measure computes the figure
     * @return the target
     */
    public static Target atLeast(String id, double min, ToDoubleFunction<BenchResults> measure) {
        return new Target(id, ">=" + trim(min), measure, v -> v >= min);
    }

    /**
     * A target met when the figure is at most {@code max} (prints {@code <=max}).
     *
     * @param id the id
     * @param max the largest passing figure
     * @param measure computes the figure
     * @return the target
     */
    public static Target atMost(String id, double max, ToDoubleFunction<BenchResults> measure) {
        return new Target(id, "<=" + trim(max), measure, v -> v <= max);
    }

    /**
     * A target met when the figure lies in {@code [min, max]} (prints {@code min..max}): a control,
     * which must read its expected value from either side.
     *
     * @param id the id
     * @param min the smallest passing figure
     * @param max the largest passing figure
     * @param measure computes the figure
     * @return the target
     */
    public static Target within(String id, double min, double max, ToDoubleFunction<BenchResults> measure) {
        return new Target(id, trim(min) + ".." + trim(max), measure, v -> v >= min && v <= max);
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
