package dev.guestmem.bench;

import java.util.List;
import java.util.Map;

/**
 * A named set of JMH benchmarks and the TARGETS.md lines they decide. Each group lives in its own
 * class and is listed with one line in {@link BenchGroups#ALL}.
 *
 * <p><b>Thread safety.</b> Implementations are immutable.
 */
public interface BenchGroup {
    /** @return the group name given on the command line ({@code "ram"}, {@code "access"}...) */
    String name();

    /** @return the JMH include pattern selecting the group's benchmark classes */
    String includeRegex();

    /** @return the targets, one output line each, in order */
    List<Target> targets();

    /**
     * Profilers the group always needs, as JMH names with optional {@code :options}
     * ({@code "gc"} for {@code ·gc.alloc.rate.norm}); {@code --prof} adds more.
     *
     * @return profiler specs, empty by default
     */
    default List<String> profilers() {
        return List.of();
    }

    /**
     * JMH parameters {@code --quick} sets (smaller problem sizes, so a group still runs in a minute
     * or two); a {@code -p} for the same name wins.
     *
     * @return parameter name to comma-separated values, empty by default
     */
    default Map<String, String> quickParams() {
        return Map.of();
    }
}
