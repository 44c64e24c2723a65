package dev.guestmem.dirty;

import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_VGA;
import static dev.guestmem.dirty.DirtyMemory.MASK_VGA;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DirtyBitmapSnapshotTest {
    private static final long PAGE = 4096;

    /** Snapshot of the window [base, base + 256 pages) with the given pages (relative) dirty. */
    private static DirtyBitmapSnapshot snapshot(long base, long... pages) {
        DirtyMemory d = new DirtyMemory();
        d.extend(base + 1024 * PAGE);
        for (long p : pages) {
            d.setDirtyRange(base + p * PAGE, PAGE, MASK_VGA);
        }
        return d.snapshotAndClearDirty(base, 256 * PAGE, DIRTY_MEMORY_VGA);
    }

    @Test
    void subRangeQueries() {
        long base = 64 * PAGE * 5;
        DirtyBitmapSnapshot s = snapshot(base, 3, 64, 255);
        assertEquals(base, s.start());
        assertEquals(base + 256 * PAGE, s.end());
        assertFalse(s.getDirty(base, 3 * PAGE));
        assertTrue(s.getDirty(base, 3 * PAGE + 1), "partial page 3 counts");
        assertTrue(s.getDirty(base + 4 * PAGE - 1, 1));
        assertFalse(s.getDirty(base + 4 * PAGE, 60 * PAGE));
        assertTrue(s.getDirty(base + 4 * PAGE, 61 * PAGE));
        assertTrue(s.getDirty(base + 255 * PAGE, PAGE));
        assertTrue(s.getDirty(base, 256 * PAGE), "whole window");
        assertFalse(s.getDirty(base + 5 * PAGE, 0), "empty aligned range");
        assertTrue(s.getDirty(base + 3 * PAGE + 1, 0), "zero length at an unaligned address: its page");
    }

    @Test
    void subRangeOutsideSnapshotThrows() {
        long base = 64 * PAGE * 5;
        DirtyBitmapSnapshot s = snapshot(base, 0);
        assertThrows(IllegalArgumentException.class, () -> s.getDirty(base - 1, 2));
        assertThrows(IllegalArgumentException.class, () -> s.getDirty(base + 255 * PAGE, PAGE + 1));
        assertThrows(IllegalArgumentException.class, () -> s.getDirty(base + 256 * PAGE + 1, 0));
        assertThrows(IllegalArgumentException.class, () -> s.getDirty(base, -1L));
        assertThrows(IllegalArgumentException.class, () -> s.getDirty(-PAGE, 2 * PAGE));
        assertFalse(s.getDirty(base + 256 * PAGE, 0), "empty range at the end is inside");
    }

    @Test
    void iteratorsVisitDirtyPagesInOrder() {
        long base = 64 * PAGE * 3;
        long[] rel = {0, 1, 63, 64, 100, 128, 200, 255};
        DirtyBitmapSnapshot s = snapshot(base, rel);
        assertEquals(rel.length, s.dirtyPageCount());
        List<Long> forEach = new ArrayList<>();
        s.forEachDirtyPage(a -> forEach.add((a - base) / PAGE));
        List<Long> next = new ArrayList<>();
        for (long a = s.nextDirtyPage(s.start()); a >= 0; a = s.nextDirtyPage(a + PAGE)) {
            next.add((a - base) / PAGE);
        }
        List<Long> expected = new ArrayList<>();
        for (long r : rel) {
            expected.add(r);
        }
        assertEquals(expected, forEach);
        assertEquals(expected, next);
        assertEquals(base + 63 * PAGE, s.nextDirtyPage(base + 63 * PAGE + 1), "rounds down to its page");
        assertEquals(base + 100 * PAGE, s.nextDirtyPage(base + 65 * PAGE + 1));
        assertEquals(base, s.nextDirtyPage(0), "before the window: from its start");
        assertEquals(-1, s.nextDirtyPage(s.end()));
        long[] words = s.toLongArray();
        assertEquals(4, words.length);
        assertEquals(0x8000000000000003L, words[0]);
        words[0] = 0;
        assertArrayEquals(new long[] {0x8000000000000003L}, new long[] {s.toLongArray()[0]}, "copy, not view");
    }

    @Test
    void emptySnapshot() {
        DirtyBitmapSnapshot s = snapshot(0);
        assertEquals(0, s.dirtyPageCount());
        assertEquals(-1, s.nextDirtyPage(0));
        s.forEachDirtyPage(a -> {
            throw new AssertionError("no dirty page expected, got " + a);
        });
    }
}
