package dev.guestmem.flat;

import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * QEMU's {@code render_memory_region} and {@code flatview_simplify}: turns a region tree into sorted,
 * non-overlapping {@link FlatRange}s.
 *
 * <p>The walk is QEMU's: depth first, subregions in list order (priority-descending, newest first),
 * disabled subtrees skipped, attributes ORed down (through aliases too), each region clipped to its
 * parent's clip, alias bases computed in signed 128-bit arithmetic, and a terminating region filling
 * the gaps its earlier-rendered children left inside its clip. Whatever is already rendered wins.
 *
 * <p>Unlike QEMU, the ranges rendered so far live in a {@link TreeMap} keyed by start address, so
 * filling gaps costs O(k log n) for k ranges inside the clip instead of a rescan and a memmove per
 * insertion: rendering 10,000 sibling regions is no longer quadratic. The result is identical.
 *
 * <p>Rendering can be restricted to a window of the address space ({@link #renderWindow}); the
 * ranges it produces are exactly the full render's ranges intersected with the window, which is what
 * lets a commit re-render only the addresses a change touched.
 *
 * <p><b>Thread safety.</b> One instance per render; callers hold the topology lock.
 */
public final class FlatViewRenderer {
    private final TreeMap<Long, FlatRange> ranges = new TreeMap<>(Long::compareUnsigned);

    private FlatViewRenderer() {
    }

    /**
     * Renders {@code root} over the whole address space and merges ({@code generate_memory_topology}
     * without the dispatch build).
     *
     * @param root the flat-view root, or null for the empty view
     * @return the simplified ranges in address order
     */
    public static List<FlatRange> render(MemoryRegion root) {
        return renderWindow(root, Int128.ZERO, Int128.TWO_64, true);
    }

    /**
     * Renders {@code root} restricted to the addresses {@code [start, end)}.
     *
     * @param root the flat-view root, or null
     * @param start first address of the window ({@code >= 0})
     * @param end end of the window ({@code <= 2^64})
     * @param simplify whether to merge the result ({@code flatview_simplify})
     * @return the ranges in address order
     */
    public static List<FlatRange> renderWindow(MemoryRegion root, Int128 start, Int128 end, boolean simplify) {
        FlatViewRenderer r = new FlatViewRenderer();
        if (root != null && start.compareTo(end) < 0) {
            r.renderRegion(root, Int128.ZERO, start, end, false, false, false);
        }
        List<FlatRange> out = new ArrayList<>(r.ranges.values());
        return simplify ? simplify(out) : out;
    }

    /**
     * Aliases rendered inside one another on the current path. An alias may sit inside its own
     * target (QEMU's Arm SSE boards); each turn of such a cycle shifts the window and the clip ends
     * it, usually after one or two turns (MemoryRegion accepts only such cycles, of at most 64 turns).
     * A cycle that a later move made unshifting would recurse for ever (QEMU runs out of stack), so
     * rendering stops where the state repeats, and at this many nested aliases.
     */
    private static final int MAX_ALIAS_DEPTH = 64;
    /** The aliases being rendered on the current path, each followed by the base it renders its target at. */
    private final List<Object> aliasPath = new ArrayList<>();

    /**
     * Re-entries of an alias into its own rendering, per render: several self-aliases in one region
     * multiply their turns, so their total is bounded too (a board has a handful).
     */
    private static final int MAX_CYCLIC_TURNS = 4096;
    private int cyclicTurns;

    /**
     * A cyclic entry's state: rendering it again with a clip inside one it was rendered with, from no
     * deeper a path (so with no less of {@link #MAX_ALIAS_DEPTH} left), adds nothing (every hole it
     * could fill was filled then), so the renderer skips it. Without this, two self-aliases in one
     * region render every interleaving of their turns (exponentially many) and the turn bound cut the
     * render short at a point that depended on the window rendered.
     */
    private record CycleState(AliasRegion alias, Int128 base, boolean readonly, boolean nonvolatile,
                              boolean unmergeable) {
    }

    /** A clip a cyclic state was rendered with, and the alias depth of the path it was rendered at. */
    private record CycleVisit(Int128 start, Int128 end, int depth) {
    }

    /** The visits of each cyclic state, this render. */
    private final Map<CycleState, List<CycleVisit>> cycleVisits = new HashMap<>();

    /** Records that {@code state} renders over {@code [cs, ce)} now; false if an earlier visit covers that. */
    private boolean firstCycleVisit(CycleState state, Int128 cs, Int128 ce) {
        int depth = aliasPath.size() / 2;
        List<CycleVisit> visits = cycleVisits.computeIfAbsent(state, k -> new ArrayList<>(2));
        for (CycleVisit v : visits) {
            if (v.start.compareTo(cs) <= 0 && v.end.compareTo(ce) >= 0 && v.depth <= depth) {
                return false;
            }
        }
        visits.add(new CycleVisit(cs, ce, depth));
        return true;
    }

    /** Whether {@code alias} is already being rendered at {@code base} on this path (the state would repeat). */
    private boolean repeats(AliasRegion alias, Int128 base) {
        for (int i = 0; i < aliasPath.size(); i += 2) {
            if (aliasPath.get(i) == alias && aliasPath.get(i + 1).equals(base)) {
                return true;
            }
        }
        return false;
    }

    /** QEMU's {@code render_memory_region}. Clip is {@code [clipStart, clipEnd)} inside {@code [0, 2^64]}. */
    private void renderRegion(MemoryRegion mr, Int128 base, Int128 clipStart, Int128 clipEnd, boolean readonly,
                              boolean nonvolatile, boolean unmergeable) {
        if (!mr.isEnabled()) {
            return;
        }
        base = base.addUnsigned(mr.addr());
        readonly |= mr.isReadonly();
        nonvolatile |= mr.isNonvolatile();
        unmergeable |= mr.isUnmergeable();

        Int128 cs = Int128.max(base, clipStart);
        Int128 ce = Int128.min(base.add(mr.size128()), clipEnd);
        if (cs.compareTo(ce) >= 0) {
            return;
        }

        if (mr instanceof AliasRegion alias) {
            MemoryRegion target = alias.target();
            Int128 aliasBase = base.subUnsigned(target.addr()).subUnsigned(alias.aliasOffset());
            boolean cyclic = aliasPath.contains(alias);
            if (cyclic && !firstCycleVisit(new CycleState(alias, aliasBase, readonly, nonvolatile, unmergeable), cs, ce)) {
                return; // this state was rendered over this clip already, on another path
            }
            if (aliasPath.size() >= MAX_ALIAS_DEPTH * 2 || repeats(alias, aliasBase)
                    || cyclic && ++cyclicTurns > MAX_CYCLIC_TURNS) {
                // An alias cycle that no longer shifts (a later move made it so): QEMU would recurse
                // until its stack ran out. Stop here instead.
                return;
            }
            aliasPath.add(alias);
            aliasPath.add(aliasBase);
            try {
                renderRegion(target, aliasBase, cs, ce, readonly, nonvolatile, unmergeable);
            } finally {
                aliasPath.removeLast();
                aliasPath.removeLast();
            }
            return;
        }

        List<MemoryRegion> subs = mr.subregionList();
        for (int i = 0, n = subs.size(); i < n; i++) {
            MemoryRegion sub = subs.get(i);
            if (!quickReject(sub, base, cs, ce)) {
                renderRegion(sub, base, cs, ce, readonly, nonvolatile, unmergeable);
            }
        }

        if (!mr.terminates()) {
            return;
        }
        fillGaps(mr, base, cs, ce, readonly, nonvolatile, unmergeable);
    }

    /**
     * Allocation-free test that {@code sub} lies entirely outside the clip, for the common case where
     * everything fits in 64 bits; false when unsure (the full 128-bit test in {@link #renderRegion}
     * decides). Keeps windowed renders of containers with thousands of children cheap.
     */
    private static boolean quickReject(MemoryRegion sub, Int128 base, Int128 cs, Int128 ce) {
        if (base.hi() != 0 || ce.hi() != 0 || sub.size() == -1L) {
            return false;
        }
        long start = base.lo() + sub.addr();
        long end = start + sub.size();
        if (Long.compareUnsigned(start, base.lo()) < 0 || Long.compareUnsigned(end, start) < 0) {
            return false; // passes 2^64
        }
        return Long.compareUnsigned(end, cs.lo()) <= 0 || Long.compareUnsigned(start, ce.lo()) >= 0;
    }

    /** Inserts pieces of {@code mr} into every gap of {@code [cs, ce)} (the terminating case). */
    private void fillGaps(MemoryRegion mr, Int128 base, Int128 cs, Int128 ce, boolean readonly,
                          boolean nonvolatile, boolean unmergeable) {
        int mask = mr.dirtyLogMask();
        boolean romd = mr.isRomd();
        long cur = cs.lo();                 // cs < 2^64 because cs < ce <= 2^64
        long last = ce.subUnsigned(1).lo(); // inclusive, so an end at 2^64 needs no 65th bit
        Map.Entry<Long, FlatRange> e = ranges.floorEntry(cur);
        if (e != null && Long.compareUnsigned(e.getValue().last(), cur) >= 0) {
            if (Long.compareUnsigned(e.getValue().last(), last) >= 0) {
                return;
            }
            cur = e.getValue().last() + 1;
        }
        while (true) {
            e = ranges.ceilingEntry(cur);
            if (e == null || Long.compareUnsigned(e.getKey(), last) > 0) {
                insert(mr, base, cur, last, readonly, nonvolatile, romd, unmergeable, mask);
                return;
            }
            FlatRange next = e.getValue();
            if (next.start() != cur) {
                insert(mr, base, cur, next.start() - 1, readonly, nonvolatile, romd, unmergeable, mask);
            }
            if (Long.compareUnsigned(next.last(), last) >= 0) {
                return;
            }
            cur = next.last() + 1;
        }
    }

    private void insert(MemoryRegion mr, Int128 base, long start, long last, boolean readonly, boolean nonvolatile,
                        boolean romd, boolean unmergeable, int mask) {
        long offsetInRegion = Int128.ofUnsigned(start).sub(base).lo();
        ranges.put(start, new FlatRange(start, last, mr, offsetInRegion, readonly, nonvolatile, romd, unmergeable,
                mask));
    }

    /**
     * QEMU's {@code flatview_simplify}: one left-to-right pass merging neighbours that {@link #canMerge}.
     *
     * @param in ranges in address order
     * @return the merged ranges
     */
    public static List<FlatRange> simplify(List<FlatRange> in) {
        List<FlatRange> out = new ArrayList<>(in.size());
        int n = in.size();
        int i = 0;
        while (i < n) {
            FlatRange cur = in.get(i);
            int j = i + 1;
            while (j < n && canMerge(in.get(j - 1), in.get(j))) {
                j++;
            }
            if (j > i + 1) {
                cur = new FlatRange(cur.start(), in.get(j - 1).last(), cur.region(), cur.offsetInRegion(),
                        cur.readonly(), cur.nonvolatile(), cur.romdMode(), cur.unmergeable(), cur.dirtyLogMask());
            }
            out.add(cur);
            i = j;
        }
        return out;
    }

    /**
     * Merges two ranges that {@link #canMerge}.
     *
     * @param r1 the lower range
     * @param r2 the upper range
     * @return one range covering both
     */
    public static FlatRange merge(FlatRange r1, FlatRange r2) {
        return new FlatRange(r1.start(), r2.last(), r1.region(), r1.offsetInRegion(), r1.readonly(),
                r1.nonvolatile(), r1.romdMode(), r1.unmergeable(), r1.dirtyLogMask());
    }

    /**
     * QEMU's {@code can_merge}: {@code r1} ends where {@code r2} starts, same region, contiguous
     * offsets, equal dirty-log mask, ROMD mode, read-only and non-volatile flags, neither unmergeable.
     *
     * @param r1 the lower range
     * @param r2 the upper range
     * @return whether they can be one range
     */
    public static boolean canMerge(FlatRange r1, FlatRange r2) {
        return r1.last() != -1L && r1.last() + 1 == r2.start()
                && r1.region() == r2.region()
                && Int128.ofUnsigned(r1.offsetInRegion()).add(Int128.ofUnsigned(r1.last()).subUnsigned(r1.start())
                        .addUnsigned(1)).equals(Int128.ofUnsigned(r2.offsetInRegion()))
                && r1.dirtyLogMask() == r2.dirtyLogMask()
                && r1.romdMode() == r2.romdMode()
                && r1.readonly() == r2.readonly()
                && r1.nonvolatile() == r2.nonvolatile()
                && !r1.unmergeable() && !r2.unmergeable();
    }
}
