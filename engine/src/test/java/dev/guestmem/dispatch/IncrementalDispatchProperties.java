package dev.guestmem.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.TopologyDirt;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Int128;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RegionException;
import java.util.ArrayList;
import dev.guestmem.testing.Choices;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Incremental dispatch builds ({@link AddressSpaceDispatch#buildIncremental}) against full builds of
 * the same view: every lookup ({@code phys_page_find}, the section with and without subpage resolution)
 * at every range boundary of the old and new view, one byte either side, page edges around them and
 * random points must give a section with the same contents (extent, region, offset, flags, range).
 *
 * <p>Two drivers: (1) a random region tree changed by random commits through {@link MemorySystem},
 * which patches views with {@code IncrementalRender} and derives each table from the last one (chains
 * of derivations, garbage accumulation, fallbacks); (2) random range lists changed inside random
 * windows directly, including ranges trimmed at the window edges and merged across them, with
 * sub-page sizes and addresses near 2^64.
 */
class IncrementalDispatchProperties {
    private static final long[] SIZES = {0x1000, 0x2000, 0x800, 0x10000, 0x400, -1L, 0x3000, 0x1800, 0x200000,
        0x40_0000_0000L};
    private static final long[] ADDRS = {0, 0x400, 0x800, 0x1000, 0x1800, 0x2000, 0x3000, 0x8000, 0x1ff000,
        0x200000, 0x3fe00, 0xffff_ffff_ffff_f000L, 0xffff_ffff_ffff_e000L, 0xffff_ffff_ffff_f800L};

    @Provide
    Arbitrary<List<Integer>> choices() {
        return Arbitraries.integers().between(0, 1 << 16).list().ofMinSize(0).ofMaxSize(200);
    }

    // ---------------------------------------------------------------------------------------------
    // Driver 1: commits through MemorySystem

    /** A machine like the P7 benchmark: moving one BAR among many is patched, and the table derived. */
    @Example
    void barMovesAreDerivedAndExact() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        IoRegion pci = new IoRegion(sys, null, null, "pci", 0x8000_0000L);
        sys.transactionBegin();
        for (int i = 0; i < 300; i++) {
            pci.addSubregion(0x10_0000L + i * 0x2000L, new IoRegion(sys, null, null, "bar" + i, i % 3 == 0 ? 0x800 : 0x1000));
        }
        IoRegion moving = new IoRegion(sys, null, null, "moving", 0x1000);
        pci.addSubregion(0x10_0000L + 300 * 0x2000L, moving);
        system.addSubregionOverlap(0x8000_0000L, new AliasRegion(sys, null, "hole", pci, 0, 0x8000_0000L), -1);
        system.addSubregion(0, new IoRegion(sys, null, null, "low", 0x10_0000L));
        sys.transactionCommit();
        AddressSpace as = sys.addressSpace(system, "memory");
        Random rnd = new Random(7);
        int derived = 0;
        for (int step = 0; step < 200; step++) {
            FlatView before = as.currentMap();
            long to = (rnd.nextInt(400) * 0x800L) + (rnd.nextBoolean() ? 0 : 0x400);
            moving.setAddress(to);
            FlatView after = as.currentMap();
            if (after.dispatch().pageMap().isIncremental()) {
                derived++;
            }
            assertSameLookups(after, before, rnd);
        }
        assertTrue(derived > 150, "most commits should derive the table, got " + derived);
    }

    @Property
    void committedViewsMatchFullBuilds(@ForAll("choices") List<Integer> script) {
        Choices c = new Choices(script);
        MemorySystem sys = new MemorySystem();
        List<MemoryRegion> regions = new ArrayList<>();
        ContainerRegion root = new ContainerRegion(sys, null, "root", c.next(4) == 0 ? 0x400000 : -1L);
        regions.add(root);
        int n = 1 + c.next(14);
        for (int k = 0; k < n; k++) {
            MemoryRegion r = newRegion(sys, c, regions, "r" + k);
            if (r == null) {
                continue;
            }
            if (c.next(6) == 0) {
                r.setReadonly(true);
            }
            MemoryRegion parent = regions.get(c.next(regions.size()));
            if (!closesAliasCycle(parent, r)) {
                guarded(() -> parent.addSubregionOverlap(c.pick(ADDRS), r, c.next(5) - 2));
            }
            regions.add(r);
        }
        AddressSpace as1 = sys.addressSpace(root, "as1");
        AddressSpace as2 = sys.addressSpace(regions.get(c.next(regions.size())), "as2");
        Random rnd = new Random(script.hashCode());
        int steps = 1 + c.next(12);
        for (int s = 0; s < steps; s++) {
            FlatView old1 = as1.currentMap();
            FlatView old2 = as2.currentMap();
            if (c.next(5) == 0) {
                sys.transactionBegin();
                mutate(c, regions);
                mutate(c, regions);
                sys.transactionCommit();
            } else {
                mutate(c, regions);
            }
            assertSameLookups(as1.currentMap(), old1, rnd);
            assertSameLookups(as2.currentMap(), old2, rnd);
        }
    }

    private static MemoryRegion newRegion(MemorySystem sys, Choices c, List<MemoryRegion> regions, String name) {
        long size = c.pick(SIZES);
        switch (c.next(3)) {
            case 0:
                return new ContainerRegion(sys, null, name, size);
            case 1:
                return new IoRegion(sys, null, null, name, size);
            default:
                MemoryRegion target = regions.get(c.next(regions.size()));
                long tsize = target.size();
                long asize = size;
                if (tsize != -1L && (asize == -1L || Long.compareUnsigned(asize, tsize) > 0)) {
                    asize = tsize;
                }
                long[] offsets = {0, 0x400, 0x800, 0x1000};
                long off = offsets[c.next(offsets.length)];
                try {
                    return new AliasRegion(sys, null, name, target, off, asize);
                } catch (RegionException e) {
                    return null;
                }
        }
    }

    private static void mutate(Choices c, List<MemoryRegion> regions) {
        MemoryRegion r = regions.get(c.next(regions.size()));
        switch (c.next(7)) {
            case 0, 1 -> guarded(() -> r.setAddress(c.pick(ADDRS) + (c.next(3) == 0 ? 0x200 : 0)));
            case 2 -> r.setEnabled(!r.isEnabled());
            case 3 -> {
                if (r instanceof AliasRegion a) {
                    guarded(() -> a.setAliasOffset(c.pick(ADDRS)));
                }
            }
            case 4 -> r.setReadonly(!r.isReadonly());
            case 5 -> {
                if (r.container() != null) {
                    r.container().delSubregion(r);
                } else {
                    MemoryRegion p = regions.get(c.next(regions.size()));
                    if (!closesAliasCycle(p, r)) {
                        guarded(() -> p.addSubregionOverlap(c.pick(ADDRS), r, c.next(5) - 2));
                    }
                }
            }
            default -> guarded(() -> r.setSize(c.pick(SIZES)));
        }
    }

    private static void guarded(Runnable change) {
        try {
            change.run();
        } catch (RegionException e) {
            // refused changes are covered by RenderOracleProperties; here only the tables matter
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Driver 2: windows edited directly

    @Provide
    Arbitrary<Long> seeds() {
        return Arbitraries.longs();
    }

    @Property
    void windowEditsMatchFullBuilds(@ForAll("seeds") long seed) {
        Random rnd = new Random(seed);
        MemorySystem sys = new MemorySystem();
        MemoryRegion[] regions = new MemoryRegion[4];
        for (int i = 0; i < regions.length; i++) {
            regions[i] = new IoRegion(sys, null, null, "io" + i, MemoryRegion.SIZE_2_64);
        }
        long base = rnd.nextInt(4) == 0 ? -0x40000L : rnd.nextInt(3) == 0 ? 0x7fff_f000_0000L : 0;
        List<FlatRange> ranges = randomRanges(rnd, regions, base, 0, 0x40000 - 1);
        FlatView view = new FlatView(regions[0], ranges);
        for (int step = 0; step < 6; step++) {
            // windows: 1-3 disjoint, non-adjacent, inside [base, base + 0x40000)
            TreeSet<Long> cuts = new TreeSet<>();
            int w = 1 + rnd.nextInt(3);
            while (cuts.size() < 2 * w) {
                cuts.add(offset(rnd, 0x40000));
            }
            Long[] c = cuts.toArray(new Long[0]);
            List<TopologyDirt.Window> windows = new ArrayList<>();
            List<FlatRange> next = new ArrayList<>();
            // old ranges still to place; a range cut at a window's end goes back here as its remainder
            List<FlatRange> old = new ArrayList<>(view.ranges());
            int oi = 0;
            for (int k = 0; k < c.length; k += 2) {
                long ws = base + c[k];
                long wl = base + c[k + 1] - 1; // windows are separated by at least one byte
                windows.add(new TopologyDirt.Window(Int128.ofUnsigned(ws), Int128.ofUnsigned(wl).addUnsigned(1)));
                while (oi < old.size() && Long.compareUnsigned(old.get(oi).last(), ws) < 0) {
                    next.add(old.get(oi++));
                }
                if (oi < old.size() && Long.compareUnsigned(old.get(oi).start(), ws) < 0) {
                    next.add(trim(old.get(oi), old.get(oi).start(), ws - 1));
                }
                List<FlatRange> fresh = randomRanges(rnd, regions, base, ws - base, wl - base);
                for (FlatRange f : fresh) {
                    FlatRange prev = next.isEmpty() ? null : next.getLast();
                    if (prev != null && prev.last() + 1 == f.start() && rnd.nextInt(3) == 0) {
                        // merged across the seam, as IncrementalRender does with mergeable neighbours
                        next.removeLast();
                        next.add(new FlatRange(prev.start(), f.last(), prev.region(), prev.offsetInRegion(), false,
                                false, false, false, 0));
                    } else {
                        next.add(f);
                    }
                }
                while (oi < old.size() && Long.compareUnsigned(old.get(oi).last(), wl) <= 0) {
                    oi++;
                }
                if (oi < old.size() && Long.compareUnsigned(old.get(oi).start(), wl) <= 0) {
                    FlatRange r = old.get(oi);
                    FlatRange t = trim(r, wl + 1, r.last());
                    FlatRange prev = next.isEmpty() ? null : next.getLast();
                    if (prev != null && prev.last() == wl && rnd.nextInt(3) == 0) {
                        next.removeLast();
                        old.set(oi, new FlatRange(prev.start(), t.last(), prev.region(), prev.offsetInRegion(), false,
                                false, false, false, 0));
                    } else {
                        old.set(oi, t);
                    }
                }
            }
            while (oi < old.size()) {
                next.add(old.get(oi++));
            }
            FlatView patched = FlatView.patched(regions[0], next.toArray(new FlatRange[0]), view, windows);
            assertEquals(next, patched.ranges());
            assertSameLookups(patched, view, rnd);
            view = patched;
        }
    }

    /** An offset in {@code [0, bound)}, biased to page and half-page edges. */
    private static long offset(Random rnd, long bound) {
        long o = switch (rnd.nextInt(4)) {
            case 0 -> (rnd.nextLong() & Long.MAX_VALUE) % bound & ~0xfffL;
            case 1 -> ((rnd.nextLong() & Long.MAX_VALUE) % bound & ~0xfffL) + 0x800;
            case 2 -> (rnd.nextLong() & Long.MAX_VALUE) % bound & ~0xfL;
            default -> ((rnd.nextLong() & Long.MAX_VALUE) % bound & ~0xfffL) + rnd.nextInt(3) - 1;
        };
        return Math.min(Math.max(o, 0), bound - 1);
    }

    /** Random disjoint ranges inside {@code [base + lo, base + hi]}, some gaps, random regions. */
    private static List<FlatRange> randomRanges(Random rnd, MemoryRegion[] regions, long base, long lo, long hi) {
        TreeSet<Long> cuts = new TreeSet<>();
        cuts.add(lo);
        cuts.add(hi + 1);
        int n = rnd.nextInt(8);
        for (int i = 0; i < n; i++) {
            long o = lo + offset(rnd, hi - lo + 1);
            cuts.add(o);
        }
        List<FlatRange> out = new ArrayList<>();
        Long[] c = cuts.toArray(new Long[0]);
        for (int i = 0; i + 1 < c.length; i++) {
            if (rnd.nextInt(4) == 0) {
                continue; // a hole
            }
            MemoryRegion mr = regions[rnd.nextInt(regions.length)];
            out.add(new FlatRange(base + c[i], base + c[i + 1] - 1, mr, rnd.nextInt(16) * 0x400L, false, false, false,
                    false, 0));
        }
        return out;
    }

    private static FlatRange trim(FlatRange r, long start, long last) {
        return new FlatRange(start, last, r.region(), r.offsetInRegion() + (start - r.start()), r.readonly(),
                r.nonvolatile(), r.romdMode(), r.unmergeable(), r.dirtyLogMask());
    }

    // ---------------------------------------------------------------------------------------------
    // The comparison

    /** Compares {@code view}'s (possibly derived) table with a full build at many addresses. */
    private static void assertSameLookups(FlatView view, FlatView previous, Random rnd) {
        AddressSpaceDispatch got = view.dispatch();
        AddressSpaceDispatch want = AddressSpaceDispatch.build(view.ranges());
        TreeSet<Long> points = new TreeSet<>(Long::compareUnsigned);
        points.add(0L);
        points.add(-1L);
        addEdges(points, view);
        if (previous != null) {
            addEdges(points, previous);
        }
        for (int i = 0; i < 16; i++) {
            points.add(rnd.nextLong());
            points.add(rnd.nextLong() & 0x7f_ffffL);
        }
        for (long a : points) {
            assertEquals(sig(want.physPageFind(a)), sig(got.physPageFind(a)), () -> "physPageFind " + at(a, view));
            assertEquals(sig(want.lookupRegion(a, false)), sig(got.lookupRegion(a, false)),
                    () -> "page section " + at(a, view));
            assertEquals(sig(want.lookupRegion(a, true)), sig(got.lookupRegion(a, true)),
                    () -> "byte section " + at(a, view));
        }
    }

    private static String at(long a, FlatView view) {
        return "0x" + Long.toHexString(a) + " in " + view.ranges();
    }

    private static void addEdges(TreeSet<Long> points, FlatView v) {
        for (int i = 0; i < v.rangeCount(); i++) {
            FlatRange r = v.range(i);
            for (long e : new long[] {r.start(), r.last()}) {
                points.add(e);
                points.add(e - 1);
                points.add(e + 1);
                points.add(e & ~0xfffL);
                points.add(e | 0xfffL);
                points.add((e & ~0xfffL) - 1);
                points.add((e | 0xfffL) + 1);
            }
            points.add(r.start() + (r.last() - r.start()) / 2);
        }
    }

    /** What a lookup's caller can observe of a section (subpage tables by extent only). */
    private record Sig(boolean unassigned, long start, long last, MemoryRegion region, long offset, int flags,
                       FlatRange range, boolean subpage) {
    }

    private static Sig sig(PhysSection s) {
        if (s.isUnassigned()) {
            return new Sig(true, 0, 0, null, 0, 0, null, false);
        }
        return new Sig(false, s.start(), s.last(), s.region(), s.offsetWithinRegion(), s.flags(), s.flatRange(),
                s.subpage() != null);
    }

    /**
     * The generators keep clear of alias cycles (an alias mapped inside its own target, which QEMU's
     * Arm SSE boards do): MemoryRegionTest and the captured boards cover those, and the oracle here
     * follows QEMU's unbounded recursion.
     */
    private static boolean closesAliasCycle(MemoryRegion parent, MemoryRegion r) {
        if (r instanceof AliasRegion a) {
            for (MemoryRegion p = parent; p != null; p = p.container()) {
                if (p == a.target()) {
                    return true;
                }
            }
        }
        return false;
    }
}
