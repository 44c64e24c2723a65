package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A dirty-log callback that throws ({@code logSync}, {@code logSyncGlobal}, {@code logClear}) is
 * treated like every other listener callback: every listener is still told, for every range, and the
 * first throw (later ones suppressed in it) reaches the caller afterwards, after the changes the
 * callbacks asked for have run.
 */
class DirtyLogFailureTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final RamRegion v1 = RamRegion.allocate(sys, null, "v1", 0x1000);
    private final RamRegion v2 = RamRegion.allocate(sys, null, "v2", 0x1000);
    private final RamRegion c = RamRegion.allocate(sys, null, "c", 0x1000);
    private final List<String> log = new ArrayList<>();
    private final IllegalStateException syncBoom = new IllegalStateException("sync failed");
    private final IllegalStateException clearBoom = new IllegalStateException("clear failed");
    private final IllegalStateException ringBoom = new IllegalStateException("ring failed");

    /** Priority 0: throws on every sync and clear, after recording it; maps {@code c} on its first sync. */
    private final MemoryListener thrower = new MemoryListener() {
        @Override
        public int priority() {
            return 0;
        }

        @Override
        public void logSync(MemoryRegionSection s) {
            log.add("thrower sync " + s.region().name());
            if (c.container() == null) {
                root.addSubregion(0x20000, c); // deferred until the sync is over
            }
            throw syncBoom;
        }

        @Override
        public void logClear(MemoryRegionSection s) {
            log.add("thrower clear " + s.region().name());
            throw clearBoom;
        }
    };

    /** Priority 1: a dirty ring that throws too. */
    private final MemoryListener ring = new MemoryListener() {
        @Override
        public int priority() {
            return 1;
        }

        @Override
        public boolean syncsGlobally() {
            return true;
        }

        @Override
        public void logSyncGlobal(boolean lastStage) {
            log.add("ring sync");
            throw ringBoom;
        }
    };

    /** Priority 2: records. */
    private final MemoryListener watcher = new MemoryListener() {
        @Override
        public int priority() {
            return 2;
        }

        @Override
        public void logSync(MemoryRegionSection s) {
            log.add("watcher sync " + s.region().name());
        }

        @Override
        public void logClear(MemoryRegionSection s) {
            log.add("watcher clear " + s.region().name());
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            log.add("watcher add " + s.region().name());
        }
    };

    @BeforeEach
    void setUp() {
        root.addSubregion(0, v1);
        root.addSubregion(0x10000, v2);
        v1.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        v2.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        sys.registerListener(thrower, as);
        sys.registerListener(ring, as);
        sys.registerListener(watcher, as);
        log.clear();
    }

    @Test
    void aThrowingSyncStopsNoOtherSyncAndTheFirstThrowComesAfterTheDeferredChange() {
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> sys.globalDirtyLogSync(false));

        assertSame(syncBoom, thrown, "the first throw reaches the caller");
        assertEquals(List.of(ringBoom), List.of(thrown.getSuppressed()),
                "the ring's throw is suppressed in it; the thrower's second throw is the same object");
        assertEquals(List.of("thrower sync v1", "thrower sync v2", "ring sync", "watcher sync v1", "watcher sync v2",
                "watcher add c"), log, "every listener synced every range, then the deferred change ran");
        assertTrue(c.isMapped());
    }

    @Test
    void aThrowingClearStopsNoOtherClear() {
        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> v1.resetDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA));

        assertSame(clearBoom, thrown);
        assertEquals(List.of("thrower clear v1", "watcher clear v1"), log);
    }

    @Test
    void aSnapshotWhoseSyncThrowsSyncsEveryListenerAndClearsNothing() {
        DirtyMemory dirty = sys.dirtyMemory();
        long base = v2.ramBlock().offset();
        dirty.setDirtyRange(base, 0x1000, 1 << DirtyMemory.DIRTY_MEMORY_VGA);

        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> v2.snapshotAndClearDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA));

        assertSame(syncBoom, thrown);
        assertEquals(List.of("thrower sync v2", "ring sync", "watcher sync v2", "watcher add c"), log,
                "every listener synced; no clear, no after-sync, then the deferred change");
        assertTrue(dirty.getDirty(base, 0x1000, DirtyMemory.DIRTY_MEMORY_VGA),
                "the bits stay for the next snapshot: nothing the failed sync returned is lost");
    }
}
