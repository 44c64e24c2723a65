package dev.guestmem.bench.ram;

import dev.guestmem.bench.BenchGroup;
import dev.guestmem.bench.BenchResults;
import dev.guestmem.bench.Target;
import java.util.List;

/**
 * Group {@code ram}: P11, sequential write bandwidth into memfd- and file-backed RAM against
 * anonymous RAM in the same run. P11 comes from {@link RamInterleavedBench}, which alternates the
 * backends within each operation so that load from other processes on this shared machine hits
 * all of them alike; {@link RamWriteBench} gives the usual one-run-per-backend table.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class RamBenchGroup implements BenchGroup {
    /** The write kernels measured; P11 takes the worst backend over both. */
    static final List<String> METHODS = List.of("RamWriteBench.fill", "RamWriteBench.storeLongs");
    /** The interleaved benchmark that decides P11. */
    static final String INTERLEAVED = "RamInterleavedBench.interleaved";
    /** Its kernels. */
    static final List<String> KERNELS = List.of("fill", "storeLongs");

    /** Creates the group. */
    public RamBenchGroup() {
    }

    @Override
    public String name() {
        return "ram";
    }

    @Override
    public String includeRegex() {
        return "dev\\.guestmem\\.bench\\.ram\\..*";
    }

    @Override
    public List<Target> targets() {
        return List.of(Target.atLeast("P11", 0.9, RamBenchGroup::p11));
    }

    /**
     * min over {memfd, file} and both write kernels of backend throughput / anonymous throughput,
     * from the interleaved run's time counters (throughput ratio = anonymous time / backend time).
     */
    static double p11(BenchResults r) {
        double worst = Double.POSITIVE_INFINITY;
        for (String kernel : KERNELS) {
            String params = "kernel=" + kernel;
            double anon = r.secondary(INTERLEAVED, params, "anonymousNs");
            worst = Math.min(worst, anon / r.secondary(INTERLEAVED, params, "memfdNs"));
            worst = Math.min(worst, anon / r.secondary(INTERLEAVED, params, "fileNs"));
        }
        return worst;
    }

    /**
     * The same ratio from the separate per-backend runs of {@link RamWriteBench} (for the docs;
     * sensitive to load that changes between runs).
     *
     * @param r the results
     * @return min over backends and kernels of backend / anonymous throughput
     */
    public static double separateRunsRatio(BenchResults r) {
        double worst = Double.POSITIVE_INFINITY;
        for (String m : METHODS) {
            double anon = r.score(m, "backend=anonymous");
            worst = Math.min(worst, r.score(m, "backend=memfd") / anon);
            worst = Math.min(worst, r.score(m, "backend=file") / anon);
        }
        return worst;
    }
}
