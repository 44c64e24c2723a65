package dev.guestmem.flat;

import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.MemoryRegion;

/**
 * QEMU's {@code memory_region_get_flatview_root}: the key under which an address space's view is
 * shared. Address spaces whose roots resolve to the same region share one {@link FlatView}.
 *
 * <p><b>Thread safety.</b> Stateless; callers hold the topology lock.
 */
public final class FlatViewRoots {
    private FlatViewRoots() {
    }

    /**
     * Resolves an address-space root to its flat-view root. Starting from {@code root}, while the
     * region is enabled: an alias with offset 0 at least as large as its target is replaced by the
     * target; a pure container with exactly one enabled child, which sits at offset 0 and is no larger
     * than the container, is replaced by that child; a container with no enabled child resolves to
     * null (the empty view). A disabled region resolves to null.
     *
     * @param root an address space's root region
     * @return the region to render, or null for the shared empty view
     */
    public static MemoryRegion of(MemoryRegion root) {
        MemoryRegion mr = root;
        // An alias cycle can lead back to a region already passed (QEMU would loop for ever): stop there.
        java.util.Set<MemoryRegion> passed = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        while (mr.isEnabled() && passed.add(mr)) {
            if (mr instanceof AliasRegion a) {
                if (a.aliasOffset() == 0 && a.size128().compareTo(a.target().size128()) >= 0) {
                    // The alias is included in its entirety: use the target so more views are shared.
                    mr = a.target();
                    continue;
                }
            } else if (!mr.terminates()) {
                int found = 0;
                MemoryRegion next = null;
                for (MemoryRegion child : mr.subregionList()) {
                    if (child.isEnabled()) {
                        if (++found > 1) {
                            next = null;
                            break;
                        }
                        if (child.addr() == 0 && mr.size128().compareTo(child.size128()) >= 0) {
                            next = child;
                        }
                    }
                }
                if (found == 0) {
                    return null;
                }
                if (next != null) {
                    mr = next;
                    continue;
                }
            }
            return mr;
        }
        return mr.isEnabled() ? mr : null;
    }
}
