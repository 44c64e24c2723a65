package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A listener that throws while told of a topology change ({@code address_space_update_topology_pass},
 * whose callbacks cannot fail in QEMU): the change still happens whole (every listener told, the
 * view published, the view cache current) and the throw reaches the caller afterwards.
 */
class ListenerFailureTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");

    private static MemoryListener recorder(List<String> seen, String who, int priority, RuntimeException onAdd) {
        return new MemoryListener() {
            @Override
            public int priority() {
                return priority;
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
    void aThrowingRegionAddStopsNeitherTheOtherListenersNorThePublication() {
        List<String> seen = new ArrayList<>();
        IllegalStateException boom = new IllegalStateException("kvm refused the slot");
        sys.registerListener(recorder(seen, "a", 0, boom), as);
        sys.registerListener(recorder(seen, "b", 1, null), as);
        RamRegion r1 = new RamRegion(sys, null, "r1", RamBlock.anonymous("r1", 0x1000), false, false);
        RamRegion r2 = new RamRegion(sys, null, "r2", RamBlock.anonymous("r2", 0x1000), false, false);
        ContainerRegion both = new ContainerRegion(sys, null, "both", 0x2000);
        both.addSubregion(0, r1);
        both.addSubregion(0x1000, r2);
        seen.clear();

        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> root.addSubregion(0, both));

        assertSame(boom, thrown);
        assertEquals(List.of("a add r1", "b add r1", "a add r2", "b add r2", "a commit", "b commit"), seen);
        assertEquals(2, as.currentMap().rangeCount(), "published");
        as.stlLe(0x1000, 0x1234);
        assertEquals(0x1234, as.ldlLe(0x1000));
        // the view cache is the published view: a later change patches it, not an older one
        seen.clear();
        root.delSubregion(both);
        assertEquals(List.of("b del r1", "a del r1", "b del r2", "a del r2", "a commit", "b commit"), seen);
        assertEquals(0, as.currentMap().rangeCount());
    }

    /**
     * {@code listener_add_address_space} / {@code listener_del_address_space}: the replay of a
     * registration tells every range and commits even if a call throws, and an unregistration whose
     * replay throws still takes the listener off every address space (it was left on the others,
     * hearing their changes, while {@code unregisterListener} no longer knew it).
     */
    @Test
    void aThrowingReplayStillTellsEveryRangeAndUnregistersEverywhere() {
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        AddressSpace as2 = sys.addressSpace(root2, "io");
        root.addSubregion(0, new RamRegion(sys, null, "r1", RamBlock.anonymous("r1", 0x1000), false, false));
        root.addSubregion(0x1000, new RamRegion(sys, null, "r2", RamBlock.anonymous("r2", 0x1000), false, false));
        root2.addSubregion(0, new RamRegion(sys, null, "q1", RamBlock.anonymous("q1", 0x1000), false, false));
        List<String> seen = new ArrayList<>();
        IllegalStateException addBoom = new IllegalStateException("add");
        IllegalStateException delBoom = new IllegalStateException("del");
        MemoryListener picky = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("add " + s.region().name());
                if (s.region().name().equals("r1")) {
                    throw addBoom;
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add("del " + s.region().name());
                if (s.region().name().startsWith("r")) {
                    throw delBoom;
                }
            }

            @Override
            public void commit() {
                seen.add("commit");
            }
        };

        assertSame(addBoom, assertThrows(IllegalStateException.class, () -> sys.registerListener(picky, null)));
        assertEquals(List.of("add r1", "add r2", "commit", "add q1", "commit"), seen);
        seen.clear();

        assertSame(delBoom, assertThrows(IllegalStateException.class, () -> sys.unregisterListener(picky)));
        assertEquals(0, delBoom.getSuppressed().length, "r2's throw is the same object: kept once");
        assertEquals(List.of("del r1", "del r2", "commit", "del q1", "commit"), seen);
        seen.clear();
        root2.addSubregion(0x1000, new RamRegion(sys, null, "q2", RamBlock.anonymous("q2", 0x1000), false, false));
        assertEquals(List.of(), seen, "not registered anywhere any more");
        sys.registerListener(picky, as2); // and it can be registered again
        assertEquals(List.of("add q1", "add q2", "commit"), seen);
    }

    /** {@code address_space_destroy} with a listener of every space that throws: destroyed all the same. */
    @Test
    void aThrowingListenerDoesNotStopTheDestructionOfAnAddressSpace() {
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        root2.addSubregion(0, new RamRegion(sys, null, "q1", RamBlock.anonymous("q1", 0x1000), false, false));
        root2.addSubregion(0x1000, new RamRegion(sys, null, "q2", RamBlock.anonymous("q2", 0x1000), false, false));
        AddressSpace as2 = sys.addressSpace(root2, "io");
        List<String> seen = new ArrayList<>();
        IllegalStateException boom = new IllegalStateException("del");
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add("del " + s.region().name());
                throw boom;
            }

            @Override
            public void commit() {
                seen.add("commit");
            }
        }, null);
        seen.clear();

        assertSame(boom, assertThrows(IllegalStateException.class, () -> sys.destroyAddressSpace(as2)));

        assertEquals(List.of("del q1", "del q2", "commit"), seen);
        assertSame(sys.emptyView(), as2.currentMap(), "detached");
        assertThrows(IllegalStateException.class, () -> sys.destroyAddressSpace(as2), "no longer one of the system's");
    }

    /**
     * A listener may change the topology while told of a change (QEMU nests the transaction): its
     * nested commit must not rethrow what another listener of the outer commit threw, which is the
     * outer caller's to see (the listener's own call succeeded and the rest of its callback ran).
     */
    @Test
    void aNestedCommitFromAListenerDoesNotTakeTheOuterCommitsFailure() {
        List<String> seen = new ArrayList<>();
        IllegalStateException boom = new IllegalStateException("kvm refused the slot");
        IoRegion dev = new IoRegion(sys, null,
                MemoryRegionOps.builder().read((a, sz) -> 0).write((a, d, sz) -> { }).build(), "dev", 0x100);
        try (EventNotifier kick = EventNotifier.create()) {
            sys.registerListener(recorder(seen, "a", 0, boom), as);
            sys.registerListener(new MemoryListener() {
                @Override
                public int priority() {
                    return 1;
                }

                @Override
                public void regionAdd(MemoryRegionSection s) {
                    dev.addEventfd(0, 4, false, 0, kick); // a nested transaction
                    seen.add("b added its eventfd");
                }
            }, as);
            RamRegion r1 = new RamRegion(sys, null, "r1", RamBlock.anonymous("r1", 0x1000), false, false);
            seen.clear();

            IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> root.addSubregion(0, r1));

            assertSame(boom, thrown, "the outer caller sees a's throw");
            assertEquals(List.of("a add r1", "b added its eventfd", "a commit"), seen);
            assertEquals(1, dev.ioeventfds().size());
        }
    }
}
