package dev.guestmem.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** The radix page map, subpages and MRU against a naive scan of the flat ranges. */
class AddressSpaceDispatchTest {
    private static final MemorySystem SYSTEM = new MemorySystem();

    private static MemoryRegion io(String name) {
        return new IoRegion(SYSTEM, null, null, name, MemoryRegion.SIZE_2_64);
    }

    private static FlatRange range(long start, long last, MemoryRegion mr, long offset) {
        return new FlatRange(start, last, mr, offset, false, false, false, false, 0);
    }

    /** The oracle: the range containing addr, by linear scan. */
    private static FlatRange naive(List<FlatRange> ranges, long addr) {
        for (FlatRange r : ranges) {
            if (r.contains(addr)) {
                return r;
            }
        }
        return null;
    }

    private static void check(AddressSpaceDispatch d, List<FlatRange> ranges, long addr) {
        FlatRange want = naive(ranges, addr);
        Translation t = new Translation();
        for (int round = 0; round < 2; round++) { // second round: through the MRU
            PhysSection s = d.lookupRegion(addr, true);
            d.translateInternal(addr, 8, true, t);
            assertSame(s, t.section());
            if (want == null) {
                assertTrue(s.isUnassigned(), () -> "0x" + Long.toHexString(addr) + " should be unassigned, got " + s);
                assertEquals(addr, t.xlat());
            } else {
                assertSame(want.region(), s.region(), () -> "0x" + Long.toHexString(addr) + " -> " + s);
                assertEquals(want.offsetInRegion() + (addr - want.start()), t.xlat(), "xlat");
                assertTrue(s.covers(addr));
                assertTrue(want.contains(s.start()) && want.contains(s.last()), "section inside its range");
            }
        }
    }

