package dev.guestmem.region;

/**
 * A host address resolved to the region whose RAM holds it ({@code memory_region_from_host}).
 *
 * @param region the RAM, ROM, RAM-device or ROM-device region whose block holds the address
 * @param offset the address's offset from the start of the block, which is the region's offset 0
 *     (not rounded; may pass the region's size up to the block's max length)
 */
public record HostRegionLocation(MemoryRegion region, long offset) {
}
