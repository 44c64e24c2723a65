/**
 * The memory region tree: QEMU's {@code MemoryRegion}.
 *
 * <p>{@link dev.guestmem.region.MemoryRegion} is sealed; its kinds are
 * {@link dev.guestmem.region.ContainerRegion}, {@link dev.guestmem.region.RamRegion} (RAM, ROM, RAM
 * device), {@link dev.guestmem.region.RomDeviceRegion}, {@link dev.guestmem.region.IoRegion} (MMIO
 * through {@link dev.guestmem.region.MemoryRegionOps}), {@link dev.guestmem.region.AliasRegion} and
 * {@link dev.guestmem.region.IommuRegion}. Every region belongs to one
 * {@link dev.guestmem.MemorySystem}; changes happen under its lock and inside its transactions.
 * Sizes and offsets are unsigned (2^64 as {@link dev.guestmem.region.MemoryRegion#SIZE_2_64});
 * refusals are {@link dev.guestmem.region.RegionException}s and change nothing.
 */
package dev.guestmem.region;
