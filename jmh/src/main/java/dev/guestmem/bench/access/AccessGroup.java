package dev.guestmem.bench.access;

import dev.guestmem.bench.BenchGroup;
import dev.guestmem.bench.BenchResults;
import dev.guestmem.bench.Target;
import java.util.List;

/**
 * Group {@code access}: the access path against its raw baselines, each measured in the same run.
 * P1 {@link LoadStoreBench} ({@code set=hot}), P2 {@link ChaseBench} (random dependent walk over
 * 256 MiB: memory-latency-bound) and {@code P2ind} the independent random addresses of
 * {@link LoadStoreBench} ({@code set=random}: bound by misses in flight), P3 {@link SoftTlbBench}, P4 {@link MmioBench} (ratio, and the absolute
 * ns as {@code P4ns}), P5 {@link BulkBench} (worst of read/write at 64 KiB and 1 MiB, as a throughput
 * ratio), P12 {@link ChurnBench}, P13 the largest {@code gc.alloc.rate.norm} (bytes per operation) of
 * the P1, P3 and P4 paths; the group always runs JMH's GC profiler for it.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class AccessGroup implements BenchGroup {
    /** Creates the group. */
    public AccessGroup() {
    }

    @Override
    public String name() {
        return "access";
    }

    @Override
    public String includeRegex() {
        return "dev\\.guestmem\\.bench\\.access\\..*";
    }

    @Override
    public List<String> profilers() {
        return List.of("gc");
    }

    @Override
    public List<Target> targets() {
        return List.of(
                Target.atMost("P1", 2.0, r -> r.score("LoadStoreBench.addressSpace", "set=hot")
                        / r.score("LoadStoreBench.raw", "set=hot")),
                Target.atMost("P2", 1.2, r -> r.score("ChaseBench.addressSpace") / r.score("ChaseBench.raw")),
                Target.atMost("P2ind", 1.2, r -> r.score("LoadStoreBench.addressSpace", "set=random")
                        / r.score("LoadStoreBench.raw", "set=random")),
                Target.atMost("P3", 1.1, r -> r.score("SoftTlbBench.tlbHit") / r.score("SoftTlbBench.raw")),
                Target.atMost("P4", 2.0, r -> r.score("MmioBench.dispatch") / r.score("MmioBench.direct")),
                Target.atMost("P4ns", 10, r -> r.score("MmioBench.dispatch")),
                Target.atLeast("P5", 0.9, AccessGroup::p5),
                Target.atLeast("P12", 0.8, r -> r.secondary("ChurnBench.churn", "", "churnLoads")
                        / r.secondary("ChurnBench.quiet", "", "quietLoads")),
                Target.atMost("P13", 0.1, AccessGroup::p13));
    }

    /** Worst throughput ratio (baseline time over access time) of the four bulk cases. */
    static double p5(BenchResults r) {
        double worst = Double.MAX_VALUE;
        for (String size : new String[] {"size=65536", "size=1048576"}) {
            worst = Math.min(worst, r.score("BulkBench.rawRead", size) / r.score("BulkBench.read", size));
            worst = Math.min(worst, r.score("BulkBench.rawWrite", size) / r.score("BulkBench.write", size));
        }
        return worst;
    }

    /** Largest normalised allocation of the hot paths. */
    static double p13(BenchResults r) {
        String m = "gc.alloc.rate.norm";
        return Math.max(r.secondary("LoadStoreBench.addressSpace", "set=hot", m),
                Math.max(r.secondary("SoftTlbBench.tlbHit", "", m), r.secondary("MmioBench.dispatch", "", m)));
    }
}
