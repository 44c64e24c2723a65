package dev.guestmem.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.TopologyDirt;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Int128;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The lineage rules of {@link RadixTree}: tables derived one from the other share an append-only
 * node pool and the writer edits one uncompacted tree in place, so (1) a published table must answer
 * exactly as before however many tables are derived after it (pool nodes are never rewritten, also
 * across pool repacks), and (2) a table whose tree has moved on cannot be derived from again: a second
 * derivation from it is a full build, correct, and leaves the first derivation's answers alone.
 */
class RadixTreeLineageTest {
    /** Every lookup outcome of a table at a set of probe addresses (section identity by contents). */
    private static List<String> answers(AddressSpaceDispatch d, long[] probes) {
        List<String> out = new ArrayList<>(probes.length);
        for (long a : probes) {
            PhysSection page = d.physPageFind(a);
            PhysSection bytes = d.lookupRegion(a, true);
            out.add(describe(page) + " / " + describe(bytes));
        }
        return out;
    }

    private static String describe(PhysSection s) {
        if (s.isUnassigned()) {
            return "unassigned";
        }
        return Long.toHexString(s.start()) + ".." + Long.toHexString(s.last()) + " "
                + (s.region() == null ? "subpage" : s.region().name() + "@" + Long.toHexString(s.offsetWithinRegion()));
    }

    private static long[] probes(long[] interesting, Random rnd) {
        List<Long> p = new ArrayList<>();
        for (long a : interesting) {
            for (long d : new long[] {-0x1001, -1, 0, 1, 0x7ff, 0x800, 0xfff, 0x1000}) {
                p.add(a + d);
            }
        }
        for (int i = 0; i < 64; i++) {
            p.add(rnd.nextLong());
            p.add(0xE000_0000L + (rnd.nextLong() & 0x3ff_ffffL));
        }
        return p.stream().mapToLong(Long::longValue).toArray();
    }

    @Test
    void oldTablesKeepTheirAnswersAcrossManyDerivationsAndRepacks() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        for (int i = 0; i < 32; i++) {
            root.addSubregion(0xFE00_0000L + i * 0x2000L, new IoRegion(sys, null, null, "dev" + i, 0x1000));
        }
        root.addSubregion(0x4000_0000L, new IoRegion(sys, null, null, "ram-like", 0x10_0000L));
        IoRegion bar = new IoRegion(sys, null, null, "bar", 0x1800); // one page and a half: a subpage
        root.addSubregion(0xE000_0000L, bar);
        AddressSpace as = sys.addressSpace(root, "memory");
        Random rnd = new Random(12);
        long[] slots = new long[16];
        for (int i = 0; i < slots.length; i++) {
            slots[i] = 0xE000_0000L + rnd.nextInt(1 << 14) * 0x800L; // spread over 32 MiB, half-page aligned
        }
        long[] probes = probes(slots, rnd);
        List<FlatView> views = new ArrayList<>();
        List<List<String>> expected = new ArrayList<>();
        int derived = 0;
        for (int step = 0; step < 400; step++) {
            bar.setAddress(slots[rnd.nextInt(slots.length)] + (step % 2 == 0 ? 0 : 0x400000));
            FlatView v = as.currentMap();
            if (v.dispatch().pageMap().isIncremental()) {
                derived++;
            }
            List<String> want = answers(AddressSpaceDispatch.build(v.ranges()), probes);
            assertEquals(want, answers(v.dispatch(), probes), "step " + step);
            views.add(v);
            expected.add(want);
        }
        assertTrue(derived > 300, "most commits derive their table, got " + derived);
        // 400 derivations append far more nodes than one pool holds: earlier tables read older pools or
        // older nodes of the current one, and must not have changed.
        for (int i = 0; i < views.size(); i++) {
            assertEquals(expected.get(i), answers(views.get(i).dispatch(), probes), "table of step " + i);
        }
    }

    @Test
    void secondDerivationFromOneTableIsAFullBuild() {
        MemorySystem sys = new MemorySystem();
        MemoryRegion a = new IoRegion(sys, null, null, "a", MemoryRegion.SIZE_2_64);
        MemoryRegion b = new IoRegion(sys, null, null, "b", MemoryRegion.SIZE_2_64);
        FlatView base = new FlatView(a, List.of(
                new FlatRange(0x1000, 0x3fff, a, 0, false, false, false, false, 0),
                new FlatRange(0x10000, 0x10fff, a, 0x3000, false, false, false, false, 0)));
        List<TopologyDirt.Window> w = List.of(new TopologyDirt.Window(Int128.ofUnsigned(0x2000), Int128.ofUnsigned(0x3000)));
        FlatRange[] first = {
            new FlatRange(0x1000, 0x1fff, a, 0, false, false, false, false, 0),
            new FlatRange(0x2000, 0x2fff, b, 0, false, false, false, false, 0),
            new FlatRange(0x3000, 0x3fff, a, 0x2000, false, false, false, false, 0),
            new FlatRange(0x10000, 0x10fff, a, 0x3000, false, false, false, false, 0)};
        FlatRange[] second = {
            new FlatRange(0x1000, 0x1fff, a, 0, false, false, false, false, 0),
            new FlatRange(0x3000, 0x3fff, a, 0x2000, false, false, false, false, 0),
            new FlatRange(0x10000, 0x10fff, a, 0x3000, false, false, false, false, 0)};
        long[] probes = {0, 0xfff, 0x1000, 0x1fff, 0x2000, 0x2800, 0x2fff, 0x3000, 0x3fff, 0x4000, 0x10000, 0x10fff,
            0x11000};
        FlatView v1 = FlatView.patched(a, first, base, w);
        assertTrue(v1.dispatch().pageMap().isIncremental(), "the first derivation edits the lineage's tree");
        List<String> v1Answers = answers(v1.dispatch(), probes);
        assertEquals(answers(AddressSpaceDispatch.build(List.of(first)), probes), v1Answers);
        FlatView v2 = FlatView.patched(a, second, base, w);
        assertFalse(v2.dispatch().pageMap().isIncremental(), "base's tree has moved on: full build");
        assertEquals(answers(AddressSpaceDispatch.build(List.of(second)), probes), answers(v2.dispatch(), probes));
        assertEquals(v1Answers, answers(v1.dispatch(), probes), "v1 unchanged by the second derivation");
        assertEquals(answers(AddressSpaceDispatch.build(base.ranges()), probes), answers(base.dispatch(), probes));
        // and v1's lineage is still derivable
        FlatView v3 = FlatView.patched(a, second, v1, w);
        assertTrue(v3.dispatch().pageMap().isIncremental());
        assertEquals(answers(AddressSpaceDispatch.build(List.of(second)), probes), answers(v3.dispatch(), probes));
    }
}
