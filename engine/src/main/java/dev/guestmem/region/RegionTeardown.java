package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.listener.ListenerList;
import java.util.List;

/**
 * Takes down a machine built from regions so that their RAM is released: a region keeps its block
 * referenced until it is {@linkplain MemoryRegion#destroy() destroyed} and no view shows it, so
 * closing the blocks alone leaves them mapped. QEMU's {@code address_space_destroy} and
 * {@code object_unparent} of every region, in one call. It works on a closed system too, where the
 * region setters are refused: {@link MemorySystem#close()} runs it, and a user may run it afterwards
 * to destroy regions the close left (never shown in an address space, no RAM).
 *
 * <p><b>Thread safety.</b> Stateless; call once accesses through the address spaces have stopped.
 */
public final class RegionTeardown {
    private RegionTeardown() {
    }

    /**
     * Destroys the address spaces, takes every region out of its container, takes its RAM discard
     * manager off (clears it, which detaches a {@link BitmapRamDiscardManager}) and destroys it
     * (address spaces and regions already destroyed are skipped, so a teardown after
     * {@link MemorySystem#close()} does nothing).
     *
     * @param system the regions' system
     * @param spaces address spaces of {@code system} to destroy
     * @param regions the regions to destroy, in any order
     * @throws IllegalStateException if an address space still has a listener registered to it alone
     * @throws RuntimeException what a memory listener threw while it was told of the removals, or
     *     what kept a region from being destroyed (a {@link BitmapRamDiscardManager} with listeners
     *     still registered): the first, the others suppressed in it; everything else is torn down
     */
    public static void destroy(MemorySystem system, List<AddressSpace> spaces, List<? extends MemoryRegion> regions) {
        Throwable failed = null; // only RuntimeExceptions are caught: an Error goes up at once
        for (AddressSpace as : spaces) {
            if (as.system() == system && !system.addressSpaces().contains(as)) {
                continue; // destroyed already (MemorySystem.close, say): a later teardown has nothing to undo
            }
            try {
                system.destroyAddressSpace(as);
            } catch (IllegalStateException e) {
                if (system.addressSpaces().contains(as)) {
                    throw e; // refused (a listener of its own): nothing of it changed
                }
                failed = ListenerList.merge(failed, e);
            } catch (RuntimeException e) { // destroyed all the same: a listener threw
                failed = ListenerList.merge(failed, e);
            }
        }
        SystemInternals.transactionBegin(system); // a closed system's too
        boolean removed = false;
        try {
            for (MemoryRegion r : regions) {
                MemoryRegion c = r.container();
                if (c != null) {
                    c.delSubregionUnchecked(r);
                }
            }
            removed = true;
        } finally {
            if (!removed) {
                SystemInternals.transactionCommit(system);
            }
        }
        try {
            SystemInternals.transactionCommit(system);
        } catch (RuntimeException e) { // a listener threw; every one heard the removals, which are made
            failed = ListenerList.merge(failed, e);
        }
        for (MemoryRegion r : regions) { // else their blocks stay referenced, mapped, for good
            if (!r.isDestroyed()) {
                try {
                    dropDiscardManager(r);
                    r.destroy();
                } catch (RuntimeException e) { // this one stays; the others still go
                    failed = ListenerList.merge(failed, e);
                }
            }
        }
        ListenerList.rethrow(failed);
    }

    /** Takes a region's discard manager off first (virtio-mem's unrealize): destroy() refuses a region one covers. */
    private static void dropDiscardManager(MemoryRegion r) {
        if (r.ramDiscardManager() != null) {
            r.setRamDiscardManager(null); // a BitmapRamDiscardManager gives its discard claim back, too
        }
    }
}
