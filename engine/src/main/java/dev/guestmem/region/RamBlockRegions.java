package dev.guestmem.region;

import dev.guestmem.ram.RamBlock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which region each RAM block of one machine backs: QEMU's {@code RAMBlock->mr}, which a block in
 * package {@code ram} cannot hold (it knows no regions). A RAM, ROM, RAM-device or ROM-device region
 * is entered when its construction completes and leaves when it is finalized, so a destroyed region
 * is found until the last reference to it goes, as QEMU's {@code block->mr} lives until the block
 * is reclaimed. One {@code MemorySystem} holds one.
 *
 * <p>A block backs one region in QEMU; here several regions may share one. {@link #regionOf} then
 * answers the oldest that is not yet finalized.
 *
 * <p><b>Thread safety.</b> Lookups take no lock and allocate nothing (a {@link ConcurrentHashMap}
 * read: entering a region happens-before a lookup that finds it, so its fields are seen complete).
 * Entries are replaced atomically, never changed in place.
 */
public final class RamBlockRegions {
    /** block -> regions over it, oldest first; an array is never changed once published. */
    private final ConcurrentHashMap<RamBlock, MemoryRegion[]> regions = new ConcurrentHashMap<>();

    /** Creates an empty registry (one per {@code MemorySystem}). */
    public RamBlockRegions() {
    }

    /**
     * Returns the region a block backs ({@code block->mr}).
     *
     * @param block a block
     * @return the oldest region over it that is not finalized, or null if there is none
     */
    public MemoryRegion regionOf(RamBlock block) {
        MemoryRegion[] over = regions.get(block);
        return over == null ? null : over[0];
    }

    /**
     * Returns every region over a block of the machine ({@code block->mr} of each block), finalized
     * ones excepted: a snapshot, in no particular order.
     *
     * @return the regions
     */
    public List<MemoryRegion> allRegions() {
        List<MemoryRegion> all = new ArrayList<>();
        for (MemoryRegion[] over : regions.values()) {
            all.addAll(Arrays.asList(over));
        }
        return all;
    }

    /** Enters {@code region} as backed by {@code block}; call as the region's construction ends. */
    void add(RamBlock block, MemoryRegion region) {
        regions.merge(block, new MemoryRegion[] {region}, (old, one) -> {
            MemoryRegion[] next = Arrays.copyOf(old, old.length + 1);
            next[old.length] = region;
            return next;
        });
    }

    /** Removes {@code region} from {@code block}'s entry; call when the region is finalized. */
    void remove(RamBlock block, MemoryRegion region) {
        regions.computeIfPresent(block, (b, old) -> {
            MemoryRegion[] next = Arrays.stream(old).filter(r -> r != region).toArray(MemoryRegion[]::new);
            return next.length == 0 ? null : next;
        });
    }
}
