package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Deferred calls and listeners that throw: the throw of the callback that asked, and those of the
 * replays the calls run, all come out of the outermost call, and every call runs all the same.
 */
class DeferredCallsWithThrowsTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
    private final AddressSpace dev = sys.addressSpace(root2, "dev");
    private final RamRegion a = RamRegion.allocate(sys, null, "a", 0x1000);
    private final RamRegion b = RamRegion.allocate(sys, null, "b", 0x1000);
    private final List<String> seen = new ArrayList<>();

    @Test
    void aCommitThatDestroysASpaceAndThrowsLeavesItDestroyedAndTheThrowsReported() {
        root2.addSubregion(0, b);
        IllegalStateException commitThrow = new IllegalStateException("commit");
        IllegalStateException delThrow = new IllegalStateException("del");
        MemoryListener killer = new MemoryListener() {
            @Override
            public void commit() {
                if (a.isMapped() && sys.addressSpaces().contains(dev) && seen.isEmpty()) {
                    seen.add("asked");
                    sys.destroyAddressSpace(dev);
                    throw commitThrow;
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                if (s.region() == b) {
                    seen.add("del b");
                    throw delThrow;
                }
            }
        };
        sys.registerListener(killer, null);

        sys.transactionBegin();
        root.addSubregion(0, a);
        IllegalStateException e = assertThrows(IllegalStateException.class, sys::transactionCommit);

        assertSame(commitThrow, e, "the asking callback's throw first (it came first), suppressed: "
                + Arrays.toString(e.getSuppressed()) + " in " + e);
        assertTrue(Arrays.asList(e.getSuppressed()).contains(delThrow), "the destruction's throw with it");
        assertEquals(List.of(as), sys.addressSpaces());
        assertEquals(List.of("asked", "del b"), seen);
        assertEquals(0, sys.transactionDepth());
        sys.unregisterListener(killer);
    }

    /**
     * A listener of one space alone throws during an update, and a callback of the same update
     * unregisters it and destroys the space: the throw was kept in the space's list, which went with
     * the space, so the update returned normally.
     */
    @Test
    void aThrowKeptByASpaceDestroyedLaterInTheSameCallIsNotLost() {
        RamRegion c = RamRegion.allocate(sys, null, "c", 0x1000);
        IllegalStateException addThrow = new IllegalStateException("add c");
        MemoryListener own = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == c) {
                    throw addThrow;
                }
            }
        };
        sys.registerListener(own, dev);
        MemoryListener killer = new MemoryListener() {
            @Override
            public void commit() {
                if (c.isMapped() && sys.addressSpaces().contains(dev) && seen.isEmpty()) {
                    seen.add("asked");
                    sys.unregisterListener(own);
                    sys.destroyAddressSpace(dev);
                }
            }
        };
        sys.registerListener(killer, null);

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> root2.addSubregion(0, c));

        assertSame(addThrow, e);
        assertEquals(List.of(as), sys.addressSpaces());
        sys.unregisterListener(killer);
    }

    @Test
    void aListenerRegisteredFromACallbackWhoseReplayThrowsIsRegisteredAndTheThrowComesOut() {
        root.addSubregion(0, a);
        IllegalStateException replayThrow = new IllegalStateException("replay");
        MemoryListener late = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("late add " + s.region().name());
                throw replayThrow;
            }
        };
        boolean[] armed = {false};
        MemoryListener asker = new MemoryListener() {
            @Override
            public void commit() {
                if (armed[0] && seen.isEmpty()) {
                    seen.add("asked");
                    sys.registerListener(late, as);
                }
            }
        };
        sys.registerListener(asker, null);
        armed[0] = true;

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> root.addSubregion(0x1000, b));

        assertSame(replayThrow, e);
        assertEquals(List.of("asked", "late add a", "late add b"), seen, "replayed whole, throw or not");
        assertThrows(IllegalStateException.class, () -> sys.registerListener(late, as), "registered all the same");
        sys.unregisterListener(late);
        sys.unregisterListener(asker);
    }
}
