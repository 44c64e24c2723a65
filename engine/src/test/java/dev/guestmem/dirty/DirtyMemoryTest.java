package dev.guestmem.dirty;

import static dev.guestmem.dirty.DirtyMemory.DIRTY_CLIENTS_ALL;
import static dev.guestmem.dirty.DirtyMemory.DIRTY_CLIENTS_NOCODE;
import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_BLOCK_SIZE;
import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_CODE;
import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_MIGRATION;
import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_VGA;
import static dev.guestmem.dirty.DirtyMemory.MASK_CODE;
import static dev.guestmem.dirty.DirtyMemory.MASK_MIGRATION;
import static dev.guestmem.dirty.DirtyMemory.MASK_VGA;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DirtyMemoryTest {
    private static final long PAGE = 4096;
    private static final long BLOCK_BYTES = (long) DIRTY_MEMORY_BLOCK_SIZE * PAGE; // 8 GiB
    private static final long BOUNDARY = BLOCK_BYTES;

    private static DirtyMemory twoBlocks() {
        DirtyMemory d = new DirtyMemory();
        d.extend(2 * BLOCK_BYTES);
        return d;
    }

    /** Dirty state of one page for one client, read through the single-page query. */
    private static boolean dirty(DirtyMemory d, long page, int client) {
        return d.getDirty(page * PAGE, PAGE, client);
    }

    @Test
    void clientConstantsMatchQemu() {
        assertEquals(1, MASK_VGA);
        assertEquals(2, MASK_CODE);
        assertEquals(4, MASK_MIGRATION);
        assertEquals(MASK_VGA | MASK_CODE | MASK_MIGRATION, DIRTY_CLIENTS_ALL);
        assertEquals(MASK_VGA | MASK_MIGRATION, DIRTY_CLIENTS_NOCODE);
        assertEquals(2_097_152, DIRTY_MEMORY_BLOCK_SIZE);
    }

    @Test
    void extendRoundsToWholeBlocksAndNeverShrinks() {
        DirtyMemory d = new DirtyMemory();
        assertEquals(0, d.sizeBytes());
        d.extend(1);
        assertEquals(BLOCK_BYTES, d.sizeBytes());
        d.extend(BLOCK_BYTES + 1);
        assertEquals(2 * BLOCK_BYTES, d.sizeBytes());
        d.extend(0);
        assertEquals(2 * BLOCK_BYTES, d.sizeBytes());
        assertThrows(IllegalArgumentException.class, () -> d.extend(-1));
        assertThrows(IllegalArgumentException.class, () -> d.extend(DirtyMemory.MAX_RAM_SIZE + 1));
    }

    @Test
    void extendKeepsBitsSetBefore() {
        DirtyMemory d = new DirtyMemory();
        d.extend(1);
        d.setDirtyRange(5 * PAGE, PAGE, MASK_MIGRATION);
        d.extend(3 * BLOCK_BYTES);
        assertTrue(dirty(d, 5, DIRTY_MEMORY_MIGRATION));
        assertFalse(dirty(d, 4, DIRTY_MEMORY_MIGRATION));
        assertFalse(d.getDirty(BLOCK_BYTES, 2 * BLOCK_BYTES, DIRTY_MEMORY_MIGRATION), "new blocks start clean");
    }

    @Test
    void partialPagesAtRangeEndsCoverWholePages() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(0x1fff, 2, MASK_VGA); // last byte of page 1, first byte of page 2
        assertFalse(dirty(d, 0, DIRTY_MEMORY_VGA));
        assertTrue(dirty(d, 1, DIRTY_MEMORY_VGA));
        assertTrue(dirty(d, 2, DIRTY_MEMORY_VGA));
        assertFalse(dirty(d, 3, DIRTY_MEMORY_VGA));

        d.setDirtyRange(0x10000, PAGE, MASK_VGA); // exactly one aligned page
        assertFalse(dirty(d, 0xf, DIRTY_MEMORY_VGA));
        assertTrue(dirty(d, 0x10, DIRTY_MEMORY_VGA));
        assertFalse(dirty(d, 0x11, DIRTY_MEMORY_VGA));
    }

    @Test
    void zeroLengthFollowsQemusFormula() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(0x5000, 0, MASK_VGA); // aligned: [5, 5) is empty
        assertFalse(d.getDirty(0, 0x10000, DIRTY_MEMORY_VGA));
        d.setDirtyRange(0x5001, 0, MASK_VGA); // unaligned: [5, alignUp(0x5001) >> 12 = 6)
        assertTrue(dirty(d, 5, DIRTY_MEMORY_VGA));
        assertFalse(dirty(d, 4, DIRTY_MEMORY_VGA));
        assertFalse(dirty(d, 6, DIRTY_MEMORY_VGA));
        assertTrue(d.allDirty(0x6000, 0, MASK_VGA), "empty range has no clean page");
    }

    @Test
    void maskSelectsClientsAndZeroMaskDoesNothing() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(0, 8 * PAGE, 0);
        for (int c = 0; c < 3; c++) {
            assertFalse(d.getDirty(0, 8 * PAGE, c));
        }
        d.setDirtyRange(0, 8 * PAGE, MASK_CODE);
        assertFalse(d.getDirty(0, 8 * PAGE, DIRTY_MEMORY_VGA));
        assertTrue(d.getDirty(0, 8 * PAGE, DIRTY_MEMORY_CODE));
        assertFalse(d.getDirty(0, 8 * PAGE, DIRTY_MEMORY_MIGRATION));
    }

    @Test
    void rangeCrossingBitmapBlockBoundary() {
        DirtyMemory d = twoBlocks();
        long start = BOUNDARY - 3 * PAGE + 100;
        d.setDirtyRange(start, 6 * PAGE, MASK_MIGRATION); // pages B-3 .. B+3 (7 pages)
        long b = DIRTY_MEMORY_BLOCK_SIZE;
        assertFalse(dirty(d, b - 4, DIRTY_MEMORY_MIGRATION));
        for (long p = b - 3; p <= b + 3; p++) {
            assertTrue(dirty(d, p, DIRTY_MEMORY_MIGRATION), "page " + p);
        }
        assertFalse(dirty(d, b + 4, DIRTY_MEMORY_MIGRATION));
        assertTrue(d.allDirty(BOUNDARY - 3 * PAGE, 7 * PAGE, MASK_MIGRATION));
        assertFalse(d.allDirty(BOUNDARY - 4 * PAGE, 8 * PAGE, MASK_MIGRATION));
        assertFalse(d.allDirty(BOUNDARY - 3 * PAGE, 8 * PAGE, MASK_MIGRATION));

        // Clear only the part in the second block.
        assertTrue(d.testAndClearDirty(BOUNDARY, 10 * PAGE, DIRTY_MEMORY_MIGRATION));
        assertTrue(dirty(d, b - 1, DIRTY_MEMORY_MIGRATION));
        assertFalse(d.getDirty(BOUNDARY, 10 * PAGE, DIRTY_MEMORY_MIGRATION));
        // Clear across the boundary.
        assertTrue(d.testAndClearDirty(BOUNDARY - 10 * PAGE, 20 * PAGE, DIRTY_MEMORY_MIGRATION));
        assertFalse(d.getDirty(BOUNDARY - 10 * PAGE, 20 * PAGE, DIRTY_MEMORY_MIGRATION));
    }

    @Test
    void wholeWordsAndLongRanges() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(63 * PAGE, 130 * PAGE, MASK_VGA); // pages 63..192: head, two full words, tail
        assertFalse(dirty(d, 62, DIRTY_MEMORY_VGA));
        assertTrue(d.allDirty(63 * PAGE, 130 * PAGE, MASK_VGA));
        assertFalse(dirty(d, 193, DIRTY_MEMORY_VGA));
        assertEquals(MASK_VGA, d.rangeIncludesClean(62 * PAGE, 2 * PAGE, MASK_VGA));
        assertEquals(0, d.rangeIncludesClean(64 * PAGE, 128 * PAGE, MASK_VGA));
    }

    @Test
    void rangeIncludesCleanReportsPerClient() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(0, 2 * PAGE, MASK_VGA);
        d.setDirtyRange(0, PAGE, MASK_MIGRATION);
        assertEquals(MASK_CODE, d.rangeIncludesClean(0, PAGE, DIRTY_CLIENTS_ALL));
        assertEquals(MASK_CODE | MASK_MIGRATION, d.rangeIncludesClean(0, 2 * PAGE, DIRTY_CLIENTS_ALL));
        assertEquals(MASK_MIGRATION, d.rangeIncludesClean(0, 2 * PAGE, DIRTY_CLIENTS_NOCODE));
        assertEquals(0, d.rangeIncludesClean(0, 2 * PAGE, 0));
        assertTrue(d.allDirty(0, 2 * PAGE, MASK_VGA));
        assertFalse(d.allDirty(PAGE, PAGE, MASK_MIGRATION));
    }

    @Test
    void badArgumentsThrowAndChangeNothing() {
        DirtyMemory d = twoBlocks();
        long limit = d.sizeBytes();
        assertThrows(IllegalArgumentException.class, () -> d.setDirtyRange(0, PAGE, 8));
        assertThrows(IllegalArgumentException.class, () -> d.setDirtyRange(0, PAGE, -1));
        assertThrows(IllegalArgumentException.class, () -> d.getDirty(0, PAGE, 3));
        assertThrows(IllegalArgumentException.class, () -> d.getDirty(0, PAGE, -1));
        assertThrows(IllegalArgumentException.class, () -> d.testAndClearDirty(0, PAGE, 3));
        assertThrows(IllegalArgumentException.class, () -> d.snapshotAndClearDirty(0, PAGE, 3));
        assertThrows(IllegalArgumentException.class, () -> d.setDirtyRange(limit - PAGE, PAGE + 1, MASK_VGA));
        assertThrows(IllegalArgumentException.class, () -> d.setDirtyRange(limit + PAGE, 0, MASK_VGA));
        assertThrows(IllegalArgumentException.class, () -> d.setDirtyRange(-PAGE, 2 * PAGE, MASK_VGA));
        assertThrows(IllegalArgumentException.class, () -> d.setDirtyRange(PAGE, -1L, MASK_VGA));
        assertThrows(IllegalArgumentException.class,
                () -> d.invalidateAndSetDirty(limit - PAGE, 2 * PAGE, DIRTY_CLIENTS_ALL, null));
        assertThrows(IllegalArgumentException.class, () -> d.newBlockDirty(PAGE, 2 * PAGE, PAGE));
        for (int c = 0; c < 3; c++) {
            assertFalse(d.getDirty(0, limit, c), "nothing was set by a rejected call");
        }
        // The last page is usable.
        d.setDirtyRange(limit - PAGE, PAGE, MASK_VGA);
        assertTrue(d.getDirty(limit - 1, 1, DIRTY_MEMORY_VGA));
        assertThrows(IllegalArgumentException.class, () -> new DirtyMemory().setDirtyRange(0, 1, MASK_VGA));
    }

    @Test
    void invalidateAndSetDirtyCallsCodeInvalidatorWhileCodeIsClean() {
        DirtyMemory d = twoBlocks();
        List<long[]> calls = new ArrayList<>();
        CodeInvalidator record = (a, l) -> calls.add(new long[] {a, l});

        d.invalidateAndSetDirty(0x3004, 4, DIRTY_CLIENTS_ALL, record);
        assertEquals(1, calls.size());
        assertEquals(0x3004, calls.get(0)[0]);
        assertEquals(4, calls.get(0)[1]);
        assertTrue(dirty(d, 3, DIRTY_MEMORY_VGA));
        assertTrue(dirty(d, 3, DIRTY_MEMORY_MIGRATION));
        assertFalse(dirty(d, 3, DIRTY_MEMORY_CODE), "CODE is left to the invalidator");

        // CODE still clean: every write invalidates again.
        d.invalidateAndSetDirty(0x3008, 4, DIRTY_CLIENTS_ALL, record);
        assertEquals(2, calls.size());

        // An invalidator that dropped the translations marks CODE dirty (tlb_unprotect_code).
        CodeInvalidator unprotect = (a, l) -> {
            calls.add(new long[] {a, l});
            d.setDirtyRange(a, l, MASK_CODE);
        };
        d.invalidateAndSetDirty(0x3008, 4, DIRTY_CLIENTS_ALL, unprotect);
        assertEquals(3, calls.size());
        assertTrue(dirty(d, 3, DIRTY_MEMORY_CODE));
        d.invalidateAndSetDirty(0x3008, 4, DIRTY_CLIENTS_ALL, record);
        assertEquals(3, calls.size(), "all dirty: nothing to invalidate");

        // Without CODE in the mask the invalidator is never called.
        d.invalidateAndSetDirty(0x9000, 4, DIRTY_CLIENTS_NOCODE, record);
        assertEquals(3, calls.size());
        assertTrue(dirty(d, 9, DIRTY_MEMORY_VGA));
        assertFalse(dirty(d, 9, DIRTY_MEMORY_CODE));

        // Mask 0: nothing at all.
        d.invalidateAndSetDirty(0xa000, 4, 0, record);
        assertEquals(3, calls.size());
        assertEquals(0, d.rangeIncludesClean(0xa000, 4, 0));
        assertFalse(dirty(d, 0xa, DIRTY_MEMORY_VGA));
    }

    @Test
    void invalidateAndSetDirtyRestrictsToCleanClients() {
        DirtyMemory d = twoBlocks();
        List<long[]> calls = new ArrayList<>();
        d.setDirtyRange(0x4000, PAGE, MASK_CODE | MASK_VGA);
        d.invalidateAndSetDirty(0x4000, 8, DIRTY_CLIENTS_ALL, (a, l) -> calls.add(new long[] {a, l}));
        assertTrue(calls.isEmpty(), "CODE already dirty: no translations to drop");
        assertTrue(dirty(d, 4, DIRTY_MEMORY_MIGRATION));
    }

    @Test
    void nullAndRegisteredInvalidators() {
        DirtyMemory d = twoBlocks();
        d.invalidateAndSetDirty(0x1000, 4, DIRTY_CLIENTS_ALL, null);
        assertTrue(dirty(d, 1, DIRTY_MEMORY_CODE), "no invalidator: nothing translated, CODE becomes dirty");

        d.invalidateAndSetDirty(0x2000, 4, DIRTY_CLIENTS_ALL);
        assertTrue(dirty(d, 2, DIRTY_MEMORY_CODE), "nothing registered behaves as null");

        long[] seen = new long[2];
        d.setCodeInvalidator((a, l) -> {
            seen[0] = a;
            seen[1] = l;
        });
        d.invalidateAndSetDirty(0x5ffe, 4, DIRTY_CLIENTS_ALL); // straddles pages 5 and 6
        assertEquals(0x5ffe, seen[0]);
        assertEquals(4, seen[1]);
        assertFalse(d.getDirty(0x5000, 2 * PAGE, DIRTY_MEMORY_CODE));
        assertTrue(d.allDirty(0x5000, 2 * PAGE, DIRTY_CLIENTS_NOCODE));
        d.setCodeInvalidator(null);
        assertEquals(null, d.codeInvalidator());
    }

    @Test
    void testAndClearClearsOneClientAndReports() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(0, 4 * PAGE, DIRTY_CLIENTS_ALL);
        long e0 = d.cleanEpoch();
        assertFalse(d.testAndClearDirty(8 * PAGE, 4 * PAGE, DIRTY_MEMORY_VGA));
        assertEquals(e0, d.cleanEpoch(), "nothing dirty: epoch unchanged");
        assertTrue(d.testAndClearDirty(PAGE, PAGE, DIRTY_MEMORY_VGA));
        assertNotEquals(e0, d.cleanEpoch());
        assertFalse(dirty(d, 1, DIRTY_MEMORY_VGA));
        assertTrue(dirty(d, 0, DIRTY_MEMORY_VGA));
        assertTrue(dirty(d, 2, DIRTY_MEMORY_VGA));
        assertTrue(dirty(d, 1, DIRTY_MEMORY_MIGRATION));
        assertFalse(d.testAndClearDirty(PAGE, PAGE, DIRTY_MEMORY_VGA));
        d.resetDirty(0, 4 * PAGE, DIRTY_MEMORY_MIGRATION);
        assertFalse(d.getDirty(0, 4 * PAGE, DIRTY_MEMORY_MIGRATION));
        assertTrue(d.getDirty(0, 4 * PAGE, DIRTY_MEMORY_CODE));
        d.clearDirtyRange(0, 4 * PAGE);
        for (int c = 0; c < 3; c++) {
            assertFalse(d.getDirty(0, 4 * PAGE, c));
        }
    }

    @Test
    void snapshotWindowIsRoundedTo64PagesAndClearedWhole() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(0, 300 * PAGE, MASK_MIGRATION);
        d.setDirtyRange(0, 300 * PAGE, MASK_VGA);
        // Request pages 70..129 (and a partial page 130): window is pages [64, 192).
        DirtyBitmapSnapshot s = d.snapshotAndClearDirty(70 * PAGE + 12, 60 * PAGE, DIRTY_MEMORY_MIGRATION);
        assertEquals(64 * PAGE, s.start());
        assertEquals(192 * PAGE, s.end());
        assertEquals(128, s.dirtyPageCount());
        assertTrue(s.getDirty(64 * PAGE, PAGE), "window pages outside the request are in the snapshot");
        assertTrue(s.getDirty(191 * PAGE, PAGE));
        // QEMU clears the whole window, not only the request.
        assertFalse(d.getDirty(64 * PAGE, 128 * PAGE, DIRTY_MEMORY_MIGRATION));
        assertTrue(dirty(d, 63, DIRTY_MEMORY_MIGRATION));
        assertTrue(dirty(d, 192, DIRTY_MEMORY_MIGRATION));
        assertTrue(d.allDirty(0, 300 * PAGE, MASK_VGA), "other clients untouched");

        // Already aligned: window equals the request; empty aligned request gives an empty window.
        DirtyBitmapSnapshot aligned = d.snapshotAndClearDirty(0, 64 * PAGE, DIRTY_MEMORY_MIGRATION);
        assertEquals(0, aligned.start());
        assertEquals(64 * PAGE, aligned.end());
        assertEquals(64, aligned.dirtyPageCount());
        DirtyBitmapSnapshot empty = d.snapshotAndClearDirty(128 * PAGE, 0, DIRTY_MEMORY_MIGRATION);
        assertEquals(empty.start(), empty.end());
        assertEquals(0, empty.dirtyPageCount());
        assertEquals(-1, empty.nextDirtyPage(0));
    }

    @Test
    void snapshotAcrossBlockBoundary() {
        DirtyMemory d = twoBlocks();
        long[] pages = {DIRTY_MEMORY_BLOCK_SIZE - 64, DIRTY_MEMORY_BLOCK_SIZE - 1, DIRTY_MEMORY_BLOCK_SIZE,
            DIRTY_MEMORY_BLOCK_SIZE + 70};
        for (long p : pages) {
            d.setDirtyRange(p * PAGE, 1, MASK_MIGRATION);
        }
        DirtyBitmapSnapshot s = d.snapshotAndClearDirty(BOUNDARY - 100 * PAGE, 200 * PAGE, DIRTY_MEMORY_MIGRATION);
        assertEquals(BOUNDARY - 128 * PAGE, s.start());
        assertEquals(BOUNDARY + 128 * PAGE, s.end());
        List<Long> seen = new ArrayList<>();
        s.forEachDirtyPage(a -> seen.add(a / PAGE));
        assertEquals(List.of(pages[0], pages[1], pages[2], pages[3]), seen);
        assertFalse(d.getDirty(s.start(), s.end() - s.start(), DIRTY_MEMORY_MIGRATION));
    }

    @Test
    void newBlockStartsDirtyForAllClientsAndResizeRedirties() {
        DirtyMemory d = new DirtyMemory();
        long off = BLOCK_BYTES - 8 * PAGE;
        d.newBlockDirty(off, 16 * PAGE, 64 * PAGE);
        assertEquals(2 * BLOCK_BYTES, d.sizeBytes(), "extended to cover maxLength");
        assertTrue(d.allDirty(off, 16 * PAGE, DIRTY_CLIENTS_ALL));
        assertEquals(0, d.rangeIncludesClean(off, 16 * PAGE, DIRTY_CLIENTS_ALL));
        assertFalse(d.getDirty(off + 16 * PAGE, 48 * PAGE, DIRTY_MEMORY_VGA), "beyond used length: clean");
        assertFalse(d.getDirty(0, off, DIRTY_MEMORY_CODE));

        d.resetDirty(off, 16 * PAGE, DIRTY_MEMORY_MIGRATION);
        d.resizeDirty(off, 16 * PAGE, 4 * PAGE); // shrink: clear old used length, re-dirty new one
        assertTrue(d.allDirty(off, 4 * PAGE, DIRTY_CLIENTS_ALL));
        for (int c = 0; c < 3; c++) {
            assertFalse(d.getDirty(off + 4 * PAGE, 12 * PAGE, c));
        }
        d.resizeDirty(off, 4 * PAGE, 32 * PAGE);
        assertTrue(d.allDirty(off, 32 * PAGE, DIRTY_CLIENTS_ALL));

        DirtyMemory d2 = new DirtyMemory();
        d2.newBlockDirty(0, 3 * PAGE);
        assertTrue(d2.allDirty(0, 3 * PAGE, DIRTY_CLIENTS_ALL));
        assertFalse(dirty(d2, 3, DIRTY_MEMORY_VGA));
    }

    @Test
    void cleanEpochAdvancesOnClearsAndInvalidatesStamps() {
        DirtyMemory d = twoBlocks();
        d.setDirtyRange(0, PAGE, DIRTY_CLIENTS_ALL);
        long e = d.cleanEpoch();
        assertEquals(0, e & 1, "even when no clear runs");
        assertTrue(d.allDirty(0, PAGE, DIRTY_CLIENTS_ALL));
        assertTrue(d.validateCleanEpoch(e));
        d.setDirtyRange(PAGE, PAGE, MASK_VGA);
        assertTrue(d.validateCleanEpoch(e), "sets do not disturb cached fast-path decisions");

        d.snapshotAndClearDirty(0, PAGE, DIRTY_MEMORY_MIGRATION);
        long e2 = d.cleanEpoch();
        assertFalse(d.validateCleanEpoch(e));
        assertEquals(e + 2, e2);
        assertFalse(d.validateCleanEpoch(e2 + 1), "odd stamps never validate");
        d.clearDirtyRange(0, PAGE);
        assertEquals(e2 + 2, d.cleanEpoch());
        d.snapshotAndClearDirty(0, PAGE, DIRTY_MEMORY_MIGRATION); // snapshots always advance
        assertEquals(e2 + 4, d.cleanEpoch());
    }

    @Test
    void epochIsOddWhileACodeInvalidatorCannotObserveIt() {
        // Invalidators run on the set path, never inside a clear: the epoch they see is even.
        DirtyMemory d = twoBlocks();
        long[] seen = {-1};
        d.invalidateAndSetDirty(0, 4, DIRTY_CLIENTS_ALL, (a, l) -> seen[0] = d.cleanEpoch());
        assertEquals(0, seen[0] & 1);
    }
}
