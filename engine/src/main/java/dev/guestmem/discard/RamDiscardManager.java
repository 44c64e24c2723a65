package dev.guestmem.discard;

import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;

/**
 * Knows which parts of a RAM region are populated (usable by the guest) and which are discarded
 * (their memory given back to the host), as QEMU's {@code RamDiscardManager} /
 * {@code RamDiscardManagerClass} ({@code include/system/memory.h}). It tells registered
 * {@link RamDiscardListener}s <em>before</em> a part is populated (they may object) and
 * <em>after</em> a part was discarded.
 *
 * <p>It is meant for users that cannot live with RAM being discarded under them: a VFIO-style DMA
 * mapper that pins what it maps registers a listener for each section it is shown
 * ({@code region_add}) and maps only the populated parts; migration and snapshots skip the
 * discarded parts ({@link DiscardedRam}). Users that tolerate discarding may ignore the manager and
 * use the whole region.
 *
 * <p>A region gets its manager with {@link MemoryRegion#setRamDiscardManager} while it is not
 * mapped; {@link MemoryRegion#ramDiscardManager()} then finds it, mapped or not. Every method
 * here expects sections of the region the manager was made for, with region offsets inside that
 * region; a section of another region is refused with {@link RamDiscardManagerException} (QEMU
 * asserts).
 *
 * <p>Changes are aligned to {@link #minGranularity} within the region, and listeners are called in
 * multiples of it unless that would pass the ends of the section they registered: one call per maximal
 * run of the change (a 4 MiB plug of 2 MiB blocks is one {@code notifyPopulate} of 4 MiB).
 *
 * <p><b>Thread safety.</b> Implementations run every method under the owning
 * {@link dev.guestmem.MemorySystem}'s {@linkplain dev.guestmem.MemorySystem#lock() lock} (QEMU runs
 * them under the BQL), so they may be called from any thread; callbacks run with that lock held.
 */
public interface RamDiscardManager {
    /**
     * QEMU's {@code get_min_granularity}: the smallest unit in which listeners hear of changes in
     * {@code region}. QEMU gives no default: every manager answers for itself (virtio-mem answers
     * its block size). VFIO requires a power of two no smaller than its IOMMU page size.
     *
     * @param region the region the manager was made for
     * @return the granularity in bytes, a power of two
     * @throws RamDiscardManagerException if {@code region} is not this manager's
     */
    long minGranularity(MemoryRegion region);

    /**
     * QEMU's {@code is_populated}: whether the section is completely populated (no part of it is
     * discarded). There are no alignment requirements: the section is widened to the granularity. A
     * section that reaches outside what the manager manages is not populated.
     *
     * @param section a section of the manager's region
     * @return whether every byte of it is populated
     * @throws RamDiscardManagerException if the section is of another region
     */
    boolean isPopulated(MemoryRegionSection section);

    /**
     * QEMU's {@code replay_populated}: calls {@code replay} for every maximal populated run inside the
     * section, cut to the section, in ascending order. If a call throws, no further call is made and
     * the exception propagates.
     *
     * @param section a section of the manager's region
     * @param replay the callback
     * @throws RamDiscardManagerException if the section is of another region
     */
    void replayPopulated(MemoryRegionSection section, RamDiscardReplay replay);

    /**
     * QEMU's {@code replay_discarded}: as {@link #replayPopulated} for the discarded runs.
     *
     * @param section a section of the manager's region
     * @param replay the callback
     * @throws RamDiscardManagerException if the section is of another region
     */
    void replayDiscarded(MemoryRegionSection section, RamDiscardReplay replay);

    /**
     * QEMU's {@code register_listener}: registers {@code listener} for {@code section} (the manager
     * keeps its own copy, {@code memory_region_section_new_copy}) and at once tells it
     * {@link RamDiscardListener#notifyPopulate} for every populated run inside the section.
     *
     * @param listener the listener, not registered with this manager yet
     * @param section a section of the manager's region
     * @throws RamDiscardManagerException if the section is of another region, or the listener is
     *     already registered; nothing changed then
     * @throws PopulateRefusedException if the listener objects to a populated run (see the
     *     implementation for what stays registered)
     */
    void registerListener(RamDiscardListener listener, MemoryRegionSection section);

    /**
     * QEMU's {@code unregister_listener}: tells {@code listener} that every populated part of its
     * section becomes discarded ({@link RamDiscardListener#notifyDiscard}, once for the whole
     * section if it {@linkplain RamDiscardListener#doubleDiscardSupported supports double discard}),
     * then forgets it and its section.
     *
     * @param listener a registered listener
     * @throws RamDiscardManagerException if it is not registered; nothing changed then
     */
    void unregisterListener(RamDiscardListener listener);
}
