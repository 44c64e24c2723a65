package dev.guestmem;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamList;
import dev.guestmem.region.HostRegionLocation;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamBlockRegions;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Host address to region, QEMU's {@code memory_region_from_host}: the block of one system's RAM list
 * that holds the address, then the region that block backs ({@code RAMBlock->mr}).
 *
 * <p><b>Thread safety.</b> Lock-free: both lookups read published state.
 */
final class HostRegions {
    private final RamList ramList;
    private final RamBlockRegions ramBlockRegions;

    HostRegions(RamList ramList, RamBlockRegions ramBlockRegions) {
        this.ramList = ramList;
        this.ramBlockRegions = ramBlockRegions;
    }

    /** See {@link MemorySystem#regionFromHost(long)}. */
    HostRegionLocation regionFromHost(long hostAddress) {
        RamBlock b = ramList.blockContainingHost(hostAddress);
        MemoryRegion r = b == null ? null : ramBlockRegions.regionOf(b);
        return r == null ? null : new HostRegionLocation(r, hostAddress - b.hostAddress());
    }

    /** See {@link MemorySystem#regionFromHost(MemorySegment)}. */
    HostRegionLocation regionFromHost(MemorySegment host) {
        Objects.requireNonNull(host, "host: a native segment to look up");
        if (!host.isNative()) {
            throw new IllegalArgumentException("a heap segment has no host address: " + host);
        }
        return regionFromHost(host.address());
    }

    /** See {@link MemorySystem#regionAtHost(long)}. */
    MemoryRegion regionAtHost(long hostAddress) {
        RamBlock b = ramList.blockContainingHost(hostAddress);
        return b == null ? null : ramBlockRegions.regionOf(b);
    }
}
