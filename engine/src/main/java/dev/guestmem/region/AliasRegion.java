package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import java.util.Objects;

/**
 * An alias ({@code memory_region_init_alias}): a window of {@code size} bytes onto {@code target}
 * starting at {@code aliasOffset}. Never appears in a flat view; its own subregions are ignored.
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
     */
    public AliasRegion(MemorySystem system, Object owner, String name, MemoryRegion target, long aliasOffset,
                       long size) {
        super(system, owner, name, size);
        this.target = Objects.requireNonNull(target, "target");
        this.aliasOffset = aliasOffset;
    }

    @Override
    public boolean terminates() {
        return false;
    }

    @Override
    public boolean isAlias() {
        return true;
    }

    /** @return the aliased region */
    public MemoryRegion target() {
        return target;
    }

    /** @return offset in the target of the window's start */
    public long aliasOffset() {
        return aliasOffset;
    }
}
