package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import org.junit.jupiter.api.Test;

/**
 * An address space created or destroyed from a commit-time callback, while the commit walks the
 * address spaces: the update must still publish a fresh view for every space that exists when it
 * returns, and listeners' replays must match. Creation happens at once (the caller needs the
 * space); destruction waits until the notification is over, as a topology change does.
 */
class SpaceLifecycleFromCallbackTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
    private final RamRegion a = RamRegion.allocate(sys, null, "a", 0x1000);

    private void assertFresh() {
        for (AddressSpace space : sys.addressSpaces()) {
            assertEquals(FlatViewRenderer.render(FlatViewRoots.of(space.root())), space.currentMap().ranges(),
                    space.name());
        }
    }

    @Test
    void creatingASpaceFromRegionAdd() {
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == a) {
                    sys.addressSpace(root2, "made-in-callback");
                }
            }
        }, as);
        root.addSubregion(0, a);
        assertEquals(2, sys.addressSpaces().size());
        assertFresh();
        root2.addSubregion(0, RamRegion.allocate(sys, null, "b", 0x1000));
        assertFresh();
    }

    @Test
    void creatingASecondSpaceOnTheRootBeingUpdated() {
        int aRefs = a.refCount();
        AddressSpace[] made = new AddressSpace[1];
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == a && made[0] == null) {
                    made[0] = sys.addressSpace(root, "same-root"); // the cached view is the old one
                }
            }
        }, as);
        root.addSubregion(0, a);
        assertFresh();
        assertEquals(1, made[0].currentMap().rangeCount(), "the new space shows a");
        root.delSubregion(a);
        sys.destroyAddressSpace(made[0]);
        assertFresh();
        assertEquals(aRefs, a.refCount(), "a's view references given back");
    }

    @Test
    void destroyingASpaceFromRegionAddOfAnEarlierOne() {
        AddressSpace as2 = sys.addressSpace(root2, "doomed");
        ContainerRegion root3 = new ContainerRegion(sys, null, "root3", -1L);
        AddressSpace as3 = sys.addressSpace(root3, "third");
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == a) {
                    sys.destroyAddressSpace(as2);
                }
            }
        }, as);
        RamRegion c = RamRegion.allocate(sys, null, "c", 0x1000);
        sys.transactionBegin();
        root.addSubregion(0, a);
        root3.addSubregion(0, c);
        sys.transactionCommit();
        assertEquals(java.util.List.of(as, as3), sys.addressSpaces());
        assertFresh();
    }

    @Test
    void aSpaceDestroyedFromACallbackIsGoneWhenTheOutermostCallReturns() {
        AddressSpace as2 = sys.addressSpace(root2, "doomed");
        boolean[] existedDuringCallback = {false};
        sys.registerListener(new MemoryListener() {
            @Override
            public void commit() {
                if (sys.addressSpaces().contains(as2)) {
                    sys.destroyAddressSpace(as2);
                    existedDuringCallback[0] = sys.addressSpaces().contains(as2);
                }
            }
        }, as);
        root.addSubregion(0, a);
        assertEquals(true, existedDuringCallback[0], "waits until the notification is over");
        assertEquals(java.util.List.of(as), sys.addressSpaces());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> sys.registerListener(new MemoryListener() { }, as2));
        assertFresh();
    }
}
