package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
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
 * {@code addressSpace(root, name)} while a listener of every address space throws from its replay
 * of the new space: the caller gets the throw, so it must not be left with a space it holds no
 * handle to. The space is taken down again: gone from {@code addressSpaces()}, every listener that
 * heard it appear hears it go, the root's reference given back.
 */
class AddressSpaceCreationFailureTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
    private final RamRegion c = RamRegion.allocate(sys, null, "c", 0x1000);
    private final List<String> seen = new ArrayList<>();

    private MemoryListener recorder(String who, RuntimeException onAdd) {
        return new MemoryListener() {
            @Override
            public void begin() {
                seen.add(who + " begin");
            }

            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add(who + " add " + s.region().name());
                if (onAdd != null) {
                    throw onAdd;
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add(who + " del " + s.region().name());
            }

            @Override
            public void commit() {
                seen.add(who + " commit");
            }
        };
    }

    @Test
    void aThrowingReplayLeavesNoAddressSpaceBehind() {
        root2.addSubregion(0, c);
        int rootRefs = root2.refCount();
        int cRefs = c.refCount();
        IllegalStateException boom = new IllegalStateException("no slot for the new space");
        MemoryListener thrower = recorder("T", boom);
        sys.registerListener(thrower, null);
        sys.registerListener(recorder("W", null), null);
        seen.clear();

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> sys.addressSpace(root2, "dev"));

        assertSame(boom, e);
        assertEquals(List.of(as), sys.addressSpaces(), "the space is rolled back");
        assertEquals(List.of("T begin", "T add c", "T commit", "W begin", "W add c", "W commit",
                "T begin", "T del c", "T commit", "W begin", "W del c", "W commit"), seen,
                "who heard it appear hears it go");
        assertEquals(rootRefs, root2.refCount(), "root reference given back");
        assertEquals(cRefs, c.refCount(), "view references given back");

        sys.unregisterListener(thrower);
        AddressSpace again = sys.addressSpace(root2, "dev");
        assertEquals(List.of(as, again), sys.addressSpaces());
        assertEquals(1, again.currentMap().rangeCount());
    }

    @Test
    void aSpaceWhoseReplayListenerRegisteredToItIsStillRolledBack() {
        root2.addSubregion(0, c);
        MemoryListener own = recorder("O", null);
        AddressSpace[] created = new AddressSpace[1];
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == c) {
                    // the new space is not known to the caller yet: find it, and listen to it alone
                    created[0] = sys.addressSpaces().getLast();
                    sys.registerListener(own, created[0]);
                    throw new IllegalStateException("refused");
                }
            }
        }, null);
        seen.clear();

        assertThrows(IllegalStateException.class, () -> sys.addressSpace(root2, "dev"));

        assertEquals(List.of(as), sys.addressSpaces());
        assertEquals(List.of("O begin", "O add c", "O commit", "O begin", "O del c", "O commit"), seen);
        sys.registerListener(own, as); // unregistered by the rollback
    }

    @Test
    void aThrowInTheUpdateAReplayAskedForAlsoRollsBack() {
        root2.addSubregion(0, c);
        RamRegion d = RamRegion.allocate(sys, null, "d", 0x1000);
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == c && !d.isMapped()) {
                    root2.addSubregion(0x1000, d); // deferred: runs after the replay
                }
                if (s.region() == d) {
                    throw new IllegalStateException("no slot for d");
                }
            }
        }, null);

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> sys.addressSpace(root2, "dev"));

        assertEquals("no slot for d", e.getMessage());
        assertEquals(List.of(as), sys.addressSpaces());
    }
}
