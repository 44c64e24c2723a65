package dev.guestmem.bench.ram;

import dev.guestmem.bench.BenchGroup;
import dev.guestmem.bench.BenchResults;
import dev.guestmem.bench.Target;
import java.util.List;

/**
 * Group {@code ram}: P11, sequential write bandwidth into memfd- and file-backed RAM against
 * anonymous RAM in the same run ({@link RamWriteBench}).
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class RamBenchGroup implements BenchGroup {
    /** The write kernels measured; P11 takes the worst backend over both. */
    static final List<String> METHODS = List.of("RamWriteBench.fill", "RamWriteBench.storeLongs");

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

    /** min over {memfd, file} and both write kernels of throughput / anonymous throughput. */
    static double p11(BenchResults r) {
        double worst = Double.POSITIVE_INFINITY;
        for (String m : METHODS) {
            double anon = r.score(m, "backend=anonymous");
            worst = Math.min(worst, r.score(m, "backend=memfd") / anon);
            worst = Math.min(worst, r.score(m, "backend=file") / anon);
        }
        return worst;
    }
}
