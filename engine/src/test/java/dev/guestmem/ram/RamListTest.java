package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/** ram_addr placement (QEMU's find_ram_offset), lookups and notifiers. */
class RamListTest {
    private static final long A = RamList.OFFSET_ALIGN; // 256 KiB

    @Test
    void placementFollowsQemu() {
        // Empty list: 0.
        assertEquals(0, RamList.findRamOffset(new long[0], new long[0], 1));
        // After [0, 0x1000): the end rounded up to 64 pages.
        assertEquals(A, RamList.findRamOffset(new long[] {0}, new long[] {0x1000}, 0x1000));
        // Gaps [A, 4A) (3A) and [5A, inf): a 1A block takes the smaller, first gap.
        assertEquals(A, RamList.findRamOffset(new long[] {0, 4 * A}, new long[] {A, A}, A));
        // A 4A block does not fit in the 3A gap: it goes after the last block.
        assertEquals(5 * A, RamList.findRamOffset(new long[] {0, 4 * A}, new long[] {A, A}, 4 * A));
        // Best fit, not first fit: gaps of 3A at A and of 1A at 6A; a 1A block takes 6A.
        assertEquals(6 * A, RamList.findRamOffset(new long[] {0, 4 * A, 7 * A}, new long[] {A, 2 * A, A}, A));
        // The space before the first block is never a candidate (QEMU only looks after blocks).
        assertEquals(9 * A, RamList.findRamOffset(new long[] {8 * A}, new long[] {A}, A));
        // Nothing fits before 2^64.
        assertEquals(RamBlock.RAM_ADDR_INVALID, RamList.findRamOffset(new long[] {0}, new long[] {-A}, 2 * A));
        assertThrows(IllegalArgumentException.class, () -> RamList.findRamOffset(new long[0], new long[0], 0));
    }

    @Property
    void placementIsAlignedDisjointAndBestFit(@ForAll("ops") List<long[]> ops) {
        List<long[]> placed = new ArrayList<>(); // {offset, length}
        for (long[] op : ops) {
            if (op[0] == 0) {
                if (!placed.isEmpty()) {
                    placed.remove((int) (op[1] % placed.size()));
                }
                continue;
            }
            long size = op[1];
            long[] offs = placed.stream().mapToLong(p -> p[0]).toArray();
            long[] lens = placed.stream().mapToLong(p -> p[1]).toArray();
            long at = RamList.findRamOffset(offs, lens, size);
            assertTrue(at != RamBlock.RAM_ADDR_INVALID);
            assertEquals(0, at % A, "starts on a bitmap long");
            for (long[] p : placed) {
                assertTrue(at + size <= p[0] || p[0] + p[1] <= at, "overlaps a placed block");
            }
            if (!placed.isEmpty()) {
                long chosenGap = gapAt(placed, at);
                for (long[] p : placed) {
                    long c = (p[0] + p[1] + A - 1) / A * A;
                    long g = gapAt(placed, c);
                    assertTrue(g < size || g >= chosenGap, "a smaller fitting gap existed at " + c);
                }
            }
            placed.add(new long[] {at, size});
        }
    }

    /** Free bytes from {@code start} to the next block start at or after it (naive scan). */
    private static long gapAt(List<long[]> placed, long start) {
        long next = Long.MAX_VALUE;
        for (long[] p : placed) {
            if (p[0] >= start) {
                next = Math.min(next, p[0]);
            }
        }
        return next - start;
    }

    @Provide
    Arbitrary<List<long[]>> ops() {
        Arbitrary<long[]> add = Arbitraries.longs().between(1, 40 * A).map(s -> new long[] {1, s});
        Arbitrary<long[]> remove = Arbitraries.longs().between(0, 1000).map(i -> new long[] {0, i});
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(3, add), net.jqwik.api.Tuple.of(1, remove)).list().ofMaxSize(30);
    }

    @Test
    void addRejectsDuplicatesAndReportsNotifications() {
        RamList list = new RamList();
        List<String> events = new ArrayList<>();
        try (RamBlock a = RamBlock.anonymous("a", 0x3000); RamBlock b = RamBlock.anonymous("b", 0x1000)) {
            list.add(a);
            list.addNotifier(new RamBlockNotifier() {
                @Override
                public void ramBlockAdded(RamBlock block) {
                    events.add("+" + block.idstr() + "@" + Long.toHexString(block.offset()));
                }

                @Override
                public void ramBlockRemoved(RamBlock block) {
                    events.add("-" + block.idstr());
                }
            });
            assertEquals(List.of("+a@0"), events, "a new notifier hears of existing blocks");
            assertEquals(A, list.add(b));
            try (RamBlock dup = RamBlock.anonymous("a", 0x1000)) {
                assertThrows(InvalidRamBlockException.class, () -> list.add(dup));
            }
            assertThrows(InvalidRamBlockException.class, () -> list.add(b), "already listed");
            assertTrue(list.remove(a));
            assertEquals(List.of("+a@0", "+b@40000", "-a"), events);
            assertNull(list.blockFromRamAddr(0));
            assertEquals(b, list.blockFromRamAddr(A + 5));
            assertEquals((A + 0x1000) / 4096, list.lastRamPage());
            // With "a" gone QEMU still places after the remaining block, not at 0.
            try (RamBlock c = RamBlock.anonymous("c", 0x1000)) {
                assertEquals(2 * A, list.add(c));
            }
        }
        assertTrue(list.blocks().isEmpty());
        assertEquals(List.of("+a@0", "+b@40000", "-a", "+c@80000", "-c", "-b"), events, "closing a block removes it");
    }
}
