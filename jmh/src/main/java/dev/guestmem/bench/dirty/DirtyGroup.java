package dev.guestmem.bench.dirty;

import dev.guestmem.bench.BenchGroup;
import dev.guestmem.bench.BenchResults;
import dev.guestmem.bench.Target;
import java.util.List;

/**
 * Group {@code dirty}: P8 (4-byte store plus {@code invalidateAndSetDirty} for all three clients
 * against the store alone, {@link DirtyStoreBench}) and P9 (snapshot-and-clear of a 64 GiB bitmap,
 * absolute milliseconds, the worse of all-clean and 1% dirty, {@link DirtySnapshotBench}).
 * {@code P8vcpu} (information) is P8's pair through a {@code VcpuTlb}, a JIT's path.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class DirtyGroup implements BenchGroup {
    /** Creates the group. */
    public DirtyGroup() {
    }

    @Override
    public String name() {
        return "dirty";
    }

    @Override
    public String includeRegex() {
        return "dev\\.guestmem\\.bench\\.dirty\\..*";
    }

    @Override
    public List<Target> targets() {
        return List.of(
                Target.atMost("P8", 1.5, DirtyGroup::p8),
                Target.atMost("P8vcpu", 1.5, r -> r.score("DirtyStoreBench.vcpuLoggingOn")
                        / r.score("DirtyStoreBench.vcpuLoggingOff")),
                Target.atMost("P9", 5, DirtyGroup::p9));
    }

    /**
     * Logged store time over plain store time, the worse of the raw pair (store plus
     * {@code invalidateAndSetDirty}) and the engine's pair ({@code stlLe} with logging on and off).
     */
    static double p8(BenchResults r) {
        double raw = r.score("DirtyStoreBench.storeLoggingOn") / r.score("DirtyStoreBench.storeLoggingOff");
        double guest = r.score("DirtyStoreBench.guestLoggingOn") / r.score("DirtyStoreBench.guestLoggingOff");
        return Math.max(raw, guest);
    }

    /** Milliseconds of a 64 GiB snapshot-and-clear, the worse of 0% and 1% dirty pages. */
    static double p9(BenchResults r) {
        return Math.max(r.score("DirtySnapshotBench.snapshotAndClear", "density=0"),
                r.score("DirtySnapshotBench.snapshotAndClear", "density=0.01"));
    }
}
