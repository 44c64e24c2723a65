package dev.guestmem.dirty;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The all-dirty epoch cache of {@link DirtyMemory#invalidateAndSetDirty}: re-armed by every clear. */
class DirtyEpochCacheTest {
    private static final long PAGE = DirtyMemory.TARGET_PAGE_SIZE;

    @Test
    void writeAfterEachKindOfClearIsLoggedAgain() {
        DirtyMemory d = new DirtyMemory();
        d.newBlockDirty(0, 64 * PAGE); // every page dirty for every client
        long addr = 5 * PAGE + 8;
        for (int round = 0; round < 3; round++) {
            // two writes: the first fills the cache entry, the second hits it
            d.invalidateAndSetDirty(addr, 4, DirtyMemory.DIRTY_CLIENTS_ALL);
            d.invalidateAndSetDirty(addr, 4, DirtyMemory.DIRTY_CLIENTS_ALL);
            for (int c = 0; c < DirtyMemory.DIRTY_MEMORY_NUM; c++) {
                assertTrue(d.getDirty(addr, 4, c), "round " + round + " client " + c);
            }
            switch (round) {
                case 0 -> d.clearDirtyRange(0, 64 * PAGE);
                case 1 -> assertTrue(d.testAndClearDirty(addr, 4, 2));
                default -> d.resetDirty(0, 64 * PAGE, 0);
            }
            if (round == 0) {
                assertFalse(d.getDirty(addr, 4, 2));
            }
            d.invalidateAndSetDirty(addr, 4, DirtyMemory.DIRTY_CLIENTS_ALL);
            for (int c = 0; c < DirtyMemory.DIRTY_MEMORY_NUM; c++) {
                assertTrue(d.getDirty(addr, 4, c), "after clear, round " + round + " client " + c);
            }
        }
    }
}
