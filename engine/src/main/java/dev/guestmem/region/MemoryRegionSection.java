package dev.guestmem.region;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;

/**
 * A piece of a region as some address space sees it, as QEMU's {@code MemoryRegionSection}: what
 * listeners receive and what {@link MemoryRegion#find} returns.
 *
 * <p>{@code size} is unsigned; because a section can never be empty when {@code region} is not null,
 * {@code size == 0} with a non-null region stands for 2^64 (a section covering the whole space). A
 * {@linkplain #isEmpty() miss} has a null region and size 0.
 *
 * <p><b>References.</b> As in QEMU, a section returned by {@link MemoryRegion#find} holds a reference
 * on its region; {@link #copy()} takes another (QEMU's {@code memory_region_section_new_copy}) and
 * {@link #release()} drops one ({@code memory_region_section_free_copy} /
 * {@code memory_region_unref(section.mr)}). Sections handed to listeners hold no reference of their own.
 *
 * <p><b>Thread safety.</b> Immutable; {@code copy}/{@code release} follow the region's rules.
 *
 * @param region the terminal region, or null for a miss
 * @param flatView the view the section was taken from (may be null for a miss)
 * @param offsetWithinRegion offset in {@code region} of the section's first byte
 * @param size size (unsigned; 0 = 2^64 when {@code region} is not null)
 * @param offsetWithinAddressSpace address of the first byte in the address space
 * @param readonly inherited read-only flag of the flat range
 * @param nonvolatile inherited non-volatile flag
 * @param unmergeable inherited unmergeable flag
 */
public record MemoryRegionSection(MemoryRegion region, FlatView flatView, long offsetWithinRegion, long size,
                                  long offsetWithinAddressSpace, boolean readonly, boolean nonvolatile,
                                  boolean unmergeable) {

    private static final MemoryRegionSection EMPTY =
            new MemoryRegionSection(null, null, 0, 0, 0, false, false, false);

    /** @return the section that means "nothing there" */
    public static MemoryRegionSection empty() {
        return EMPTY;
    }

    /**
     * QEMU's {@code section_from_flat_range}.
     *
     * @param range a flat range
     * @param view the view it belongs to (QEMU passes the address space's current view)
     * @return the section covering the whole range (no reference taken)
     */
    public static MemoryRegionSection of(FlatRange range, FlatView view) {
        return new MemoryRegionSection(range.region(), view, range.offsetInRegion(), range.size(), range.start(),
                range.readonly(), range.nonvolatile(), range.unmergeable());
    }

    /** @return whether this is a miss (no region) */
    public boolean isEmpty() {
        return region == null;
    }

    /** @return whether the section covers 2^64 bytes */
    public boolean isWholeSpace() {
        return region != null && size == 0;
    }

    /** @return the last address covered (inclusive); meaningless for a miss */
    public long lastAddress() {
        return offsetWithinAddressSpace + size - 1;
    }

    /**
     * Takes another reference on the region (QEMU's {@code memory_region_section_new_copy}).
     *
     * @return this section, now counted once more
     */
    public MemoryRegionSection copy() {
        if (region != null) {
            region.ref();
        }
        return this;
    }

    /** Drops one reference on the region ({@code memory_region_section_free_copy}). */
    public void release() {
        if (region != null) {
            region.unref();
        }
    }
}
