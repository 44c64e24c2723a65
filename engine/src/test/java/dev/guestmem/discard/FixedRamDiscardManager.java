package dev.guestmem.discard;

import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;

/** A manager whose region is either all populated or all discarded: the smallest honest implementation. */
final class FixedRamDiscardManager implements RamDiscardManager {
    private final MemoryRegion region;
    private final long granularity;
    private final boolean populated;

    FixedRamDiscardManager(MemoryRegion region, long granularity, boolean populated) {
        this.region = region;
        this.granularity = granularity;
        this.populated = populated;
    }

    @Override
    public long minGranularity(MemoryRegion mr) {
        return granularity;
    }

    @Override
    public boolean isPopulated(MemoryRegionSection section) {
        return populated && section.region() == region;
    }

    @Override
    public void replayPopulated(MemoryRegionSection section, RamDiscardReplay replay) {
        if (populated) {
            replay.replay(section);
        }
    }

    @Override
    public void replayDiscarded(MemoryRegionSection section, RamDiscardReplay replay) {
        if (!populated) {
            replay.replay(section);
        }
    }

    @Override
    public void registerListener(RamDiscardListener listener, MemoryRegionSection section) {
        if (populated) {
            listener.notifyPopulate(section);
        }
    }

    @Override
    public void unregisterListener(RamDiscardListener listener) {
    }
}
