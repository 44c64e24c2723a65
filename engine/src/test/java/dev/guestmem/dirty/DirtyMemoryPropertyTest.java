package dev.guestmem.dirty;

import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_BLOCK_SIZE;
import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_NUM;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random sequences of operations on a window of 512 pages straddling the first bitmap-block
 * boundary, compared with a naive model: one {@link BitSet} per client, pages computed with QEMU's
 * formula {@code [addr >> 12, alignUp(addr + len) >> 12)} written out independently here.
 */
class DirtyMemoryPropertyTest {
    private static final long PAGE = 4096;
    private static final int PAGES = 512;
    /** First page of the window: 256 pages before the block boundary, 64-page aligned. */
    private static final long BASE = (DIRTY_MEMORY_BLOCK_SIZE - 256L) * PAGE;

    enum Kind { SET, INVALIDATE, TEST_AND_CLEAR, SNAPSHOT, GET_DIRTY, ALL_DIRTY }

    /** One operation: offset and length in bytes inside the window, arg = mask or client. */
    record Op(Kind kind, long offset, long length, int arg) {
    }

    @Provide
    Arbitrary<List<Op>> ops() {
        Arbitrary<Long> offset = Arbitraries.oneOf(
                Arbitraries.longs().between(0, PAGES * PAGE - 1),
                Arbitraries.longs().between(0, PAGES - 1).map(p -> p * PAGE),
                Arbitraries.longs().between(250, 262).map(p -> p * PAGE - 1)); // around the boundary
        Arbitrary<Long> length = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 16),
                Arbitraries.longs().between(0, 8 * PAGE),
                Arbitraries.longs().between(0, PAGES * PAGE));
        Arbitrary<Op> op = Combinators.combine(Arbitraries.of(Kind.class), offset, length,
                Arbitraries.integers().between(0, 7))
                .as((k, o, l, a) -> {
                    long len = Math.min(l, PAGES * PAGE - o);
                    int arg = switch (k) {
                        case TEST_AND_CLEAR, SNAPSHOT, GET_DIRTY -> a % DIRTY_MEMORY_NUM;
                        default -> a;
                    };
                    return new Op(k, o, len, arg);
                });
        return op.list().ofMinSize(1).ofMaxSize(40);
    }

    @Property
    void behavesLikeBitSetModel(@ForAll("ops") List<Op> ops) {
        DirtyMemory d = new DirtyMemory();
        d.extend(BASE + PAGES * PAGE);
        BitSet[] model = {new BitSet(PAGES), new BitSet(PAGES), new BitSet(PAGES)};
        List<long[]> invalidations = new ArrayList<>();

        for (Op op : ops) {
            long addr = BASE + op.offset();
            int first = (int) (op.offset() / PAGE);
            int end = (int) ((op.offset() + op.length() + PAGE - 1) / PAGE);
            switch (op.kind()) {
                case SET -> {
                    d.setDirtyRange(addr, op.length(), op.arg());
                    for (int c = 0; c < 3; c++) {
                        if ((op.arg() & (1 << c)) != 0) {
                            model[c].set(first, end);
                        }
                    }
                }
                case INVALIDATE -> {
                    int before = invalidations.size();
                    d.invalidateAndSetDirty(addr, op.length(), op.arg(), (a, l) -> invalidations.add(new long[] {a, l}));
                    int clean = 0;
                    for (int c = 0; c < 3; c++) {
                        if ((op.arg() & (1 << c)) != 0 && model[c].get(first, end).cardinality() < end - first) {
                            clean |= 1 << c;
                        }
                    }
                    if ((clean & DirtyMemory.MASK_CODE) != 0) {
                        assertEquals(before + 1, invalidations.size(), op.toString());
                        assertEquals(addr, invalidations.get(before)[0]);
                        assertEquals(op.length(), invalidations.get(before)[1]);
                        clean &= ~DirtyMemory.MASK_CODE;
                    } else {
                        assertEquals(before, invalidations.size(), op.toString());
                    }
                    for (int c = 0; c < 3; c++) {
                        if ((clean & (1 << c)) != 0) {
                            model[c].set(first, end);
                        }
                    }
                }
                case TEST_AND_CLEAR -> {
                    boolean expected = !model[op.arg()].get(first, end).isEmpty();
                    assertEquals(expected, d.testAndClearDirty(addr, op.length(), op.arg()), op.toString());
                    model[op.arg()].clear(first, end);
                }
                case GET_DIRTY -> assertEquals(!model[op.arg()].get(first, end).isEmpty(),
                        d.getDirty(addr, op.length(), op.arg()), op.toString());
                case ALL_DIRTY -> {
                    int clean = 0;
                    for (int c = 0; c < 3; c++) {
                        if ((op.arg() & (1 << c)) != 0 && model[c].get(first, end).cardinality() < end - first) {
                            clean |= 1 << c;
                        }
                    }
                    assertEquals(clean, d.rangeIncludesClean(addr, op.length(), op.arg()), op.toString());
                    assertEquals(clean == 0, d.allDirty(addr, op.length(), op.arg()), op.toString());
                }
                case SNAPSHOT -> {
                    DirtyBitmapSnapshot s = d.snapshotAndClearDirty(addr, op.length(), op.arg());
                    int wFirst = first / 64 * 64;
                    int wEnd = (end + 63) / 64 * 64;
                    assertEquals(BASE + wFirst * PAGE, s.start(), op.toString());
                    assertEquals(BASE + wEnd * PAGE, s.end(), op.toString());
                    BitSet got = new BitSet(PAGES);
                    s.forEachDirtyPage(a -> got.set((int) ((a - BASE) / PAGE)));
                    BitSet expected = model[op.arg()].get(wFirst, wEnd);
                    BitSet shifted = new BitSet(PAGES);
                    expected.stream().forEach(i -> shifted.set(i + wFirst));
                    assertEquals(shifted, got, op.toString());
                    assertEquals(shifted.cardinality(), s.dirtyPageCount());
                    for (int p = wFirst; p < wEnd; p++) {
                        assertEquals(model[op.arg()].get(p), s.getDirty(BASE + p * PAGE, PAGE));
                    }
                    model[op.arg()].clear(wFirst, wEnd);
                }
                default -> throw new AssertionError(op);
            }
        }
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < PAGES; p++) {
                assertEquals(model[c].get(p), d.getDirty(BASE + p * PAGE, PAGE, c), "client " + c + " page " + p);
            }
            assertEquals(model[c].isEmpty(), !d.getDirty(BASE, PAGES * PAGE, c));
        }
    }
}
