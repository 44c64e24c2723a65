package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code globalDirtyLogStart}/{@code Stop} called from a listener callback wait, like every other
 * call made there, until the notification under way is over (in call order with the other waiting
 * calls), and then do what the same call made outside a callback does: a start tells
 * {@code logGlobalStart} and then re-renders (the ranges' {@code logStart}), a stop re-renders
 * first ({@code logStop}) and then tells {@code logGlobalStop}, as QEMU's. Within the callback the
 * flags have not changed yet. Before, a listener whose {@code commit} had not come yet heard
 * {@code logGlobalStart}/{@code logGlobalStop} inside the update it was in, and a stop was told
 * before the update that took the MIGRATION bit off the ranges.
 */
class GlobalDirtyLogFromCallbackTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final List<String> heard = new ArrayList<>();
    private Runnable armed;

    /** First in priority order: its commit runs the armed call. */
    private final MemoryListener changer = new MemoryListener() {
        @Override
        public void commit() {
            Runnable r = armed;
            armed = null;
            if (r != null) {
                r.run();
            }
        }
    };

    /** Later in priority order: records the order of what it hears. */
    private final MemoryListener recorder = new MemoryListener() {
        @Override
        public int priority() {
            return 1;
        }

        @Override
        public void begin() {
            heard.add("begin");
        }

        @Override
        public void commit() {
            heard.add("commit");
        }

        @Override
        public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
            heard.add("logStart " + oldMask + "->" + newMask);
        }

        @Override
        public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
            heard.add("logStop " + oldMask + "->" + newMask);
        }

        @Override
        public void logSync(MemoryRegionSection s) {
            heard.add("logSync");
        }

        @Override
        public void logGlobalStart() {
            heard.add("logGlobalStart");
        }

        @Override
        public void logGlobalStop() {
            heard.add("logGlobalStop");
        }
    };

    @Test
    void aStartFromACommitIsToldAfterTheUpdate() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.registerListener(changer, as);
        sys.registerListener(recorder, as);
        heard.clear();
        armed = sys::globalDirtyLogStart;
        root.setReadonly(true); // an update whose commit starts global logging
        assertEquals(List.of("begin", "commit", "logGlobalStart", "begin", "logStart 0->4", "commit"), heard);
    }

    @Test
    void aStopFromACommitIsToldAfterTheRangesStopped() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.globalDirtyLogStart();
        sys.registerListener(changer, as);
        sys.registerListener(recorder, as);
        heard.clear();
        armed = sys::globalDirtyLogStop;
        root.setReadonly(true);
        assertEquals(List.of("begin", "commit", "begin", "logStop 4->0", "commit", "logGlobalStop"), heard);
    }

    @Test
    void aStartAndAStopFromOneCommitRunInCallOrder() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.registerListener(changer, as);
        sys.registerListener(recorder, as);
        heard.clear();
        List<Boolean> trackingInCallback = new ArrayList<>();
        armed = () -> {
            sys.globalDirtyLogStart();
            trackingInCallback.add(sys.isGlobalDirtyTracking());
            sys.globalDirtyLogStop(); // checked against the flags the waiting start leaves: accepted
            trackingInCallback.add(sys.isGlobalDirtyTracking());
        };
        root.setReadonly(true);
        assertEquals(List.of(false, false), trackingInCallback, "the flags change when the calls run");
        assertFalse(sys.isGlobalDirtyTracking());
        assertEquals(List.of("begin", "commit", "logGlobalStart", "begin", "logStart 0->4", "commit",
                "begin", "logStop 4->0", "commit", "logGlobalStop"), heard);
    }

    @Test
    void aStopFromACallbackIsCheckedAgainstTheFlagsTheWaitingCallsLeave() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.registerListener(changer, as);
        List<String> refused = new ArrayList<>();
        armed = () -> {
            sys.globalDirtyLogStart();
            sys.globalDirtyLogStop();
            refused.add(assertThrows(IllegalStateException.class, sys::globalDirtyLogStop).getMessage());
        };
        root.setReadonly(true);
        assertEquals(1, refused.size());
        assertFalse(sys.isGlobalDirtyTracking());
    }

    @Test
    void aRefusedStopFromACallbackNamesTheFlagsNowAndOnceTheWaitingCallsRun() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.globalDirtyLogStart();
        sys.registerListener(changer, as);
        List<String> refused = new ArrayList<>();
        armed = () -> {
            sys.globalDirtyLogStop();
            refused.add(assertThrows(IllegalStateException.class, sys::globalDirtyLogStop).getMessage());
        };
        root.setReadonly(true);
        assertEquals(List.of("global dirty flags 0x1 not all set (0x1 now, once the calls waiting from listener"
                + " callbacks have run 0x0)"), refused);
        assertFalse(sys.isGlobalDirtyTracking());
    }

    @Test
    void aStopFromALogSyncRunsOnceTheSyncIsOver() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.globalDirtyLogStart();
        List<Boolean> trackingInSync = new ArrayList<>();
        MemoryListener stopper = new MemoryListener() {
            @Override
            public void logSync(MemoryRegionSection s) {
                sys.globalDirtyLogStop();
                trackingInSync.add(sys.isGlobalDirtyTracking());
            }
        };
        sys.registerListener(stopper, as);
        sys.registerListener(recorder, as);
        heard.clear();
        sys.syncDirtyBitmap(null);
        assertEquals(List.of(true), trackingInSync);
        assertFalse(sys.isGlobalDirtyTracking());
        assertEquals(List.of("logSync", "begin", "logStop 4->0", "commit", "logGlobalStop"), heard);
    }

    @Test
    void aStartFromTheReplayOfAListenerOfEverySpaceRunsAfterIt() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        root2.addSubregion(0, RamRegion.allocate(sys, null, "ram2", 0x1000));
        sys.registerListener(changer, null);
        sys.registerListener(recorder, null);
        heard.clear();
        armed = sys::globalDirtyLogStart;
        sys.addressSpace(root2, "other"); // the changer's commit of its replay starts global logging
        assertEquals(List.of("begin", "commit", "logGlobalStart", "begin", "logStart 0->4", "logStart 0->4",
                "commit"), heard);
        assertTrue(sys.isGlobalDirtyTracking());
    }

    @Test
    void aStartAndStopFromCallbacksLeaveTheVgaClientAlone() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        root.addSubregion(0, ram);
        ram.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        ram.resetDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA);
        ram.setDirty(0, 4);
        sys.registerListener(changer, as);
        sys.registerListener(recorder, as);
        heard.clear();
        armed = sys::globalDirtyLogStart;
        root.setReadonly(true);
        armed = sys::globalDirtyLogStop;
        root.setReadonly(false);
        assertEquals(List.of("begin", "commit", "logGlobalStart", "begin", "logStart 1->5", "commit",
                "begin", "commit", "begin", "logStop 5->1", "commit", "logGlobalStop"), heard);
        assertTrue(ram.isLogging(MemoryRegion.DIRTY_MEMORY_VGA));
        assertEquals(1 << MemoryRegion.DIRTY_MEMORY_VGA, as.currentMap().range(0).dirtyLogMask());
        DirtyBitmapSnapshot snap = ram.snapshotAndClearDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA);
        assertTrue(ram.snapshotGetDirty(snap, 0, 4), "the VGA page dirtied before the start is still dirty");
    }

    @Test
    void aMigrationStartFromACallbackWhileDirtyRateTrackingIsOnTellsNothing() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.globalDirtyLogStart(MemorySystem.GLOBAL_DIRTY_DIRTY_RATE);
        sys.registerListener(changer, as);
        sys.registerListener(recorder, as);
        heard.clear();
        armed = () -> sys.globalDirtyLogStart(MemorySystem.GLOBAL_DIRTY_MIGRATION);
        root.setReadonly(true);
        assertEquals(MemorySystem.GLOBAL_DIRTY_DIRTY_RATE | MemorySystem.GLOBAL_DIRTY_MIGRATION,
                sys.globalDirtyTrackingFlags());
        armed = () -> sys.globalDirtyLogStop(MemorySystem.GLOBAL_DIRTY_MIGRATION);
        root.setReadonly(false);
        assertEquals(MemorySystem.GLOBAL_DIRTY_DIRTY_RATE, sys.globalDirtyTrackingFlags());
        assertEquals(List.of("begin", "commit", "begin", "commit"), heard, "dirty-rate tracking went on throughout");
        assertEquals(1 << MemoryRegion.DIRTY_MEMORY_MIGRATION, as.currentMap().range(0).dirtyLogMask());
    }

    @Test
    void aStopAndAStartFromALogSyncInsideATransactionRerenderAtTheCommit() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.globalDirtyLogStart();
        MemoryListener flipper = new MemoryListener() {
            @Override
            public void logSync(MemoryRegionSection s) {
                sys.globalDirtyLogStop();
                sys.globalDirtyLogStart();
            }
        };
        sys.registerListener(flipper, as);
        sys.registerListener(recorder, as);
        heard.clear();
        sys.transactionBegin();
        try {
            sys.syncDirtyBitmap(null);
            // As the same calls outside a callback in the transaction: told now, re-rendered at the commit.
            assertEquals(List.of("logSync", "logGlobalStop", "logGlobalStart"), heard);
            assertTrue(sys.isGlobalDirtyTracking());
        } finally {
            sys.transactionCommit();
        }
        assertEquals(List.of("logSync", "logGlobalStop", "logGlobalStart", "begin", "commit"), heard);
    }
}
