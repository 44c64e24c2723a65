package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * QEMU's dirty-sync hooks: {@code log_sync(section, last_stage)} per logging range,
 * {@code log_sync_global} for a listener that syncs everything at once, {@code log_global_after_sync}.
 */
class DirtySyncHooksTest {
    private final List<String> log = new ArrayList<>();
    private MemorySystem sys;
    private RamRegion vram;

    private final class PerRange implements MemoryListener {
        @Override
        public void logSync(MemoryRegionSection s, boolean lastStage) {
            log.add("sync " + s.region().name() + (lastStage ? " last" : ""));
        }

        @Override
        public void logGlobalAfterSync() {
            log.add("after-sync");
        }
    }

    private final class Ring implements MemoryListener {
        @Override
        public boolean syncsGlobally() {
            return true;
        }

        @Override
        public void logSync(MemoryRegionSection s) {
            log.add("ring must not get per-range syncs");
        }

        @Override
        public void logSyncGlobal(boolean lastStage) {
            log.add("ring sync" + (lastStage ? " last" : ""));
        }
    }

    @BeforeEach
    void setUp() {
        sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
        vram = RamRegion.allocate(sys, null, "vram", 0x10000);
        root.addSubregion(0, ram);
        root.addSubregion(0x100000, vram);
        vram.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        sys.registerListener(new PerRange(), as);
        sys.registerListener(new Ring(), as);
    }

    @Test
    void aRegionSyncReachesItsLoggingRangesAndEveryGlobalSyncer() {
        vram.snapshotAndClearDirty(0, 0x10000, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(List.of("sync vram", "ring sync", "after-sync"), log);
    }

    @Test
    void aGlobalSyncCoversEveryLoggingRangeAndCarriesTheLastStage() {
        sys.globalDirtyLogStart(); // ram logs too now (MIGRATION)
        log.clear();
        sys.globalDirtyLogSync(true);
        sys.globalAfterDirtyLogSync();
        assertEquals(List.of("sync ram last", "sync vram last", "ring sync last", "after-sync"), log);
        sys.globalDirtyLogStop();
    }

    @Test
    void theOldSyncEntryPointIsNotTheLastStage() {
        sys.syncDirtyBitmap(null);
        assertEquals(List.of("sync vram", "ring sync"), log);
    }
}
