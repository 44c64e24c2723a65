package dev.guestmem.bench.restore;

import dev.guestmem.bench.BenchGroup;
import dev.guestmem.bench.BenchResults;
import dev.guestmem.bench.Target;
import java.util.List;
import java.util.Map;

/**
 * Group {@code restore}: P10 from {@link RestoreBench}, one line per part. P10a is the time until
 * the guest's first access completes over the eager full copy's time (at most 0.05); P10b the Java
 * page server's random-fault rate over the minimal C handler's (at least 0.8); P10c the whole-RAM
 * sequential-touch bandwidth with prefetch over the eager copy's bandwidth (at least 0.5).
 * {@code --quick} restores a 128 MiB snapshot instead of 1 GiB.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class RestoreGroup implements BenchGroup {
    /** Creates the group. */
    public RestoreGroup() {
    }

    @Override
    public String name() {
        return "restore";
    }

    @Override
    public String includeRegex() {
        return "dev\\.guestmem\\.bench\\.restore\\..*";
    }

    @Override
    public List<Target> targets() {
        return List.of(
                Target.atMost("P10a", 0.05, RestoreGroup::p10a),
                Target.atLeast("P10b", 0.8, RestoreGroup::p10b),
                Target.atLeast("P10c", 0.5, RestoreGroup::p10c));
    }

    @Override
    public Map<String, String> quickParams() {
        return Map.of("snapshotMiB", "128");
    }

    /** Lazy time to first access over eager full copy time. */
    static double p10a(BenchResults r) {
        return r.score("RestoreBench.lazyFirstAccess") / r.score("RestoreBench.eagerFullCopy");
    }

    /** Java faults/s over C faults/s: the same fault count, so the C time over the Java time. */
    static double p10b(BenchResults r) {
        return r.score("RestoreBench.cRandomFaults") / r.score("RestoreBench.javaRandomFaults");
    }

    /** Lazy sequential bandwidth over eager bandwidth: the same bytes, so eager time over lazy time. */
    static double p10c(BenchResults r) {
        return r.score("RestoreBench.eagerFullCopy") / r.score("RestoreBench.lazySequentialPrefetch");
    }
}
