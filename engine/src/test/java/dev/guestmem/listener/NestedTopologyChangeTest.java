package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A listener callback that itself changes the topology (maps, moves, disables a region, opens and
 * commits a transaction). The change must not be lost: once the outermost call returns, every
 * address space publishes a fresh render of the region tree, and every listener's own replay of
 * what it was told (adds minus dels) is that view.
 */
class NestedTopologyChangeTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");

    private RamRegion ram(String name, long size) {
        return new RamRegion(sys, null, name, RamBlock.anonymous(name, size), false, false);
    }

    /** A range as a listener knows it. */
    private record Known(long start, long size, MemoryRegion region, long offset) {
        static Known of(MemoryRegionSection s) {
            return new Known(s.offsetWithinAddressSpace(), s.size(), s.region(), s.offsetWithinRegion());
        }

        static Known of(FlatRange fr) {
            return new Known(fr.start(), fr.size(), fr.region(), fr.offsetInRegion());
        }
    }

    /**
     * Replays what it is told; a del of a range it does not know, or an add over one it knows, is
     * an inconsistency (recorded, not thrown: a throw would be kept and rethrown by the system).
     */
    private static class Replay implements MemoryListener {
        final Map<Long, Known> known = new TreeMap<>(Long::compareUnsigned);
        final List<String> errors = new ArrayList<>();
        int commits;

        @Override
        public void regionAdd(MemoryRegionSection s) {
            Known k = Known.of(s);
            Known had = known.put(k.start(), k);
            if (had != null) {
                errors.add("add over " + had + " of " + k);
            }
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            Known k = Known.of(s);
            Known had = known.remove(k.start());
            if (!k.equals(had)) {
                errors.add("del of " + k + " but knew " + had);
            }
        }

        @Override
        public void commit() {
            commits++;
        }
    }

    /**
     * Every address space shows a fresh render of its tree and every replay matches its space's
     * view; then again after an unrelated change, which is rendered from the view cache (a stale
     * cache would bring back what the nested change undid).
     */
    private void assertConsistent(Map<Replay, AddressSpace> replays) {
        assertConsistentNow(replays);
        RamRegion far = ram("far", 0x1000);
        root.addSubregion(0x7000_0000L, far);
        assertConsistentNow(replays);
        root.delSubregion(far);
        assertConsistentNow(replays);
    }

    private void assertConsistentNow(Map<Replay, AddressSpace> replays) {
        for (AddressSpace space : sys.addressSpaces()) {
            assertEquals(FlatViewRenderer.render(FlatViewRoots.of(space.root())), space.currentMap().ranges(),
                    "published view of " + space.name() + " differs from a fresh render of its tree");
        }
        replays.forEach((r, space) -> {
            assertEquals(List.of(), r.errors, "inconsistent sequence");
            List<Known> view = new ArrayList<>();
            for (FlatRange fr : space.currentMap().ranges()) {
                view.add(Known.of(fr));
            }
            assertEquals(view, List.copyOf(r.known.values()), "listener replay differs from the view");
        });
    }

    @Test
    void regionAddThatMapsAnotherRegion() {
        RamRegion a = ram("a", 0x1000);
        RamRegion b = ram("b", 0x1000);
        Replay mapper = new Replay() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                super.regionAdd(s);
                if (s.region() == a && !b.isMapped()) {
                    root.addSubregion(0x10000, b);
                }
            }
        };
        Replay watcher = new Replay();
        sys.registerListener(mapper, as);
        sys.registerListener(watcher, as);

        root.addSubregion(0, a);

        assertTrue(b.isMapped());
        assertConsistent(Map.of(mapper, as, watcher, as));
        as.stlLe(0x10000, 0xb0b);
        assertEquals(0xb0b, b.ramSegment().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0));
    }

    @Test
    void commitThatMovesARegion() {
        RamRegion m = ram("m", 0x1000);
        RamRegion trigger = ram("trigger", 0x1000);
        root.addSubregion(0, m);
        boolean[] armed = {false};
        Replay mover = new Replay() {
            @Override
            public void commit() {
                super.commit();
                if (armed[0]) {
                    armed[0] = false;
                    m.setAddress(0x20000);
                }
            }
        };
        sys.registerListener(mover, as);
        armed[0] = true;

        root.addSubregion(0x8000, trigger);

        assertEquals(0x20000, m.addr());
        assertConsistent(Map.of(mover, as));
    }

    @Test
    void regionAddThatDisablesTheRegionBeingAdded() {
        RamRegion d = ram("d", 0x1000);
        Replay disabler = new Replay() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                super.regionAdd(s);
                if (s.region() == d) {
                    d.setEnabled(false);
                }
            }
        };
        Replay watcher = new Replay();
        sys.registerListener(disabler, as);
        sys.registerListener(watcher, as);

        root.addSubregion(0x4000, d);

        assertFalse(d.isEnabled());
        assertEquals(0, as.currentMap().rangeCount(), "the disabled region is still published");
        assertConsistent(Map.of(disabler, as, watcher, as));
    }

    @Test
    void regionAddThatRunsANestedTransaction() {
        RamRegion a = ram("a", 0x1000);
        RamRegion x = ram("x", 0x1000);
        RamRegion y = ram("y", 0x1000);
        Replay nester = new Replay() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                super.regionAdd(s);
                if (s.region() == a && !x.isMapped()) {
                    sys.transactionBegin();
                    try {
                        root.addSubregion(0x2000, x);
                        root.addSubregion(0x3000, y);
                        a.setAddress(0x5000);
                    } finally {
                        sys.transactionCommit();
                    }
                }
            }
        };
        sys.registerListener(nester, as);

        root.addSubregion(0, a);

        assertEquals(3, as.currentMap().rangeCount());
        assertConsistent(Map.of(nester, as));
    }

    @Test
    void aChangeToAnotherAddressSpaceFromAListenerOfTheFirst() {
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        AddressSpace as2 = sys.addressSpace(root2, "io");
        RamRegion a = ram("a", 0x1000);
        RamRegion b = ram("b", 0x1000);
        RamRegion c = ram("c", 0x1000);
        root2.addSubregion(0, c);
        Replay mapper = new Replay() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                super.regionAdd(s);
                if (s.region() == a && !b.isMapped()) {
                    root2.addSubregion(0x1000, b); // the other space, whose update comes later
                    c.setEnabled(false);
                }
            }
        };
        Replay watcher2 = new Replay();
        sys.registerListener(mapper, as);
        sys.registerListener(watcher2, as2);

        root.addSubregion(0, a);

        assertConsistent(Map.of(mapper, as, watcher2, as2));
        assertEquals(1, as2.currentMap().rangeCount());
    }

    @Test
    void regionAddDuringRegistrationReplayThatSplitsALaterRange() {
        RamRegion low = ram("low", 0x1000);
        RamRegion big = ram("big", 0x4000);
        RamRegion hole = ram("hole", 0x1000);
        root.addSubregion(0, low);
        root.addSubregion(0x10000, big);
        Replay splitter = new Replay() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                super.regionAdd(s);
                if (s.region() == low && !hole.isMapped()) {
                    root.addSubregionOverlap(0x11000, hole, 1); // splits big, not yet replayed
                }
            }
        };

        sys.registerListener(splitter, as);

        assertEquals(4, as.currentMap().rangeCount());
        assertConsistent(Map.of(splitter, as));
    }

    @Test
    void anEventfdAddedFromRegionAddReachesTheEventfdListeners() throws Exception {
        RamRegion a = ram("a", 0x1000);
        RamRegion dev = ram("dev", 0x1000);
        root.addSubregion(0x8000, dev);
        List<Ioeventfd> heard = new ArrayList<>();
        try (EventNotifier n = EventNotifier.create()) {
            Replay adder = new Replay() {
                @Override
                public void regionAdd(MemoryRegionSection s) {
                    super.regionAdd(s);
                    if (s.region() == a) {
                        dev.addEventfd(0x10, 4, false, 0, n);
                    }
                }

                @Override
                public void eventfdAdd(Ioeventfd fd) {
                    heard.add(fd);
                }

                @Override
                public void eventfdDel(Ioeventfd fd) {
                    heard.remove(fd);
                }
            };
            sys.registerListener(adder, as);

            root.addSubregion(0, a);

            assertEquals(sys.ioeventfds(as), heard, "eventfd listeners out of step");
            assertEquals(1, heard.size());
            dev.delEventfd(0x10, 4, false, 0, n);
        }
    }

    @Test
    void viewReferencesAreGivenBackOnceEverythingIsUnmapped() {
        RamRegion a = ram("a", 0x1000);
        RamRegion b = ram("b", 0x1000);
        int aRefs = a.refCount();
        int bRefs = b.refCount();
        Replay mapper = new Replay() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                super.regionAdd(s);
                if (s.region() == a && !b.isMapped()) {
                    root.addSubregion(0x10000, b);
                }
            }
        };
        sys.registerListener(mapper, as);
        root.addSubregion(0, a);
        sys.unregisterListener(mapper);

        root.delSubregion(a);
        root.delSubregion(b);

        assertEquals(aRefs, a.refCount(), "a's references");
        assertEquals(bRefs, b.refCount(), "b's references");
        assertConsistent(Map.of());
    }

    @Test
    void theNestedChangeIsHeardAsAnUpdateOfItsOwnAfterTheCurrentOne() {
        RamRegion a = ram("a", 0x1000);
        RamRegion b = ram("b", 0x1000);
        List<String> seen = new ArrayList<>();
        MemoryListener mapper = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == a && !b.isMapped()) {
                    root.addSubregion(0x10000, b);
                    seen.add("mapped b");
                }
            }
        };
        MemoryListener watcher = new MemoryListener() {
            @Override
            public int priority() {
                return 1; // told after the mapper
            }

            @Override
            public void begin() {
                seen.add("begin");
            }

            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("add " + s.region().name());
            }

            @Override
            public void commit() {
                seen.add("commit");
            }
        };
        sys.registerListener(mapper, as);
        sys.registerListener(watcher, as);
        seen.clear();

        root.addSubregion(0, a);

        assertEquals(List.of("begin", "mapped b", "add a", "commit", "begin", "add b", "commit"), seen);
    }

    @Test
    void aListenerThatChangesTheTopologyOnEveryCommitIsStoppedAfterABound() {
        RamRegion t = ram("t", 0x1000);
        root.addSubregion(0x3000, t);
        boolean[] on = {false};
        Replay toggler = new Replay() {
            @Override
            public void commit() {
                super.commit();
                if (on[0]) {
                    t.setEnabled(!t.isEnabled());
                }
            }
        };
        sys.registerListener(toggler, as);
        on[0] = true;

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> root.addSubregion(0, ram("trigger", 0x1000)));

        assertTrue(e.getMessage().contains("updates in a row"), e.getMessage());
        assertEquals(MemorySystem.MAX_CHAINED_UPDATES, toggler.commits - 1, "updates run (plus the registration)");
        assertEquals(List.of(), toggler.errors, "each update heard whole");
        // the last toggle is pending, not lost: the next commit publishes it
        on[0] = false;
        sys.transactionBegin();
        sys.transactionCommit();
        assertConsistent(Map.of(toggler, as));
    }

    @Test
    void logGlobalStopThatMapsARegion() {
        RamRegion a = ram("a", 0x1000);
        root.addSubregion(0, a);
        RamRegion b = ram("b", 0x1000);
        Replay mapper = new Replay() {
            @Override
            public void logGlobalStop() {
                root.addSubregion(0x10000, b);
            }
        };
        sys.registerListener(mapper, as);
        sys.globalDirtyLogStart();

        sys.globalDirtyLogStop();

        assertTrue(b.isMapped());
        assertConsistent(Map.of(mapper, as));
    }

    @Test
    void aListenerOfEverySpaceThatMapsARegionWhileASpaceIsDestroyed() {
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        RamRegion c = ram("c", 0x1000);
        root2.addSubregion(0, c);
        AddressSpace as2 = sys.addressSpace(root2, "other");
        RamRegion b = ram("b", 0x1000);
        Replay mapper = new Replay() {
            @Override
            public void regionDel(MemoryRegionSection s) {
                if (s.region() == c) {
                    root.addSubregion(0x10000, b);
                    return; // its replay of the first space is what is checked
                }
                super.regionDel(s);
            }

            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() != c) {
                    super.regionAdd(s);
                }
            }
        };
        sys.registerListener(mapper, null);

        sys.destroyAddressSpace(as2);

        assertTrue(b.isMapped());
        assertConsistent(Map.of(mapper, as));
    }

    @Test
    void aFaultProneHoldTakenInAListenerCallbackIsRefused() {
        RamBlock block = RamBlock.anonymous("lazy", 0x1000);
        RamRegion r = new RamRegion(sys, null, "lazy", block, false, false);
        MemoryListener holder = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == r) {
                    block.holdFaultProne("restore started by a listener");
                }
            }
        };
        sys.registerListener(holder, as);

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> root.addSubregion(0, r));

        assertTrue(e.getMessage().contains("listener callback"), e.getMessage());
        assertEquals(0, block.faultProneHolds());
        assertConsistent(Map.of());
    }
}
