package dev.guestmem.discard;

import dev.guestmem.region.MemoryRegion;

/**
 * The rules of QEMU's {@code memory_region_set_ram_discard_manager}: RAM only ({@code
 * memory_region_is_ram}), one manager at a time ({@code !rdm || !mr->rdm}; newer QEMU returns
 * {@code -EBUSY}), and, as its documentation requires, not while the region is mapped. QEMU 6.x
 * asserted {@code !memory_region_is_mapped(mr)}; 8.1 dropped the assertion only because it could not
 * see mappings through aliases, which guestmem can ({@link MemoryRegion#isMapped()}). Internal: {@link MemoryRegion#setRamDiscardManager}
 * calls it before it stores anything, so a refusal changes nothing.
 *
 * <p><b>Thread safety.</b> Stateless; the caller holds the region's system lock.
 */
public final class ManagerAssignment {
    private ManagerAssignment() {
    }

    /**
     * Refuses an assignment QEMU refuses: to a region that is not RAM ({@link MemoryRegion#isRam()}),
     * to a mapped region (directly or through an alias), a manager to a region that has one, or a
     * {@link BitmapRamDiscardManager} made for another region or already detached. Clearing
     * ({@code next == null}) is allowed on an unmapped RAM region, except that a
     * {@link BitmapRamDiscardManager} with listeners stays, as its {@link BitmapRamDiscardManager#detach}
     * refuses.
     *
     * @param region the region
     * @param current its manager now, or null
     * @param next the manager to set, or null to clear
     * @throws RamDiscardManagerException if the assignment is refused
     */
    public static void check(MemoryRegion region, RamDiscardManager current, RamDiscardManager next) {
        if (!region.isRam()) {
            throw new RamDiscardManagerException("RAM discard manager for '" + region.name() + "': not a RAM region ("
                    + region.getClass().getSimpleName() + ")");
        }
        if (region.isMapped()) {
            throw new RamDiscardManagerException("RAM discard manager for '" + region.name()
                    + "': the region is mapped; set the manager before mapping it");
        }
        if (next != null && current != null) {
            throw new RamDiscardManagerException("RAM discard manager for '" + region.name()
                    + "': the region already has one (" + current + ")");
        }
        if (next instanceof BitmapRamDiscardManager b && b.region() != region) {
            throw new RamDiscardManagerException("RAM discard manager for '" + region.name()
                    + "': it was made for region '" + b.region().name() + "'");
        }
        if (next instanceof BitmapRamDiscardManager b && b.isDetached()) {
            throw new RamDiscardManagerException("RAM discard manager for '" + region.name()
                    + "': it was detached and holds no discard claim; attach a new one");
        }
        if (next == null && current instanceof BitmapRamDiscardManager b) {
            b.checkNoListeners();
        }
    }

    /**
     * What the region calls once it has dropped {@code previous} (set null or replaced): a
     * {@link BitmapRamDiscardManager} gives back its claim that coordinated discards work, as its
     * {@link BitmapRamDiscardManager#detach} does, so clearing through the region leaves no claim behind.
     *
     * @param previous the manager the region had, or null
     */
    public static void dropped(RamDiscardManager previous) {
        if (previous instanceof BitmapRamDiscardManager b) {
            b.releaseClaim();
        }
    }
}
