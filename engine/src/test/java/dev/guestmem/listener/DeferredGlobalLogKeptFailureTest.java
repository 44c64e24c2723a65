package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import org.junit.jupiter.api.Test;

/**
 * A global dirty-log start or stop asked for from a callback re-renders when it runs; a listener
 * that throws there has its throw kept by the address space's list. A destruction of that space
 * waiting behind it in the same batch takes the list away: the throw must still reach the caller.
 */
class DeferredGlobalLogKeptFailureTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion rootA = new ContainerRegion(sys, null, "rootA", -1L);
    private final ContainerRegion rootB = new ContainerRegion(sys, null, "rootB", -1L);
    private final AddressSpace asA = sys.addressSpace(rootA, "a");
    private final AddressSpace asB = sys.addressSpace(rootB, "b");
    private Runnable armed;

    /** Which of logStart and logStop throws for ramB (null: neither). */
    private String failOn;

    /** Of every address space; throws when a range of ramB starts or stops logging, as armed. */
    private final MemoryListener thrower = new MemoryListener() {
        @Override
        public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
            if (s.region().name().equals("ramB") && "logStart".equals(failOn)) {
                throw new IllegalStateException("logStart ramB failed");
            }
        }

        @Override
        public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
            if (s.region().name().equals("ramB") && "logStop".equals(failOn)) {
                throw new IllegalStateException("logStop ramB failed");
            }
        }
    };

    /** Runs the armed call from its logGlobalAfterSync (a notification). */
    private final MemoryListener caller = new MemoryListener() {
        @Override
        public void logGlobalAfterSync() {
            Runnable r = armed;
            armed = null;
            if (r != null) {
                r.run();
            }
        }
    };

    private void setUpRam() {
        rootA.addSubregion(0, RamRegion.allocate(sys, null, "ramA", 0x1000));
        rootB.addSubregion(0, RamRegion.allocate(sys, null, "ramB", 0x1000));
        sys.registerListener(thrower, null);
        sys.registerListener(caller, asA);
    }

    @Test
    void aStartsRerenderThrowIsNotLostWithTheSpaceDestroyedAfterIt() {
        setUpRam();
        failOn = "logStart";
        armed = () -> {
            sys.globalDirtyLogStart();
            sys.destroyAddressSpace(asB);
        };
        IllegalStateException thrown = assertThrows(IllegalStateException.class, sys::globalAfterDirtyLogSync);
        assertEquals("logStart ramB failed", thrown.getMessage());
        assertTrue(sys.isGlobalDirtyTracking());
        assertFalse(sys.addressSpaces().contains(asB));
    }

    @Test
    void aStopsRerenderThrowIsNotLostWithTheSpaceDestroyedAfterIt() {
        setUpRam();
        sys.globalDirtyLogStart();
        failOn = "logStop";
        armed = () -> {
            sys.globalDirtyLogStop();
            sys.destroyAddressSpace(asB); // ramB no longer logs: its removal replay has no logStop
        };
        IllegalStateException thrown = assertThrows(IllegalStateException.class, sys::globalAfterDirtyLogSync);
        assertEquals("logStop ramB failed", thrown.getMessage());
        assertFalse(sys.isGlobalDirtyTracking());
        assertFalse(sys.addressSpaces().contains(asB));
    }
}
