package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import org.junit.jupiter.api.Test;

/**
 * {@code RamList.remove} on a system's list: QEMU takes a block out of {@code ram_list} only when its
 * region is finalized, so a block a region still stands on is refused (and stays listed, with its
 * notifiers re-rendering the views), while a block no region uses, or one whose regions are
 * finalized, leaves as before.
 */
class RamListRemoveContractTest {
    private static final long BASE = 0x10_0000L;

    private static boolean faultProneAt(AddressSpace as, long addr) {
        return (as.dispatch().lookupRegion(addr, true).flags() & PhysSection.FAULT_PRONE) != 0;
    }

    @Test
    void aBlockALiveRegionStandsOnIsRefusedAndStaysListed() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
            root.addSubregion(BASE, ram);
            AddressSpace as = sys.addressSpace(root, "as");
            RamBlock b = ram.ramBlock();
            long offset = b.offset();
            assertThrows(IllegalStateException.class, () -> sys.ramList().remove(b));
            assertSame(sys.ramList(), b.ramList(), "nothing changed");
            assertTrue(sys.ramList().blocks().contains(b));
            assertEquals(offset, b.offset());
            assertSame(b, sys.ramList().blockFromRamAddr(offset));
            // the list's notifiers still reach the system: a fault-prone hold re-renders its views
            FaultProneHold h = b.holdFaultProne("test");
            assertTrue(faultProneAt(as, BASE), "the hold's first take re-rendered the view");
            h.close();
            assertTrue(!faultProneAt(as, BASE), "and its last release too");
        }
    }

    @Test
    void aRegionThatIsOnlyUnmappedStillRefusesAndAFinalizedOneLetsTheBlockGo() {
        try (MemorySystem sys = new MemorySystem(); RamBlock b = RamBlock.anonymous("user", 0x10000)) {
            sys.ramList().add(b);
            ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
            sys.addressSpace(root, "as");
            RamRegion r = new RamRegion(sys, null, "over-user", b, false, false);
            root.addSubregion(BASE, r);
            root.delSubregion(r);
            assertThrows(IllegalStateException.class, () -> sys.ramList().remove(b), "not finalized yet");
            r.destroy();                                  // no view shows it: finalized now
            assertTrue(sys.ramList().remove(b));
            assertNull(b.ramList());
        }
    }

    @Test
    void aBlockNoRegionUsesIsRemovedAsBefore() {
        try (MemorySystem sys = new MemorySystem(); RamBlock b = RamBlock.anonymous("spare", 0x10000)) {
            sys.ramList().add(b);
            assertTrue(sys.ramList().remove(b));
            assertNull(b.ramList());
        }
    }

    @Test
    void closeStillTakesEveryBlockOutOfTheClosedMachinesList() {
        RamBlock b = RamBlock.anonymous("user", 0x10000);
        try (b) {
            MemorySystem sys = new MemorySystem();
            sys.ramList().add(b);
            ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
            root.addSubregion(BASE, new RamRegion(sys, null, "over-user", b, false, false));
            sys.addressSpace(root, "as");
            sys.close();
            assertNull(b.ramList(), "the block can back another machine");
        }
    }
}