    @Provide
    Arbitrary<List<Long>> boundaries() {
        Arbitrary<Long> page = Arbitraries.longs().between(0, 1 << 20).map(p -> p << 12);
        Arbitrary<Long> nearPage = Arbitraries.longs().between(0, 64).flatMap(p -> Arbitraries.longs()
                .between(-3, 3).map(d -> (p << 12) + d));
        Arbitrary<Long> top = Arbitraries.longs().between(0, 0x3000).map(d -> -1L - d);
        Arbitrary<Long> any = Arbitraries.longs();
        Arbitrary<Long> small = Arbitraries.longs().between(0, 0x5000);
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, page), net.jqwik.api.Tuple.of(4, nearPage), net.jqwik.api.Tuple.of(2, top),
                net.jqwik.api.Tuple.of(2, any), net.jqwik.api.Tuple.of(4, small)).list().ofMaxSize(24);
    }

    private static List<FlatRange> rangesFrom(List<Long> points, long seed) {
        List<Long> sorted = new ArrayList<>(points);
        sorted.sort(Long::compareUnsigned);
        List<Long> distinct = new ArrayList<>();
        for (Long p : sorted) {
            if (distinct.isEmpty() || !distinct.getLast().equals(p)) {
                distinct.add(p);
            }
        }
        Random rnd = new Random(seed);
        List<FlatRange> ranges = new ArrayList<>();
        int i = 0;
        for (; i + 1 < distinct.size(); i += 2) {
            long start = distinct.get(i);
            long last = distinct.get(i + 1);
            if (rnd.nextInt(4) == 0 && i + 2 < distinct.size()) {
                last = distinct.get(i + 2) - 1; // adjacent ranges of different regions
                ranges.add(range(start, last, io("r" + i), rnd.nextLong()));
                ranges.add(range(last + 1, distinct.get(i + 2), io("r" + i + "b"), rnd.nextInt(1 << 20)));
                i++;
                continue;
            }
            ranges.add(range(start, last, io("r" + i), rnd.nextInt(4) == 0 ? rnd.nextLong() : rnd.nextInt(1 << 20)));
        }
        if (i == distinct.size() - 1 && rnd.nextBoolean()) {
            long s = distinct.getLast();
            ranges.add(range(s, s, io("single"), 0));
        }
        return ranges;
    }

    @Property
    void lookupMatchesNaiveScan(@ForAll("boundaries") List<Long> points, @ForAll long seed) {
        List<FlatRange> ranges = rangesFrom(points, seed);
        AddressSpaceDispatch d = AddressSpaceDispatch.build(ranges);
        Random rnd = new Random(seed);
        List<Long> probes = new ArrayList<>(List.of(0L, -1L, 0xFFFL, 0x1000L, 1L << 63, (1L << 63) - 1));
        for (FlatRange r : ranges) {
            for (long d0 = -2; d0 <= 2; d0++) {
                probes.add(r.start() + d0);
                probes.add(r.last() + d0);
                probes.add((r.start() & ~0xFFFL) + d0);
                probes.add((r.last() | 0xFFFL) + d0);
            }
            probes.add(r.start() + Long.remainderUnsigned(rnd.nextLong(), r.size() == 0 ? Long.MAX_VALUE : r.size()));
        }
        for (int i = 0; i < 20; i++) {
            probes.add(rnd.nextLong());
        }
        for (long a : probes) {
            check(d, ranges, a);
        }
        // Probes in random order exercise MRU hits and misses between sections.
        java.util.Collections.shuffle(probes, rnd);
        for (long a : probes) {
            check(d, ranges, a);
        }
    }

    @Test
    void wholeSpaceRangeIsOneLeafAfterCompaction() {
        MemoryRegion mr = io("all");
        AddressSpaceDispatch d = AddressSpaceDispatch.build(List.of(range(0, -1L, mr, 0)));
        assertEquals(2, d.sectionCount());
        assertSame(mr, d.lookupRegion(-1L, true).region());
        assertSame(mr, d.lookupRegion(0, true).region());
        assertSame(mr, d.lookupRegion(1L << 63, true).region());
    }

    @Test
    void compactionSkipsSingleChildLevels() {
        MemoryRegion mr = io("dev");
        // One page at 0xfee00000: six levels collapse to one skip to the level-0 node.
        AddressSpaceDispatch d = AddressSpaceDispatch.build(List.of(range(0xfee00000L, 0xfee00fffL, mr, 0)));
        int root = d.pageMap().root();
        assertEquals(PhysPageMap.LEVELS, PhysPageMap.skip(root), "root skips straight to the level-0 node");
        assertSame(mr, d.lookupRegion(0xfee00abcL, true).region());
        // an address elsewhere indexes the same node through the skipped levels but is not covered
        assertTrue(d.lookupRegion(0x12300abcL, true).isUnassigned());
    }

    @Test
    void subpageResolvesEachByteRun() {
        MemoryRegion a = io("a");
        MemoryRegion b = io("b");
        MemoryRegion c = io("c");
        AddressSpaceDispatch d = AddressSpaceDispatch.build(List.of(
                range(0x1000, 0x1003, a, 0x10), range(0x1008, 0x2007, b, 0), range(0x2010, 0x2010, c, 5)));
        assertSame(a, d.lookupRegion(0x1003, true).region());
        assertTrue(d.lookupRegion(0x1004, true).isUnassigned());
        assertSame(b, d.lookupRegion(0x1008, true).region());
        assertSame(b, d.lookupRegion(0x2007, true).region());
        assertTrue(d.lookupRegion(0x2008, true).isUnassigned());
        assertSame(c, d.lookupRegion(0x2010, true).region());
        PhysSection page = d.lookupRegion(0x1000, false);
        assertNotNull(page.subpage(), "without resolution the page-level subpage section is returned");
        assertEquals(0x1000, page.start());
        Translation t = new Translation();
        d.translateInternal(0x2010, 4, true, t);
        assertEquals(5, t.xlat());
        assertEquals(4, t.plen(), "MMIO lengths are not clamped");
    }
}
