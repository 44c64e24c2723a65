/**
 * MMIO dispatch: {@link dev.guestmem.mmio.MmioDispatch} applies QEMU's access-size rules
 * ({@code memory_region_dispatch_read/write}, {@code access_with_adjusted_size}: valid and impl sizes,
 * unaligned accesses, device byte order) to a region's {@link dev.guestmem.region.MemoryRegionOps};
 * {@link dev.guestmem.mmio.ReentrancyGuard}s block a device's callbacks from reaching its own
 * regions; {@link dev.guestmem.mmio.RamDeviceOps} serves RAM-device regions.
 */
package dev.guestmem.mmio;
