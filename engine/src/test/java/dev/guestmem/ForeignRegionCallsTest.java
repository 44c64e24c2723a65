package dev.guestmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.internal.SystemInternals;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.ForeignRegionException;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A region of one machine handed to another machine's dirty-log or lookup calls is refused, typed,
 * before any listener is called (it used to do nothing, or call this machine's global-sync
 * listeners for a region they never saw).
 */
class ForeignRegionCallsTest {
    private final MemorySystem mine = new MemorySystem();
    private final MemorySystem other = new MemorySystem();
    private final List<String> heard = new ArrayList<>();

    ForeignRegionCallsTest() {
        ContainerRegion root = new ContainerRegion(mine, null, "system", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, RamRegion.allocate(mine, null, "ram", 0x10000));
        mine.registerListener(new MemoryListener() {
            @Override
            public boolean syncsGlobally() {
                return true;
            }

            @Override
            public void logSyncGlobal(boolean lastStage) {
                heard.add("logSyncGlobal");
            }

            @Override
            public void logClear(MemoryRegionSection s) {
                heard.add("logClear");
            }
        }, mine.addressSpace(root, "memory"));
        heard.clear();
    }

    @Test
    void dirtyLogCallsRefuseAnotherMachinesRegion() {
        RamRegion foreign = RamRegion.allocate(other, null, "ram", 0x10000);
        ForeignRegionException e = assertThrows(ForeignRegionException.class, () -> mine.syncDirtyBitmap(foreign));
        assertTrue(e.getMessage().contains("'ram'"), e.getMessage());
        assertThrows(ForeignRegionException.class, () -> mine.syncDirtyBitmap(foreign, true));
        assertThrows(ForeignRegionException.class, () -> mine.clearDirtyBitmap(foreign, 0, 0x1000));
        // find is no public call any more; the engine's own path to it keeps the check
        assertThrows(ForeignRegionException.class, () -> SystemInternals.find(mine, foreign, 0, 0x1000));
        assertEquals(List.of(), heard, "no listener was called");
    }

    /** Control: the machine's own calls reach its listener; null still means every region. */
    @Test
    void ownCallsStillWork() {
        mine.syncDirtyBitmap(null);
        assertEquals(List.of("logSyncGlobal"), heard);
    }
}
