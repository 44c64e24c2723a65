package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import java.util.List;

/**
 * Takes down a machine built from regions so that their RAM is released: a region keeps its block
 * referenced until it is {@linkplain MemoryRegion#destroy() destroyed} and no view shows it, so
 * closing the blocks alone leaves them mapped. QEMU's {@code address_space_destroy} and
 * {@code object_unparent} of every region, in one call.
 *
 * <p><b>Thread safety.</b> Stateless; call once accesses through the address spaces have stopped.
 */
public final class RegionTeardown {
    private RegionTeardown() {
    }

    /**
     * Destroys the address spaces, takes every region out of its container and destroys it
     * (regions already destroyed are skipped).
     *
     * @param system the regions' system
     * @param spaces address spaces of {@code system} to destroy
     * @param regions the regions to destroy, in any order
     * @throws IllegalStateException if an address space still has a listener registered to it alone
     */
    public static void destroy(MemorySystem system, List<AddressSpace> spaces, List<? extends MemoryRegion> regions) {
        for (AddressSpace as : spaces) {
            system.destroyAddressSpace(as);
        }
        system.transactionBegin();
        try {
            for (MemoryRegion r : regions) {
                MemoryRegion c = r.container();
                if (c != null) {
                    c.delSubregion(r);
                }
            }
        } finally {
            system.transactionCommit();
        }
        for (MemoryRegion r : regions) {
            if (!r.isDestroyed()) {
                r.destroy();
            }
        }
    }
}
