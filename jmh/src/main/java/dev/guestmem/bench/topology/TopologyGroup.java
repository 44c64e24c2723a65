package dev.guestmem.bench.topology;

import dev.guestmem.bench.BenchGroup;
import dev.guestmem.bench.BenchResults;
import dev.guestmem.bench.Target;
import java.util.List;

/**
 * Group {@code topology}: P6 (full FlatView + dispatch rebuild with 10,000 subregions, absolute, in
 * milliseconds) and P7 (commit of one BAR move in that system against a full rebuild in the same run).
 * Both from {@link TopologyBench}.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class TopologyGroup implements BenchGroup {
    /** Creates the group. */
    public TopologyGroup() {
    }

    @Override
    public String name() {
        return "topology";
    }

    @Override
    public String includeRegex() {
        return "dev\\.guestmem\\.bench\\.topology\\..*";
    }

    @Override
    public List<Target> targets() {
        return List.of(
                Target.atMost("P6", 20, TopologyGroup::p6),
                Target.atMost("P7", 0.2, TopologyGroup::p7));
    }

    /** Milliseconds of a full rebuild with 10,000 subregions. */
    static double p6(BenchResults r) {
        return r.score("TopologyBench.renderAndDispatch", "regions=10000");
    }

    /** BAR-move commit over full rebuild, both with 10,000 subregions. */
    static double p7(BenchResults r) {
        return r.score("TopologyBench.barMoveCommit", "regions=10000")
                / r.score("TopologyBench.renderAndDispatch", "regions=10000");
    }
}
