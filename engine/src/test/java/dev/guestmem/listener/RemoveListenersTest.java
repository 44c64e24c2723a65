package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * QEMU's {@code address_space_remove_listeners}: {@code memory_listener_unregister} for every listener
 * registered for that address space, as a device does before {@code address_space_destroy}.
 */
class RemoveListenersTest {
    private final MemorySystem sys = new MemorySystem();
    private final List<String> log = new ArrayList<>();

    private MemoryListener recorder(String name) {
        return new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                log.add(name + " add " + s.region().name());
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                log.add(name + " del " + s.region().name());
            }
        };
    }

    private AddressSpace space(String name) {
        ContainerRegion root = new ContainerRegion(sys, null, name + "-root", 0x10000);
        root.addSubregion(0, new IoRegion(sys, null, null, name + "-dev", 0x1000));
        return sys.addressSpace(root, name);
    }

    @Test
    void unregistersOnlyTheSpacesOwnListenersReplayingRemoval() {
        AddressSpace as1 = space("as1");
        AddressSpace as2 = space("as2");
        MemoryListener l1 = recorder("l1");
        MemoryListener l2 = recorder("l2");
        MemoryListener other = recorder("other");
        MemoryListener every = recorder("every");
        sys.registerListener(l1, as1);
        sys.registerListener(l2, as1);
        sys.registerListener(other, as2);
        sys.registerListener(every, null);
        log.clear();

        sys.removeListeners(as1);

        assertEquals(List.of("l1 del as1-dev", "l2 del as1-dev"), log);
        log.clear();
        as1.root().addSubregion(0x2000, new IoRegion(sys, null, null, "late1", 0x1000));
        as2.root().addSubregion(0x2000, new IoRegion(sys, null, null, "late2", 0x1000));
        assertEquals(List.of("every add late1", "other add late2", "every add late2"), log,
                "l1 and l2 hear nothing more; the others stay registered");
        assertDoesNotThrow(() -> sys.registerListener(l1, as2), "l1 is forgotten: it may register again");
    }

    @Test
    void letsTheSpaceBeDestroyed() {
        AddressSpace as = space("as");
        sys.registerListener(recorder("l"), as);
        assertThrows(IllegalStateException.class, () -> sys.destroyAddressSpace(as));
        sys.removeListeners(as);
        assertDoesNotThrow(() -> sys.destroyAddressSpace(as));
    }

    @Test
    void aSpaceWithoutListenersIsFineAndAForeignOneIsRefused() {
        AddressSpace as = space("as");
        assertDoesNotThrow(() -> sys.removeListeners(as));
        MemorySystem other = new MemorySystem();
        AddressSpace foreign = other.addressSpace(new ContainerRegion(other, null, "r", 0x1000), "f");
        assertThrows(IllegalStateException.class, () -> sys.removeListeners(foreign));
    }

    /**
     * A listener whose removal replay throws is still removed, and so are the listeners after it:
     * the throw reaches the caller once every one is off (it used to stop the loop, leaving the
     * later ones registered and the space impossible to destroy).
     */
    @Test
    void aThrowingRemovalReplayRemovesEveryListenerThenRethrows() {
        AddressSpace as = space("as");
        IllegalStateException boom = new IllegalStateException("refused");
        MemoryListener picky = new MemoryListener() {
            @Override
            public void regionDel(MemoryRegionSection s) {
                log.add("picky del " + s.region().name());
                throw boom;
            }
        };
        sys.registerListener(picky, as);
        sys.registerListener(recorder("after"), as);
        log.clear();

        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> sys.removeListeners(as));

        assertSame(boom, thrown);
        assertEquals(List.of("picky del as-dev", "after del as-dev"), log);
        assertDoesNotThrow(() -> sys.destroyAddressSpace(as), "no listener left on the space");
    }
}
