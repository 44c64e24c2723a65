package dev.guestmem.dispatch;

import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
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

    private AddressSpaceDispatch(FlatView view, PhysPageMap map, PhysSection[] sections) {
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
        Builder b = new Builder();
        for (int i = 0; i < view.rangeCount(); i++) {
            b.add(view.range(i));
        }
        b.map.compact();
        return new AddressSpaceDispatch(view, b.map, b.sections.toArray(new PhysSection[0]));
    }

    /**
     * Builds a table from ranges alone (tests and tools; the view is then null).
     *
     * @param ranges sorted, non-overlapping ranges
     * @return the table
     */
    public static AddressSpaceDispatch build(List<FlatRange> ranges) {
        Builder b = new Builder();
        for (FlatRange r : ranges) {
            b.add(r);
        }
        b.map.compact();
        return new AddressSpaceDispatch(null, b.map, b.sections.toArray(new PhysSection[0]));
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
        Subpage sp = s.subpage();
        if (resolveSubpage && sp != null) {
            s = sections[sp.sectionIndex((int) (addr & PAGE_OFFSET_MASK))];
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

    /** Accumulates sections and the page map while a table is built. */
    private static final class Builder {
        final PhysPageMap map = new PhysPageMap();
        final List<PhysSection> sections = new ArrayList<>();

        Builder() {
            sections.add(PhysSection.unassigned());
        }

        private int addSection(PhysSection s) {
            sections.add(s);
            if (sections.size() > PhysPageMap.NIL) {
                throw new IllegalStateException("more than " + PhysPageMap.NIL + " sections in one view");
            }
            return sections.size() - 1;
        }

        /** {@code flatview_add_to_dispatch}. */
        void add(FlatRange r) {
            long s = r.start();
            long l = r.last();
            if ((s & PAGE_OFFSET_MASK) != 0) {
                long pageLast = s | PAGE_OFFSET_MASK;
                long e = Long.compareUnsigned(pageLast, l) < 0 ? pageLast : l;
                registerSubpage(r, s, e);
                if (e == l) {
                    return;
                }
                s = e + 1;
            }
            long sizeMinus1 = l - s;
            // whole pages in [s, l]; sizeMinus1 = 2^64 - 1 gives 2^52 pages without overflow.
            long pages = (sizeMinus1 >>> PhysPageMap.PAGE_BITS) + ((sizeMinus1 & PAGE_OFFSET_MASK) == PAGE_OFFSET_MASK ? 1 : 0);
            if (pages != 0) {
                long wholeLast = s + (pages << PhysPageMap.PAGE_BITS) - 1;
                int idx = addSection(PhysSection.of(r, s, wholeLast));
                map.set(s >>> PhysPageMap.PAGE_BITS, pages, idx);
                if (wholeLast == l) {
                    return;
                }
                s = wholeLast + 1;
            }
            registerSubpage(r, s, l);
        }

        /** {@code register_subpage}. */
        private void registerSubpage(FlatRange r, long first, long last) {
            long base = first & ~PAGE_OFFSET_MASK;
            PhysSection existing = sections.get(map.find(base));
            if (!existing.covers(base)) {
                existing = sections.get(0);
            }
            Subpage sp = existing.subpage();
            if (sp == null) {
                if (!existing.isUnassigned()) {
                    throw new IllegalStateException("page 0x" + Long.toHexString(base) + " already mapped by "
                            + existing + " while adding " + r);
                }
                sp = new Subpage(base);
                int idx = addSection(PhysSection.forSubpage(base, PhysPageMap.PAGE_SIZE, sp));
                map.set(base >>> PhysPageMap.PAGE_BITS, 1, idx);
            }
            int idx = addSection(PhysSection.of(r, first, last));
            sp.register((int) (first & PAGE_OFFSET_MASK), (int) (last & PAGE_OFFSET_MASK), idx);
        }
    }
}
