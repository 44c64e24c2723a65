package dev.guestmem.bench.access;

import dev.guestmem.bench.BenchGroup;
import dev.guestmem.bench.BenchResults;
import dev.guestmem.bench.Target;
import java.util.List;

/**
 * Group {@code access}: the access path against its raw baselines, each measured in the same run.
 * P1-P4 are the ratios of {@link InterleavedAccessBench}, which runs each target's guest and raw arm
 * back to back in every invocation: P1 the hot set of {@link LoadStoreBench}, P2 the dependent random
 * walk of {@link ChaseBench} (memory-latency-bound), {@code P2ind} the independent random addresses of
 * {@link LoadStoreBench} (bound by misses in flight), P3 {@link SoftTlbBench}, P4 {@link MmioBench};
 * P4's baseline is a direct call of the device callback that the JIT does not inline
 * ({@code MmioBench.directCall}). The standalone classes also run, for the absolute table and the GC
 * profile: {@code P4ns} is {@code MmioBench.dispatch} in ns. Information lines: {@code P4inline} P4's
 * dispatch against the callback compiled into the loop (no call left), {@code P4floor} the least any
 * RAM-first dispatch can do ({@code MmioBench.dispatchFloor}) against that, {@code P4mega} against a
 * call site that has seen three device classes. P5 {@link InterleavedBulkBench} ({@link BulkBench}'s
 * arms interleaved; worst of read/write at 64 KiB and 1 MiB, as a throughput ratio), P12 {@link ChurnBench}, P13 the largest {@code gc.alloc.rate.norm} (bytes
 * per operation) of the P1, P3 and P4 paths; the group always runs JMH's GC profiler for it.
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
                Target.atMost("P1", 2.0, r -> interleaved(r, "p1")),
                Target.atMost("P2", 1.2, r -> interleaved(r, "p2")),
                Target.atMost("P2ind", 1.2, r -> interleaved(r, "p2ind")),
                Target.atMost("P3", 1.1, r -> interleaved(r, "p3")),
                Target.atMost("P4", 2.0, r -> interleaved(r, "p4")),
                Target.atMost("P4ns", 10, r -> r.score("MmioBench.dispatch")),
                Target.within("CTL", 0.95, 1.05, r -> interleaved(r, "ctl")),
                Target.atMost("P4mega", 2.0, r -> interleaved(r, "p4mega")),
                Target.atMost("P4inline", 2.0, r -> interleaved(r, "p4inline")),
                Target.atMost("P4floor", 2.0, r -> interleaved(r, "p4floor")),
                Target.atMost("P3inline", 1.1, r -> interleaved(r, "p3inline")),
                Target.atMost("P1warm", 2.0, r -> interleaved(r, "p1warm")),
                Target.atLeast("P5", 0.9, AccessGroup::p5),
                Target.atLeast("P12", 0.8, AccessGroup::p12),
                Target.atMost("P13", 0.1, AccessGroup::p13));
    }

    /** Guest time over raw time of one target's arms, from the interleaved run's counters. */
    static double interleaved(BenchResults r, String id) {
        String b = "InterleavedAccessBench.interleaved";
        String p = "target=" + id; // each target's pair runs in its own fork
        return r.secondary(b, p, id + "GuestNs") / r.secondary(b, p, id + "RawNs");
    }

    /**
     * Worst throughput ratio (raw time over access time) of the four bulk cases, from the
     * interleaved run's counters ({@link InterleavedBulkBench}).
     */
    static double p5(BenchResults r) {
        double worst = Double.MAX_VALUE;
        for (String size : new String[] {"size=65536", "size=1048576"}) {
            String b = "InterleavedBulkBench.interleaved";
            worst = Math.min(worst, r.secondary(b, size, "readRawNs") / r.secondary(b, size, "readGuestNs"));
            worst = Math.min(worst, r.secondary(b, size, "writeRawNs") / r.secondary(b, size, "writeGuestNs"));
        }
        return worst;
    }

    /** Reader throughput during churn phases over reader throughput during quiet phases (one run). */
    static double p12(BenchResults r) {
        String b = "ChurnBench.churn";
        double churn = r.secondary(b, "", "churnInvocations") / r.secondary(b, "", "churnNs");
        double quiet = r.secondary(b, "", "quietInvocations") / r.secondary(b, "", "quietNs");
        return churn / quiet;
    }

    /** Largest normalised allocation of the hot paths. */
    static double p13(BenchResults r) {
        String m = "gc.alloc.rate.norm";
        return Math.max(r.secondary("LoadStoreBench.addressSpace", "set=hot", m),
                Math.max(r.secondary("SoftTlbBench.vcpuTlbHit", "", m), r.secondary("MmioBench.dispatch", "", m)));
    }
}
