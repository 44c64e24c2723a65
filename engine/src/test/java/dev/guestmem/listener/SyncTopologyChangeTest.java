package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A topology change made from a dirty-log callback ({@code logSync}, {@code logClear}): like one made
 * at commit time, it waits until the sync (or clear, or the whole snapshot) is over, so the rest of
 * it visits the view it began with, and then every listener hears it once, as an update of its own.
 */
class SyncTopologyChangeTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final RamRegion v1 = RamRegion.allocate(sys, null, "v1", 0x1000);
    private final RamRegion v2 = RamRegion.allocate(sys, null, "v2", 0x1000);
    private final RamRegion c = RamRegion.allocate(sys, null, "c", 0x1000);
    private final List<String> log = new ArrayList<>();
    /** What the mover does on its first dirty-log callback; null once done. */
    private Runnable change;

    /** Records what it hears; the mover (priority 0) also makes {@link #change} from its first sync or clear. */
    private class Recorder implements MemoryListener {
        final String name;
        final int priority;

        Recorder(String name, int priority) {
            this.name = name;
            this.priority = priority;
        }

        @Override
        public int priority() {
            return priority;
        }

        private String at(MemoryRegionSection s) {
            return s.region().name() + "@" + Long.toHexString(s.offsetWithinAddressSpace());
        }

        @Override
        public void begin() {
            log.add(name + " begin");
        }

        @Override
        public void commit() {
            log.add(name + " commit");
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            log.add(name + " add " + at(s));
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            log.add(name + " del " + at(s));
        }

        @Override
        public void logSync(MemoryRegionSection s) {
            log.add(name + " sync " + at(s));
            changeOnce();
        }

        @Override
        public void logClear(MemoryRegionSection s) {
            log.add(name + " clear " + at(s));
            changeOnce();
        }

        @Override
        public void logGlobalAfterSync() {
            log.add(name + " after-sync");
        }

        private void changeOnce() {
            if (priority == 0 && change != null) {
                Runnable r = change;
                change = null;
                r.run();
            }
        }
    }

    @BeforeEach
    void setUp() {
        root.addSubregion(0, v1);
        root.addSubregion(0x10000, v2);
        v1.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        v2.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        sys.registerListener(new Recorder("mover", 0), as);
        sys.registerListener(new Recorder("watcher", 1), as);
        log.clear();
    }

    private void assertPublishedIsFresh() {
        assertEquals(FlatViewRenderer.render(FlatViewRoots.of(root)), as.currentMap().ranges());
    }

    @Test
    void aGlobalSyncVisitsTheViewItBeganWithThenTheChangeIsHeardOnce() {
        change = () -> {
            v2.setAddress(0x30000);
            root.addSubregion(0x20000, c);
        };

        sys.globalDirtyLogSync(false);

        assertEquals(List.of(
                "mover sync v1@0", "mover sync v2@10000", "watcher sync v1@0", "watcher sync v2@10000",
                "mover begin", "watcher begin",
                "watcher del v2@10000", "mover del v2@10000",
                "mover add c@20000", "watcher add c@20000", "mover add v2@30000", "watcher add v2@30000",
                "mover commit", "watcher commit"), log);
        assertEquals(0x30000, v2.addr());
        assertTrue(c.isMapped());
        assertPublishedIsFresh();
        log.clear();
        sys.globalDirtyLogSync(false);
        assertEquals(List.of("mover sync v1@0", "mover sync v2@30000", "watcher sync v1@0", "watcher sync v2@30000"),
                log, "the next sync sees the new view");
    }

    @Test
    void aSnapshotWhoseSyncMovesTheRegionClearsTheRangesItSyncedThenMovesIt() {
        change = () -> v2.setAddress(0x30000);

        v2.snapshotAndClearDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA);

        assertEquals(List.of(
                "mover sync v2@10000", "watcher sync v2@10000",
                "mover clear v2@10000", "watcher clear v2@10000",
                "mover after-sync", "watcher after-sync",
                "mover begin", "watcher begin",
                "watcher del v2@10000", "mover del v2@10000",
                "mover add v2@30000", "watcher add v2@30000",
                "mover commit", "watcher commit"), log);
        assertEquals(0x30000, v2.addr());
        assertPublishedIsFresh();
    }

    @Test
    void aClearThatMapsARegionIsHeardAfterTheClear() {
        change = () -> root.addSubregion(0x20000, c);

        v1.resetDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA);

        assertEquals(List.of(
                "mover clear v1@0", "watcher clear v1@0",
                "mover begin", "watcher begin",
                "mover add c@20000", "watcher add c@20000",
                "mover commit", "watcher commit"), log);
        assertTrue(c.isMapped());
        assertPublishedIsFresh();
    }

    @Test
    void aSyncThatThrowsAfterChangingTheTopologyStillRunsTheChange() {
        MemoryListener thrower = new MemoryListener() {
            @Override
            public int priority() {
                return 2;
            }

            @Override
            public void logSync(MemoryRegionSection s) {
                throw new IllegalStateException("sync failed");
            }
        };
        sys.registerListener(thrower, as);
        log.clear();
        change = () -> root.addSubregion(0x20000, c);

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> sys.globalDirtyLogSync(false));

        assertEquals("sync failed", e.getMessage());
        assertTrue(c.isMapped());
        assertPublishedIsFresh();
        assertTrue(log.contains("watcher add c@20000"), log.toString());
    }
}
