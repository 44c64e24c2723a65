package dev.guestmem.debug;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RegionTeardown;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The machine an {@link MtreeImporter} rebuilt: a {@link MemorySystem}, its address spaces in
 * creation order (the order of the {@code address-space:} lines) and every region it made.
 * Closing it destroys the address spaces and regions and releases the RAM blocks of the stand-in
 * RAM and ROM regions.
 *
 * <p><b>Thread safety.</b> The lists are immutable; the regions follow {@link MemoryRegion}'s rules.
 */
public final class MtreeImport implements AutoCloseable {
    private final MemorySystem system;
    private final List<AddressSpace> addressSpaces;
    private final List<MemoryRegion> regions;
    private final List<RamBlock> blocks;
    private final AtomicBoolean closed = new AtomicBoolean();

    MtreeImport(MemorySystem system, List<AddressSpace> addressSpaces, List<MemoryRegion> regions,
                List<RamBlock> blocks) {
        this.system = system;
        this.addressSpaces = List.copyOf(addressSpaces);
        this.regions = List.copyOf(regions);
        this.blocks = List.copyOf(blocks);
    }

    /** @return the rebuilt system */
    public MemorySystem system() {
        return system;
    }

    /** @return the address spaces in creation order */
    public List<AddressSpace> addressSpaces() {
        return addressSpaces;
    }

    /** @return every region made, in the order of their first printing in the text */
    public List<MemoryRegion> regions() {
        return regions;
    }

    /**
     * @param name a region name
     * @return the regions with that name, in the order of their first printing
     */
    public List<MemoryRegion> regionsNamed(String name) {
        return regions.stream().filter(r -> r.name().equals(name)).toList();
    }

    /**
     * Destroys the address spaces and the regions, and releases the stand-in RAM blocks; blocks the
     * caller gave are unmapped once the caller closes them too (the regions no longer hold them). Later calls do nothing.
     */
    @Override
    public void close() {
        if (closed.getAndSet(true)) {
            return;
        }
        try {
            RegionTeardown.destroy(system, addressSpaces, regions);
        } finally {
            for (RamBlock b : blocks) {
                b.close();
            }
        }
    }
}
