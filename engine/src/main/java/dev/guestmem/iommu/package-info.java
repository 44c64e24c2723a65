/**
 * IOMMUs, as QEMU's {@code IOMMUMemoryRegion} machinery: the model's hooks ({@link
 * dev.guestmem.iommu.IommuOps}), its translations ({@link dev.guestmem.iommu.IommuTlbEntry}), and
 * the notifiers that learn when translations change ({@link dev.guestmem.iommu.IommuNotifier},
 * registered on a region's {@link dev.guestmem.iommu.IommuNotifiers}), with replay, and the RAM
 * behind a mapping for notifiers that pin it ({@link dev.guestmem.iommu.IommuRam}).
 *
 * <p>The region itself is {@link dev.guestmem.region.IommuRegion}; accesses follow it in the
 * address space's translation loop, and the JIT fast path ({@link dev.guestmem.tlb.GuestTlb}) caches
 * pages behind it and is invalidated by its UNMAP events, as TCG is.
 */
package dev.guestmem.iommu;
