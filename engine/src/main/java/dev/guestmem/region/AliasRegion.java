package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.internal.SystemInternals;
import java.util.Objects;

/**
 * An alias ({@code memory_region_init_alias}): a window of {@code size} bytes onto {@code target}
 * starting at {@code aliasOffset}. Never appears in a flat view; its own subregions are ignored by
 * rendering. As in QEMU the window may pass the target's end (nothing is checked; the target can
 * also shrink under it): rendering shows only the part of the target that exists. An alias holds a
 * reference on its target until the alias is finalized, so a target destroyed while an alias
 * still refers to it stays whole (and its RAM mapped) until then.
 *
 * <p><b>Thread safety.</b> As {@link MemoryRegion}: mutators take the topology lock.
 */
public final class AliasRegion extends MemoryRegion {
    MemoryRegion target;
    long aliasOffset;

    /**
     * Creates an alias.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name
     * @param target the region it shows
     * @param aliasOffset offset in {@code target} of the window's start
     * @param size window size, {@code -1L} for 2^64
     * @throws ForeignRegionException if {@code target} belongs to another system
     * @throws IllegalStateException if {@code target} is finalized (destroyed, no reference left)
     */
    public AliasRegion(MemorySystem system, Object owner, String name, MemoryRegion target, long aliasOffset,
                       long size) {
        super(system, owner, name, size);
        this.target = Objects.requireNonNull(target, "target");
        if (target.system() != system) {
            throw new ForeignRegionException(target, this);
        }
        this.aliasOffset = aliasOffset;
        system.lock().lock();
        try {
            // An alias uses its target until it is finalized: a target destroyed meanwhile stays
            // whole (QEMU forbids freeing it early; here it simply lives on), and a finalized one is refused.
            target.ref();
            target.addAliasReferrer(this);
            // Windows its target recorded before it existed were sent to the aliases there were then;
            // a later change inside them stops there. Marked whole, its views re-render at the next
            // commit, which starts the record afresh (a view may be rooted at it before any mapping).
            SystemInternals.invalidate(system, this, Int128.ZERO, size128());
        } finally {
            system.lock().unlock();
        }
    }

    @Override
    public boolean terminates() {
        return false;
    }

    @Override
    public boolean isAlias() {
        return true;
    }

    /**
     * @return whether the aliased region is an IOMMU, through any chain of aliases (QEMU's
     *     {@code memory_region_is_iommu}, which recurses into {@code mr->alias})
     */
    @Override
    public boolean isIommu() {
        return target.isIommu(); // a chain ends: an alias's target exists before the alias
    }

    /** @return the aliased region */
    public MemoryRegion target() {
        return target;
    }

    /** @return offset in the target of the window's start */
    public long aliasOffset() {
        return aliasOffset;
    }

    /**
     * QEMU's {@code memory_region_set_alias_offset}: slides the window over the target.
     *
     * @param offset new offset in the target
     */
    public void setAliasOffset(long offset) {
        lockOpenForChange("setAliasOffset");
        try {
            if (offset == aliasOffset) {
                return;
            }
            flagChange(() -> aliasOffset = offset);
        } finally {
            unlock();
        }
    }

    @Override
    void onFinalize() {
        target.removeAliasReferrer(this);
        target.unref(); // the reference the constructor took: a destroyed target may be finalized now
    }
}
