package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * Registering or unregistering a listener from inside a listener callback: as a topology change
 * made there, it waits until the current notification is over, then runs with its replay of the
 * view published at that moment; meanwhile every listener hears the current notification whole.
 */
class RegistrationFromCallbackTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final RamRegion a = RamRegion.allocate(sys, null, "a", 0x1000);
    private final RamRegion x = RamRegion.allocate(sys, null, "x", 0x1000);
    private final List<String> log = new ArrayList<>();

    /** Records what it hears, prefixed with its name; {@link #onCommit} / {@link #onAdd} run once when set. */
    private class Recorder implements MemoryListener {
        final String name;
        final int priority;
        Runnable onCommit;
        Runnable onAdd;

        Recorder(String name, int priority) {
            this.name = name;
            this.priority = priority;
        }

        @Override
        public int priority() {
            return priority;
        }

        @Override
        public void begin() {
            log.add(name + " begin");
        }

        @Override
        public void commit() {
            log.add(name + " commit");
            Runnable r = onCommit;
            onCommit = null;
            if (r != null) {
                r.run();
            }
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            log.add(name + " add " + s.region().name());
            Runnable r = onAdd;
            onAdd = null;
            if (r != null) {
                r.run();
            }
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            log.add(name + " del " + s.region().name());
        }

        @Override
        public void logSync(MemoryRegionSection s) {
            log.add(name + " sync " + s.region().name());
        }

        @Override
        public String toString() {
            return name;
        }
    }

    @BeforeEach
    void setUp() {
        root.addSubregion(0, a);
    }

    /** Maps and unmaps a probe region, returning who heard it. */
    private List<String> whoHearsAChange() {
        RamRegion probe = RamRegion.allocate(sys, null, "probe", 0x1000);
        log.clear();
        root.addSubregion(0x40000, probe);
        root.delSubregion(probe);
        List<String> heard = new ArrayList<>();
        for (String s : log) {
            if (s.endsWith(" add probe")) {
                heard.add(s.substring(0, s.indexOf(' ')));
            }
        }
        return heard;
    }

    @Test
    void aListenerRegisteredFromACommitIsReplayedOnceTheUpdateIsOver() {
        Recorder first = new Recorder("A", 0);
        Recorder early = new Recorder("B", -1); // goes ahead of A in the list A is being called from
        sys.registerListener(first, as);
        first.onCommit = () -> sys.registerListener(early, as);
        log.clear();

        root.addSubregion(0x2000, x);

        assertEquals(List.of("A begin", "A add x", "A commit", "B begin", "B add a", "B add x", "B commit"), log);
        assertEquals(List.of("B", "A"), whoHearsAChange(), "both registered, in priority order");
        assertThrows(IllegalStateException.class, () -> sys.registerListener(early, as));
    }

    @Test
    void aListenerThatUnregistersItselfHearsTheRestOfTheUpdateThenItsRemoval() {
        Recorder quitter = new Recorder("Q", 0);
        Recorder watcher = new Recorder("W", 1);
        sys.registerListener(quitter, as);
        sys.registerListener(watcher, as);
        quitter.onAdd = () -> sys.unregisterListener(quitter);
        log.clear();

        root.addSubregion(0x2000, x);

        assertEquals(List.of("Q begin", "W begin", "Q add x", "W add x", "Q commit", "W commit",
                "Q begin", "Q del a", "Q del x", "Q commit"), log);
        assertEquals(List.of("W"), whoHearsAChange());
    }

    @Test
    void aSecondRegistrationFromACallbackIsRefusedAndChangesNothing() {
        Recorder first = new Recorder("A", 0);
        Recorder other = new Recorder("B", 0);
        sys.registerListener(first, as);
        List<Throwable> refused = new ArrayList<>();
        first.onCommit = () -> {
            sys.registerListener(other, as);
            try {
                sys.registerListener(other, null);
            } catch (IllegalStateException e) {
                refused.add(e);
            }
        };
        log.clear();

        root.addSubregion(0x2000, x);

        assertEquals(1, refused.size(), "second registration refused at the call");
        assertTrue(refused.get(0).getMessage().contains("already registered"), refused.get(0).getMessage());
        assertEquals(List.of("A begin", "A add x", "A commit", "B begin", "B add a", "B add x", "B commit"), log);
        assertEquals(List.of("A", "B"), whoHearsAChange());
    }

    @Test
    void aRegistrationAndItsRemovalFromOneCallbackReplayBothInOrder() {
        Recorder first = new Recorder("A", 0);
        Recorder brief = new Recorder("B", 0);
        sys.registerListener(first, as);
        first.onCommit = () -> {
            sys.registerListener(brief, as);
            sys.unregisterListener(brief);
            sys.unregisterListener(new Recorder("never", 0)); // not registered: nothing
        };
        log.clear();

        root.addSubregion(0x2000, x);

        assertEquals(List.of("A begin", "A add x", "A commit",
                "B begin", "B add a", "B add x", "B commit", "B begin", "B del a", "B del x", "B commit"), log);
        assertEquals(List.of("A"), whoHearsAChange());
    }

    @Test
    void aRegistrationFromLogSyncComesAfterTheSyncAndSeesTheChangeItMadeToo() {
        Recorder syncer = new Recorder("S", 0) {
            boolean done;

            @Override
            public void logSync(MemoryRegionSection s) {
                super.logSync(s);
                if (!done) {
                    done = true;
                    sys.registerListener(new Recorder("N", 0), as);
                    root.addSubregion(0x2000, x);
                }
            }
        };
        a.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        sys.registerListener(syncer, as);
        log.clear();

        sys.globalDirtyLogSync(false);

        assertEquals(List.of("S sync a", "N begin", "N add a", "N commit",
                "S begin", "N begin", "S add x", "N add x", "S commit", "N commit"), log);
        assertEquals(List.of("S", "N"), whoHearsAChange());
    }

    @Test
    void aRegistrationToAnotherSystemsSpaceFromACallbackIsRefusedAtTheCall() {
        MemorySystem other = new MemorySystem();
        AddressSpace foreign = other.addressSpace(new ContainerRegion(other, null, "o", -1L), "o");
        Recorder first = new Recorder("A", 0);
        sys.registerListener(first, as);
        List<Throwable> refused = new ArrayList<>();
        first.onCommit = () -> {
            try {
                sys.registerListener(new Recorder("B", 0), foreign);
            } catch (IllegalStateException e) {
                refused.add(e);
            }
        };

        root.addSubregion(0x2000, x);

        assertEquals(1, refused.size());
        assertEquals(List.of("A"), whoHearsAChange());
    }

    @Test
    void aCallbackThatRemovesASpacesListenersAndDestroysItTellsThemOnce() {
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        root2.addSubregion(0, RamRegion.allocate(sys, null, "c", 0x1000));
        AddressSpace as2 = sys.addressSpace(root2, "dev");
        Recorder dev = new Recorder("D", 0);
        sys.registerListener(dev, as2);
        Recorder syncer = new Recorder("S", 0) {
            @Override
            public void logSync(MemoryRegionSection s) {
                sys.removeListeners(as2); // both wait, and run in this order
                sys.destroyAddressSpace(as2);
            }
        };
        a.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        sys.registerListener(syncer, as);
        log.clear();

        sys.syncDirtyBitmap(a);

        assertEquals(List.of("D begin", "D del c", "D commit"), log, "D hears the space go once");
        assertEquals(List.of(as), sys.addressSpaces());
        sys.registerListener(dev, as); // D is registered nowhere now
        assertEquals(List.of("S", "D"), whoHearsAChange());
    }

    @Test
    void aSpaceWithARegistrationWaitingForItIsNotDestroyed() {
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        AddressSpace as2 = sys.addressSpace(root2, "dev");
        List<Throwable> refused = new ArrayList<>();
        Recorder syncer = new Recorder("S", 0) {
            @Override
            public void logSync(MemoryRegionSection s) {
                sys.registerListener(new Recorder("D", 0), as2);
                try {
                    sys.destroyAddressSpace(as2);
                } catch (IllegalStateException e) {
                    refused.add(e);
                }
            }
        };
        a.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        sys.registerListener(syncer, as);

        sys.syncDirtyBitmap(a);

        assertEquals(1, refused.size());
        assertTrue(refused.get(0).getMessage().contains("waiting to be registered"), refused.get(0).getMessage());
        assertEquals(List.of(as, as2), sys.addressSpaces());
    }
}
