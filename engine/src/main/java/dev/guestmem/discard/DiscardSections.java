package dev.guestmem.discard;

import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.Objects;

/**
 * Section arithmetic the users of a {@link RamDiscardManager} need: cutting a section to a range of
 * region offsets (QEMU's {@code memory_region_section_intersect_range}, once virtio-mem's
 * {@code virtio_mem_intersect_memory_section}), a section's end, and a section naming a range of a
 * region without an address space (migration's {@code {.mr, .offset_within_region, .size}}).
 *
 * <p>Offsets are unsigned 64-bit; ends are computed in 128 bits, so a section that ends exactly at
 * 2^64 (in region offsets or in the address space) is handled. As in {@link MemoryRegionSection}, a
 * size of 0 with a region stands for 2^64.
 *
 * <p><b>Thread safety.</b> Stateless; sections are immutable.
 */
public final class DiscardSections {
    private DiscardSections() {
    }

    /**
     * The end of a section in region offsets (exclusive), up to 2^64 + 2^64 - 1.
     *
     * @param section a non-empty section
     * @return {@code offsetWithinRegion + size}
     */
    public static Int128 regionEnd(MemoryRegionSection section) {
        return Int128.ofUnsigned(section.offsetWithinRegion()).add(sizeOf(section));
    }

    /**
     * A section's size as a 128-bit value (2^64 for the whole-space encoding).
     *
     * @param section a non-empty section
     * @return its size
     */
    public static Int128 sizeOf(MemoryRegionSection section) {
        return section.isWholeSpace() ? Int128.TWO_64 : Int128.ofUnsigned(section.size());
    }

    /**
     * QEMU's {@code memory_region_section_intersect_range}: {@code section} cut to the region
     * offsets {@code [offset, offset + size)}, its address moved by as much as its start.
     *
     * @param section a non-empty section
     * @param offset first region offset of the range (unsigned)
     * @param size bytes in the range (unsigned; 0 is an empty range)
     * @return the intersection (same region, view and flags), or null if it is empty
     */
    public static MemoryRegionSection intersect(MemoryRegionSection section, long offset, long size) {
        Objects.requireNonNull(section, "section");
        if (section.isEmpty()) {
            throw new IllegalArgumentException("intersect of an empty section");
        }
        Int128 sStart = Int128.ofUnsigned(section.offsetWithinRegion());
        Int128 rStart = Int128.ofUnsigned(offset);
        Int128 start = Int128.max(sStart, rStart);
        Int128 end = Int128.min(regionEnd(section), rStart.addUnsigned(size));
        if (end.compareTo(start) <= 0) {
            return null;
        }
        if (start.equals(sStart) && end.equals(regionEnd(section))) {
            return section;
        }
        long delta = start.sub(sStart).lo();
        return new MemoryRegionSection(section.region(), section.flatView(), start.lo(), end.sub(start).lo(),
                section.offsetWithinAddressSpace() + delta, section.readonly(), section.nonvolatile(),
                section.unmergeable());
    }

    /**
     * A section of {@code region} outside any view, as migration builds one
     * ({@code MemoryRegionSection section = {.mr = rb->mr, .offset_within_region = 0, .size = ...}}):
     * no flat view, address 0, flags clear.
     *
     * @param region the region
     * @param offset first region offset
     * @param size bytes (unsigned, not 0)
     * @return the section (no reference taken)
     * @throws IllegalArgumentException if {@code size} is 0
     */
    public static MemoryRegionSection ofRegion(MemoryRegion region, long offset, long size) {
        Objects.requireNonNull(region, "region");
        if (size == 0) {
            throw new IllegalArgumentException("a section of '" + region.name() + "' needs a nonzero size");
        }
        return new MemoryRegionSection(region, null, offset, size, 0, false, false, false);
    }

    /**
     * Whether a section lies inside the first {@code length} bytes of its region.
     *
     * @param section a non-empty section
     * @param length the extent (unsigned)
     * @return whether {@code offsetWithinRegion + size <= length}
     */
    public static boolean within(MemoryRegionSection section, long length) {
        return regionEnd(section).compareTo(Int128.ofUnsigned(length)) <= 0;
    }
}
