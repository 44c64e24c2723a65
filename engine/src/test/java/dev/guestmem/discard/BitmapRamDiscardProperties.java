package dev.guestmem.discard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * {@link BitmapRamDiscardManager} against a plain per-block model: random plugs and unplugs (valid or
 * not), then replays, {@code isPopulated} and what listeners heard, over random sections that start
 * and end anywhere (byte offsets).
 */
class BitmapRamDiscardProperties {
    private static final long BLK = 16 << 10;
    private static final int N = 32;
    private static final long SIZE = N * BLK;

    /** One request: plug or unplug {@code count} blocks from {@code first}. */
    record Op(boolean plug, int first, int count) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Op> op = Combinators.combine(Arbitraries.of(true, false), Arbitraries.integers().between(0, N + 1),
                Arbitraries.integers().between(0, 6)).as(Op::new);
        return op.list().ofMaxSize(40);
    }

    /** A listener that keeps the set of 4 KiB pages it was told are populated, and checks it is never told twice. */
    private static final class PageTracker implements RamDiscardListener {
        final BitSet pages = new BitSet();

        @Override
        public void notifyPopulate(MemoryRegionSection s) {
            for (long p = s.offsetWithinRegion() / 4096; p < (s.offsetWithinRegion() + s.size()) / 4096; p++) {
                if (pages.get((int) p)) {
                    throw new AssertionError("page " + p + " populated twice");
                }
                pages.set((int) p);
            }
        }

        @Override
        public void notifyDiscard(MemoryRegionSection s) {
            for (long p = s.offsetWithinRegion() / 4096; p < (s.offsetWithinRegion() + s.size()) / 4096; p++) {
                if (!pages.get((int) p)) {
                    throw new AssertionError("page " + p + " discarded while not populated");
                }
                pages.clear((int) p);
            }
        }
    }

    @Property
    void managerMatchesABlockModel(@ForAll("ops") List<Op> ops,
                                   @ForAll @IntRange(min = 0, max = (int) SIZE - 1) int secStart,
                                   @ForAll @IntRange(min = 1, max = (int) SIZE) int secLen,
                                   @ForAll @IntRange(min = 0, max = N * 4 - 1) int partStartPage,
                                   @ForAll @IntRange(min = 1, max = N * 4) int partPages) {
        MemorySystem sys = new MemorySystem();
        RamRegion mem = RamRegion.allocate(sys, null, "vmem", SIZE);
        try {
            BitmapRamDiscardManager m = BitmapRamDiscardManager.attach(mem, BLK);
            PageTracker whole = new PageTracker();
            PageTracker part = new PageTracker();
            long partOff = partStartPage * 4096L;
            long partLen = Math.min(partPages * 4096L, SIZE - partOff);
            m.registerListener(whole, DiscardSections.ofRegion(mem, 0, SIZE));
            m.registerListener(part, DiscardSections.ofRegion(mem, partOff, partLen));
            boolean[] model = new boolean[N];
            for (Op op : ops) {
                boolean valid = op.count() > 0 && op.first() + op.count() <= N;
                boolean stateOk = valid;
                for (int b = op.first(); valid && b < op.first() + op.count(); b++) {
                    stateOk &= model[b] != op.plug();
                }
                Runnable call = op.plug() ? () -> m.plug(op.first() * BLK, op.count() * BLK)
                        : () -> m.unplug(op.first() * BLK, op.count() * BLK);
                if (stateOk) {
                    call.run();
                    for (int b = op.first(); b < op.first() + op.count(); b++) {
                        model[b] = op.plug();
                    }
                } else {
                    Class<? extends RuntimeException> expected = valid ? DiscardStateException.class
                            : dev.guestmem.region.InvalidRangeException.class;
                    assertThrows(expected, call::run);
                }
            }
            long plugged = 0;
            BitSet expectWhole = new BitSet();
            for (int b = 0; b < N; b++) {
                if (model[b]) {
                    plugged += BLK;
                    expectWhole.set((int) (b * BLK / 4096), (int) ((b + 1) * BLK / 4096));
                }
            }
            assertEquals(plugged, m.pluggedSize());
            assertEquals(expectWhole, whole.pages);
            BitSet expectPart = (BitSet) expectWhole.clone();
            expectPart.and(range((int) (partOff / 4096), (int) ((partOff + partLen) / 4096)));
            assertEquals(expectPart, part.pages);

            long start = secStart;
            long len = Math.min(secLen, SIZE - start);
            MemoryRegionSection sec = new MemoryRegionSection(mem, null, start, len, 0x4000_0000L + start,
                    false, false, false);
            assertEquals(runs(model, start, len, true), replay(m, sec, true));
            assertEquals(runs(model, start, len, false), replay(m, sec, false));
            boolean all = true;
            for (long b = start / BLK; b <= (start + len - 1) / BLK; b++) {
                all &= model[(int) b];
            }
            assertEquals(all, m.isPopulated(sec));

            m.unregisterListener(part);
            assertEquals(new BitSet(), part.pages, "unregistering discards everything it was told");
            m.unplugAll();
            assertEquals(new BitSet(), whole.pages);
            m.unregisterListener(whole);
        } finally {
            DiscardMachine.detachAndDestroy(mem);
        }
    }

    private static BitSet range(int from, int to) {
        BitSet b = new BitSet();
        b.set(from, to);
        return b;
    }

    private static List<String> replay(BitmapRamDiscardManager m, MemoryRegionSection sec, boolean populated) {
        List<String> out = new ArrayList<>();
        RamDiscardReplay r = s -> out.add(s.offsetWithinRegion() + "+" + s.size() + "@" + s.offsetWithinAddressSpace());
        if (populated) {
            m.replayPopulated(sec, r);
        } else {
            m.replayDiscarded(sec, r);
        }
        return out;
    }

    /** The model's maximal runs in the given state, cut to {@code [start, start + len)}, ascending. */
    private static List<String> runs(boolean[] model, long start, long len, boolean state) {
        List<String> out = new ArrayList<>();
        long end = start + len;
        int b = 0;
        while (b < N) {
            if (model[b] != state) {
                b++;
                continue;
            }
            int e = b;
            while (e < N && model[e] == state) {
                e++;
            }
            long s = Math.max(start, b * BLK);
            long t = Math.min(end, e * BLK);
            if (s < t) {
                out.add(s + "+" + (t - s) + "@" + (0x4000_0000L + s));
            }
            b = e;
        }
        return out;
    }
}
