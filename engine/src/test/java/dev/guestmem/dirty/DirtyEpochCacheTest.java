package dev.guestmem.dirty;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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

    /**
     * A cache entry must never hit again at a later epoch. The clean epoch is a long that grows by 2
     * per clear; if entries kept only its low 32 bits, an entry left from epoch {@code e} would hit
     * again at {@code e + 2^32} (2^31 clears later: days of a display device's per-frame clears) and
     * a store to a page cleared in between would not be logged.
     */
    @Test
    void entryFromAnEpochTwoToThe32Ago() throws ReflectiveOperationException {
        DirtyMemory d = new DirtyMemory();
        d.newBlockDirty(0, 64 * PAGE);
        long addr = 5 * PAGE + 8;
        d.invalidateAndSetDirty(addr, 4, DirtyMemory.DIRTY_CLIENTS_ALL); // caches page 5 at epoch 0
        assertTrue(d.testAndClearDirty(addr, 4, DirtyMemory.DIRTY_MEMORY_MIGRATION)); // epoch 2
        // Stand-in for 2^31 - 1 more clears of other pages (each +2), too many to run in a test.
        VarHandle epoch = MethodHandles.privateLookupIn(DirtyMemory.class, MethodHandles.lookup())
                .findVarHandle(DirtyMemory.class, "cleanEpoch", long.class);
        epoch.setVolatile(d, 1L << 32);
        d.invalidateAndSetDirty(addr, 4, DirtyMemory.DIRTY_CLIENTS_ALL);
        assertTrue(d.getDirty(addr, 4, DirtyMemory.DIRTY_MEMORY_MIGRATION), "store after the clear not logged");
    }
}
