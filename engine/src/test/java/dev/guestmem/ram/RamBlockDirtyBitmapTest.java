package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link RamBlock#markDirtyFromBitmap} (QEMU's {@code cpu_physical_memory_set_dirty_lebitmap}) and
 * the last, partial page of a block whose used length is not page-aligned ({@link RamBlock#markWritten}).
 */
class RamBlockDirtyBitmapTest {
    private static final long PAGE = DirtyMemory.TARGET_PAGE_SIZE;

    /** A system with one RAM region at 0 and every client's bits clean. */
    private record Machine(MemorySystem sys, RamBlock block, List<long[]> invalidated) {
        static Machine of(boolean tcg, long size) {
            MemorySystem sys = new MemorySystem(tcg);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", size);
            ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            root.addSubregion(0, ram);
            List<long[]> inv = new ArrayList<>();
            sys.dirtyMemory().setCodeInvalidator((addr, len) -> inv.add(new long[] {addr, len}));
            Machine m = new Machine(sys, ram.ramBlock(), inv);
            m.clean();
            return m;
        }

        void clean() {
            for (int c = 0; c < DirtyMemory.DIRTY_MEMORY_NUM; c++) {
                sys.dirtyMemory().snapshotAndClearDirty(block.offset(), block.usedLength(), c);
            }
            invalidated.clear();
        }

        /** The dirty pages of a client, as offsets in the block, and clears them. */
        List<Long> dirty(int client) {
            DirtyBitmapSnapshot s = sys.dirtyMemory().snapshotAndClearDirty(block.offset(), block.usedLength(), client);
            List<Long> pages = new ArrayList<>();
            for (long off = 0; off < block.usedLength(); off += PAGE) {
                if (s.getDirty(block.offset() + off, PAGE)) {
                    pages.add(off / PAGE);
                }
            }
            return pages;
        }
    }

    @Test
    void markWrittenAcceptsARangeEndingInTheLastPartialPageAndClipsIt() {
        Machine m = Machine.of(true, 4 * PAGE - 100);
        m.block().markWritten(3 * PAGE, PAGE); // ends in the page-rounded used length
        assertEquals(List.of(3L), m.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
        assertEquals(List.of(3L), m.dirty(DirtyMemory.DIRTY_MEMORY_MIGRATION));
        assertEquals(1, m.invalidated().size());
        assertEquals(PAGE - 100, m.invalidated().get(0)[1], "clipped to the used length");
        assertThrows(InvalidRamBlockException.class, () -> m.block().markWritten(3 * PAGE, PAGE + 1));
        assertThrows(InvalidRamBlockException.class, () -> m.block().markWritten(4 * PAGE, 1));
        m.block().markWritten(4 * PAGE - 50, 50); // wholly in the partial page's tail: nothing to mark
        assertEquals(List.of(), m.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
    }

    @Test
    void bitmapMarksTheSetPagesForEveryClientUnderGlobalTrackingWithTcg() {
        Machine m = Machine.of(true, 200 * PAGE);
        m.sys().globalDirtyLogStart();
        m.clean();
        long[] bits = {0b1011L, 0, 1L << 63 | 1L}; // pages 0, 1, 3, then 128 and 191 (word 1 skipped)
        long n = m.block().markDirtyFromBitmap(2 * PAGE, bits, 192);
        assertEquals(5, n);
        List<Long> want = List.of(2L, 3L, 5L, 130L, 193L);
        assertEquals(want, m.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
        assertEquals(want, m.dirty(DirtyMemory.DIRTY_MEMORY_MIGRATION));
        long covered = 0;
        for (long[] inv : m.invalidated()) {
            covered += inv[1];
        }
        assertEquals(5 * PAGE, covered, "CODE marking invalidates translations, as markWritten does");
    }

    @Test
    void withoutGlobalTrackingMigrationIsLeftOutAndWithoutTcgCodeToo() {
        Machine tcg = Machine.of(true, 64 * PAGE);
        assertEquals(1, tcg.block().markDirtyFromBitmap(0, new long[] {1L << 7}, 64));
        assertEquals(List.of(7L), tcg.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
        assertEquals(List.of(), tcg.dirty(DirtyMemory.DIRTY_MEMORY_MIGRATION));
        assertEquals(1, tcg.invalidated().size(), "CODE: the page's translations are dropped");
        assertEquals(tcg.block().offset() + 7 * PAGE, tcg.invalidated().get(0)[0]);

        Machine kvm = Machine.of(false, 64 * PAGE);
        kvm.sys().globalDirtyLogStart();
        kvm.clean();
        kvm.block().markDirtyFromBitmap(0, new long[] {1L << 9}, 64);
        assertEquals(List.of(9L), kvm.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
        assertEquals(List.of(9L), kvm.dirty(DirtyMemory.DIRTY_MEMORY_MIGRATION));
        assertEquals(List.of(), kvm.invalidated(), "no CODE client without TCG: nothing to invalidate");
    }

    @Test
    void bitsBeyondPagesAreIgnored() {
        Machine m = Machine.of(true, 64 * PAGE);
        assertEquals(1, m.block().markDirtyFromBitmap(0, new long[] {-1L << 3 | 1}, 3));
        assertEquals(List.of(0L), m.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
    }

    @Test
    void theLastPartialPageIsAcceptedAndClipped() {
        Machine m = Machine.of(true, 4 * PAGE - 100);
        assertEquals(2, m.block().markDirtyFromBitmap(PAGE, new long[] {0b101}, 3));
        assertEquals(List.of(1L, 3L), m.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
        long last = 0;
        for (long[] inv : m.invalidated()) {
            last = Math.max(last, inv[0] + inv[1]);
        }
        assertEquals(m.block().offset() + 4 * PAGE - 100, last, "clipped to the used length");
    }

    @Test
    void badInputIsRefusedBeforeAnythingIsMarked() {
        Machine m = Machine.of(true, 4 * PAGE - 100);
        long[] all = {-1L};
        assertThrows(InvalidRamBlockException.class, () -> m.block().markDirtyFromBitmap(PAGE, all, 4));
        assertThrows(InvalidRamBlockException.class, () -> m.block().markDirtyFromBitmap(-PAGE, all, 1));
        assertThrows(InvalidRamBlockException.class, () -> m.block().markDirtyFromBitmap(1, all, 1));
        assertThrows(InvalidRamBlockException.class, () -> m.block().markDirtyFromBitmap(0, all, -1));
        assertThrows(InvalidRamBlockException.class, () -> m.block().markDirtyFromBitmap(0, new long[0], 1));
        assertThrows(InvalidRamBlockException.class,
                () -> m.block().markDirtyFromBitmap(0, all, Long.MAX_VALUE));
        assertEquals(List.of(), m.dirty(DirtyMemory.DIRTY_MEMORY_VGA));
        assertEquals(List.of(), m.invalidated());
        assertEquals(0, m.block().markDirtyFromBitmap(4 * PAGE, new long[0], 0), "an empty range at the end");
    }

    @Test
    void aBlockInNoListCountsButTellsNoOne() {
        RamBlock alone = RamBlock.anonymous("alone", 2 * PAGE);
        assertEquals(2, alone.markDirtyFromBitmap(0, new long[] {0b11}, 2));
        assertTrue(alone.usedLength() > 0);
    }
    /**
     * Random bitmaps (runs across word boundaries, whole words of ones, zero words, a tail cut by
     * {@code pages}) against bit-by-bit reference marking, at an offset into the block.
     */
    @Test
    void randomBitmapsMarkExactlyTheirSetPages() {
        Machine m = Machine.of(true, 400 * PAGE);
        java.util.Random rnd = new java.util.Random(12);
        long[][] shapes = {{-1L, -1L, 1L}, {1L << 63, 1L, 0, 1L << 63}, {-1L, 0, -1L}};
        for (int round = 0; round < 40; round++) {
            long[] bits = round < shapes.length ? shapes[round] : new long[1 + rnd.nextInt(5)];
            if (round >= shapes.length) {
                for (int i = 0; i < bits.length; i++) {
                    int kind = rnd.nextInt(4);
                    bits[i] = kind == 0 ? 0 : kind == 1 ? -1L : kind == 2 ? rnd.nextLong() : -1L << rnd.nextInt(64);
                }
            }
            long pages = bits.length * 64L - rnd.nextInt(64);
            long first = rnd.nextInt(400 - (int) pages + 1);
            List<Long> want = new ArrayList<>();
            for (long p = 0; p < pages; p++) {
                if ((bits[(int) (p >>> 6)] >>> (p & 63) & 1) != 0) {
                    want.add(first + p);
                }
            }
            assertEquals(want.size(), m.block().markDirtyFromBitmap(first * PAGE, bits, pages), "round " + round);
            assertEquals(want, m.dirty(DirtyMemory.DIRTY_MEMORY_VGA), "round " + round);
            m.clean();
        }
    }
}
