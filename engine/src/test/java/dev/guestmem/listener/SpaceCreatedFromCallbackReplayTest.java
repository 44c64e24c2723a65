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
 * An address space created from a listener callback: QEMU never nests a listener's
 * {@code begin}..{@code commit}, so the new space's listeners must not hear its replay inside the
 * update under way. The space exists (and serves accesses) at once; its listeners hear its replay
 * of the view published when the notification is over, once, before the updates callbacks asked for.
 */
class SpaceCreatedFromCallbackReplayTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
    private final RamRegion a = RamRegion.allocate(sys, null, "a", 0x1000);
    private final RamRegion b = RamRegion.allocate(sys, null, "b", 0x1000);
    private final List<String> log = new ArrayList<>();

    /** Records what it hears and the deepest begin..commit nesting it saw. */
    private class DepthRecorder implements MemoryListener {
        final String name;
        int depth;
        int maxDepth;

        DepthRecorder(String name) {
            this.name = name;
        }

        @Override
        public void begin() {
            depth++;
            maxDepth = Math.max(maxDepth, depth);
            log.add(name + " begin");
        }

        @Override
        public void commit() {
            log.add(name + " commit");
            depth--;
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            log.add(name + " add " + s.region().name());
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            log.add(name + " del " + s.region().name());
        }
    }

    /**
     * Registers a listener of {@code as} whose next commit after its registration replay runs
     * {@code action}, once.
     */
    private void onNextCommit(Runnable action) {
        Runnable[] armed = new Runnable[1];
        sys.registerListener(new MemoryListener() {
            @Override
            public void commit() {
                Runnable r = armed[0];
                armed[0] = null;
                if (r != null) {
                    r.run();
                }
            }
        }, as);
        armed[0] = action;
    }

    @Test
    void aSpaceCreatedFromACommitIsReplayedAfterItNotInsideIt() {
        root2.addSubregion(0, b);
        AddressSpace[] made = new AddressSpace[1];
        int[] readInCallback = new int[1];
        onNextCommit(() -> {
            made[0] = sys.addressSpace(root2, "dev");
            made[0].stl(0, 0x1234_5678); // usable at once
            readInCallback[0] = made[0].ldl(0);
        });
        DepthRecorder r = new DepthRecorder("R");
        sys.registerListener(r, null);
        log.clear();

        root.addSubregion(0, a);

        assertEquals(1, r.maxDepth, "begin..commit never nested");
        assertEquals(0, r.depth);
        assertEquals(0x1234_5678, readInCallback[0]);
        assertEquals(List.of("R begin", "R add a", "R commit", "R begin", "R add b", "R commit"), log);
    }

    @Test
    void aSpaceCreatedFromRegionAddHearsTheUpdatedViewOnceAfterTheUpdate() {
        DepthRecorder r = new DepthRecorder("R");
        sys.registerListener(r, null);
        AddressSpace[] made = new AddressSpace[1];
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == a && made[0] == null) {
                    made[0] = sys.addressSpace(root2, "dev"); // b is not in the view cached before the update
                }
            }
        }, as);
        log.clear();

        sys.transactionBegin();
        root.addSubregion(0, a);
        root2.addSubregion(0, b);
        sys.transactionCommit();

        assertEquals(1, r.maxDepth, "begin..commit never nested");
        assertEquals(List.of("R begin", "R add a", "R commit", "R begin", "R add b", "R commit"), log);
        assertEquals(1, made[0].currentMap().rangeCount());
    }

    @Test
    void aListenerRegisteredForAllSpacesFromTheSameCallbackHearsTheNewSpaceOnce() {
        root2.addSubregion(0, b);
        DepthRecorder late = new DepthRecorder("L");
        DepthRecorder r = new DepthRecorder("R");
        sys.registerListener(r, null);
        onNextCommit(() -> {
            sys.registerListener(late, null); // waits for the notification
            sys.addressSpace(root2, "dev");
        });
        log.clear();

        root.addSubregion(0, a);

        assertEquals(1, r.maxDepth);
        assertEquals(1, late.maxDepth);
        assertEquals(List.of("R begin", "R add a", "R commit",
                "L begin", "L add a", "L commit", // its registration, called first
                "R begin", "R add b", "R commit",    // then the creation
                "L begin", "L add b", "L commit"), log);
    }

    @Test
    void aListenerUnregisteredBeforeTheCreationHearsNothingOfIt() {
        root2.addSubregion(0, b);
        DepthRecorder gone = new DepthRecorder("G");
        sys.registerListener(gone, null);
        onNextCommit(() -> {
            sys.unregisterListener(gone);
            sys.addressSpace(root2, "dev");
        });
        log.clear();

        root.addSubregion(0, a);

        assertEquals(List.of("G begin", "G add a", "G commit", "G begin", "G del a", "G commit"), log);
    }

    @Test
    void aSpaceCreatedAndDestroyedFromOneCallbackIsHeardToComeAndGo() {
        root2.addSubregion(0, b);
        DepthRecorder r = new DepthRecorder("R");
        sys.registerListener(r, null);
        onNextCommit(() -> sys.destroyAddressSpace(sys.addressSpace(root2, "dev")));
        log.clear();

        root.addSubregion(0, a);

        assertEquals(1, r.maxDepth);
        assertEquals(List.of(as), sys.addressSpaces());
        assertEquals(List.of("R begin", "R add a", "R commit", "R begin", "R add b", "R commit",
                "R begin", "R del b", "R commit"), log);
    }

    @Test
    void aThrowingReplayOfASpaceCreatedFromACallbackLeavesItAndReachesTheOutermostCaller() {
        root2.addSubregion(0, b);
        IllegalStateException boom = new IllegalStateException("no slot for dev");
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == b) {
                    throw boom;
                }
            }
        }, null);
        AddressSpace[] made = new AddressSpace[1];
        onNextCommit(() -> made[0] = sys.addressSpace(root2, "dev"));

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> root.addSubregion(0, a));

        assertSame(boom, e);
        assertEquals(List.of(as, made[0]), sys.addressSpaces(), "the callback holds the handle: the space stays");
        assertEquals(1, made[0].currentMap().rangeCount());
    }
}
