package dev.guestmem.bench;

import dev.guestmem.bench.access.AccessGroup;
import dev.guestmem.bench.dirty.DirtyGroup;
import dev.guestmem.bench.ram.RamBenchGroup;
import dev.guestmem.bench.restore.RestoreGroup;
import dev.guestmem.bench.topology.TopologyGroup;
import java.util.List;

/**
 * The groups {@code ./guestmem bench GROUP} knows. Add a group with one line here.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class BenchGroups {
    /** Every group, in the order {@code bench} lists them. */
    public static final List<BenchGroup> ALL = List.of(
            new RamBenchGroup(),
            new TopologyGroup(),
            new DirtyGroup(),
            new AccessGroup(),
            new RestoreGroup()
    );

    private BenchGroups() {
    }

    /**
     * Finds a group by name.
     *
     * @param name the name
     * @return the group, or null
     */
    public static BenchGroup byName(String name) {
        for (BenchGroup g : ALL) {
            if (g.name().equals(name)) {
                return g;
            }
        }
        return null;
    }
}
