package dev.guestmem.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.List;

/** Builds flat views by hand (until the topology engineer's renderer publishes them). */
final class TestViews {
    final MemorySystem system = new MemorySystem();
    private final List<FlatRange> ranges = new ArrayList<>();

    /** Maps all of {@code mr} at {@code start}. */
    TestViews map(long start, MemoryRegion mr) {
        return map(start, mr.size() - 1, mr, 0, false, 0);
    }

    TestViews map(long start, long sizeMinus1, MemoryRegion mr, long offset, boolean readonly, int dirtyMask) {
        ranges.add(new FlatRange(start, start + sizeMinus1, mr, offset, readonly, false, mr.isRomd(), false,
                dirtyMask));
        return this;
    }

    FlatView view() {
        List<FlatRange> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Long.compareUnsigned(a.start(), b.start()));
        return new FlatView(null, sorted);
    }

    AddressSpace space() {
        AddressSpace as = new AddressSpace(system, new dev.guestmem.region.ContainerRegion(system, null, "root", -1L),
                "test");
        as.publish(view());
        return as;
    }
}
