package dev.guestmem.dispatch;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * The lookup structure of one {@link FlatView}, as QEMU's {@code AddressSpaceDispatch}: a radix page
 * map ({@link PhysPageMap}) whose leaves name {@link PhysSection}s, {@link Subpage} tables for
 * pages shared by several sections or only partly mapped, and the most-recently-used section.
 *
 * <p>Built by {@link #build(FlatView)} exactly as QEMU's {@code flatview_add_to_dispatch}: each flat
 * range is cut into a leading partial page (subpage), a block of whole pages (one section, set over
 * the radix tree with leaves at the highest possible level) and a trailing partial page; then
 * {@code address_space_dispatch_compact} skips single-child levels.
 *
 * <p><b>Thread safety.</b> Built under the topology lock and immutable afterwards, except the MRU
 * section, which any reader may replace: it is read and written with opaque accesses (a racy cache;
 * every value ever stored is a section of this table, and a stale one is only a miss).
 */
public final class AddressSpaceDispatch {
    private static final VarHandle MRU;

    static {
        try {
            MRU = MethodHandles.lookup().findVarHandle(AddressSpaceDispatch.class, "mru", PhysSection.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final long PAGE_OFFSET_MASK = PhysPageMap.PAGE_SIZE - 1;

    private final FlatView view;
    private final PhysPageMap map;
    private final PhysSection[] sections;
    private final PhysSection unassigned;
    @SuppressWarnings("unused") // accessed through MRU
    private PhysSection mru;

    AddressSpaceDispatch(FlatView view, PhysPageMap map, PhysSection[] sections) {
        this.view = view;
        this.map = map;
        this.sections = sections;
        this.unassigned = sections[0];
    }

    /**
     * Builds the dispatch table of a view ({@code address_space_dispatch_new},
     * {@code flatview_add_to_dispatch} per range, {@code address_space_dispatch_compact}). Called from
     * the {@link FlatView} constructor with the topology lock held.
     *
     * @param view the view (its ranges must be readable)
     * @return its dispatch table
     */
    public static AddressSpaceDispatch build(FlatView view) {
        FlatRange[] ranges = new FlatRange[view.rangeCount()];
        for (int i = 0; i < ranges.length; i++) {
            ranges[i] = view.range(i);
        }
        return DispatchBuilder.full(view, ranges);
    }

    /**
     * Derives the table of a view patched from {@code old}'s view by editing a copy of {@code old}
     * only in the changed windows (see {@link DispatchBuilder}); lookups answer exactly as
     * {@link #build(FlatView)} would. Falls back to a full build when that is cheaper or safer.
     *
     * @param old the table of the view {@code view} was patched from ({@code old} is not changed)
     * @param view the new view
     * @param windowStart first address of each changed window, ascending
     * @param windowLast last address (inclusive) of each window; outside the windows and their
     *     immediate neighbours both views have the same ranges
     * @return the new view's table
     */
    public static AddressSpaceDispatch buildIncremental(AddressSpaceDispatch old, FlatView view, long[] windowStart,
                                                        long[] windowLast) {
        return DispatchBuilder.incremental(old, view, windowStart, windowLast);
    }

    /**
     * Builds a table from ranges alone (tests and tools; the view is then null).
     *
     * @param ranges sorted, non-overlapping ranges
     * @return the table
     */
    public static AddressSpaceDispatch build(List<FlatRange> ranges) {
        return DispatchBuilder.full(null, ranges.toArray(new FlatRange[0]));
    }

    /** @return the view this table serves (null when built from bare ranges) */
    public FlatView view() {
        return view;
    }

    /** @return the radix page map */
    public PhysPageMap pageMap() {
        return map;
    }

    /** @return the number of sections, including the unassigned section 0 */
    public int sectionCount() {
        return sections.length;
    }

    /**
     * @param i section index
     * @return the section
     */
    public PhysSection section(int i) {
        return sections[i];
    }

    /** The sections array itself, for {@link DispatchBuilder} (read only). */
    PhysSection[] sectionArray() {
        return sections;
    }

    /** @return section 0, the unassigned section */
    public PhysSection unassignedSection() {
        return unassigned;
    }

    /**
     * The most recently used section, for the access fast path: reuse it when it covers the address.
     * May be null, the unassigned section or a page-level subpage section, none of which is direct.
     *
     * @return the MRU section (opaque read)
     * @implNote Allocation-free, lock-free; P1.
     */
    public PhysSection mru() {
        return (PhysSection) MRU.getOpaque(this);
    }

    /**
     * {@code phys_page_find}: the page-level section covering {@code addr}, or the unassigned
     * section. Does not consult or update the MRU.
     *
     * @param addr an address (unsigned)
     * @return the section (a page-level subpage section is not resolved)
     */
    public PhysSection physPageFind(long addr) {
        PhysSection s = sections[map.find(addr)];
        return s.covers(addr) ? s : unassigned;
    }

    /**
     * {@code address_space_lookup_region}: the section for {@code addr} through the MRU shortcut.
     *
     * @param addr an address (unsigned)
     * @param resolveSubpage whether to resolve a subpage to the byte's own section (QEMU's normal
     *     translation does; TLB fills for sub-page mappings do not)
     * @return the section, never null
     * @implNote Allocation-free, lock-free; writes the MRU only when it changes (opaque), so readers
     *     that hit the same section never share a written cache line (P1, P12).
     */
    public PhysSection lookupRegion(long addr, boolean resolveSubpage) {
        PhysSection s = (PhysSection) MRU.getOpaque(this);
        if (s == null || s == unassigned || !s.covers(addr)) {
            s = sections[map.find(addr)];
            if (!s.covers(addr)) {
                s = unassigned;
            }
            MRU.setOpaque(this, s);
        }
        // The flag, not subpage() != null: C2 will not inline a method whose signature names a class
        // not loaded yet, and Subpage is not loaded in a machine that never had one (a call a lookup).
        if (resolveSubpage && (s.flags() & PhysSection.SUBPAGE) != 0) {
            s = sections[s.subpage().sectionIndex((int) (addr & PAGE_OFFSET_MASK))];
        }
        return s;
    }

    /**
     * {@code address_space_translate_internal}: finds the section of {@code addr}, the offset in its
     * region and, for RAM only, clamps the length to the section's end (MMIO lengths are left alone on
     * purpose: overlapping port decoders; callers clamp with the access-size rules).
     *
     * @param addr an address (unsigned)
     * @param len wanted length in bytes (unsigned)
     * @param resolveSubpage see {@link #lookupRegion}
     * @param out receives section, offset in region and length
     * @return the section
     * @implNote Allocation-free, lock-free.
     */
    public PhysSection translateInternal(long addr, long len, boolean resolveSubpage, Translation out) {
        PhysSection s = lookupRegion(addr, resolveSubpage);
        long off = addr - s.start();
        long l = len;
        if ((s.flags() & PhysSection.IS_RAM) != 0) {
            long diffMinus1 = s.sizeMinusOne() - off; // bytes to the end minus one
            if (len != 0 && Long.compareUnsigned(len - 1, diffMinus1) > 0) {
                l = diffMinus1 + 1;
            }
        }
        out.set(s, off + s.offsetWithinRegion(), l);
        return s;
    }
}
