/**
 * RAM discard coordination, as QEMU's {@code RamDiscardManager} ({@code include/system/memory.h},
 * {@code system/memory.c}): a RAM region may have one manager that knows which parts of it are
 * populated (usable by the guest) and which are discarded (their memory given back to the host),
 * and that tells registered listeners (a VFIO-style DMA mapper, a migration or snapshot writer)
 * before a part is populated and after a part was discarded.
 *
 * <p>Contract: {@link dev.guestmem.discard.RamDiscardManager} and
 * {@link dev.guestmem.discard.RamDiscardListener}; a region's manager is set with
 * {@link dev.guestmem.region.MemoryRegion#setRamDiscardManager}. Implementation for device models:
 * {@link dev.guestmem.discard.BitmapRamDiscardManager} (virtio-mem's block bitmap, with plug and
 * unplug). Section clipping: {@link dev.guestmem.discard.DiscardSections}. Dirty logging and
 * snapshots: {@link dev.guestmem.discard.DiscardedRam}.
 */
package dev.guestmem.discard;
