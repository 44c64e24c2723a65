package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A listener whose {@code logStop} throws while {@code globalDirtyLogStop} re-renders stops no
 * other call of the stop: every listener still hears {@code logGlobalStop} (the flags are off
 * already), then the throw reaches the caller. Before, the re-render's commit rethrew it at once and
 * no listener heard {@code logGlobalStop}, so each went on believing global logging was on.
 */
class GlobalDirtyLogStopFailureTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final List<String> heard = new ArrayList<>();

    private final MemoryListener thrower = new MemoryListener() {
        @Override
        public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
            throw new IllegalStateException("logStop failed");
        }
    };

    private final MemoryListener recorder = new MemoryListener() {
        @Override
        public int priority() {
            return 1;
        }

        @Override
        public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
            heard.add("logStop " + oldMask + "->" + newMask);
        }

        @Override
        public void logGlobalStop() {
            heard.add("logGlobalStop");
        }
    };

    @Test
    void aThrowingLogStopKeepsNoListenerFromHearingLogGlobalStop() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.globalDirtyLogStart();
        sys.registerListener(thrower, as);
        sys.registerListener(recorder, as);
        IllegalStateException thrown = assertThrows(IllegalStateException.class, sys::globalDirtyLogStop);
        assertEquals("logStop failed", thrown.getMessage());
        assertFalse(sys.isGlobalDirtyTracking());
        assertEquals(List.of("logStop 4->0", "logGlobalStop"), heard);
    }
}
