package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A filler thread races topology changes: an entry must never carry a generation whose view gives
 * another answer (fill under the old view, tagged with the new generation). The run lasts
 * {@code -Dguestmem.tlbRaceMillis} (200 ms by default).
 */
class TlbFillRaceTest {
    private static final long MIB = 1 << 20;
    private static final long PAGE_ADDR = 0x3000;

    /** What a fill saw: the section's window (one per built section) and the entry's tag. */
    private record Seen(long generation, DirectWindow window, MemorySegment segment, int flags) {
    }

    /**
     * The mutator makes one publication per change and records, for every window its own fill gets
     * afterwards, the last generation under which that window was current. An entry may be tagged
     * older than its view (it refills once more), never newer: its window must have been current at
     * its generation or later.
     */
    @Test
    void entriesAreNeverTaggedNewerThanTheirAnswer() throws Exception {
        long millis = Long.getLong("guestmem.tlbRaceMillis", 200);
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamRegion a = RamRegion.allocate(sys, null, "a", MIB);
        RamRegion b = RamRegion.allocate(sys, null, "b", MIB);
        root.addSubregion(0, a);
        Map<DirectWindow, Seen> current = new IdentityHashMap<>(); // window -> last generation, its answer
        record(as, current);
        AtomicBoolean stop = new AtomicBoolean();
        List<Seen> seen = new ArrayList<>();
        Thread filler = new Thread(() -> {
            TlbEntry e = new TlbEntry();
            while (!stop.get()) {
                GuestTlb.fill(as, PAGE_ADDR, e);
                if (seen.size() < 2_000_000) {
                    seen.add(new Seen(e.generation(), e.window(), e.segment(), e.flags()));
                }
            }
        }, "tlb-filler");
        filler.start();
        long end = System.nanoTime() + millis * 1_000_000;
        RamRegion mapped = a;
        boolean readonly = false;
        boolean logged = false;
        int changes = 0;
        while (System.nanoTime() < end || changes < 30) {
            long before = as.generation();
            sys.transactionBegin(); // one publication per change: every generation is recorded
            try {
                switch (changes % 3) {
                    case 0 -> {
                        root.delSubregion(mapped);
                        mapped = mapped == a ? b : a;
                        root.addSubregion(0, mapped);
                    }
                    case 1 -> {
                        readonly = !readonly;
                        a.setReadonly(readonly);
                        b.setReadonly(readonly);
                    }
                    default -> {
                        logged = !logged;
                        a.setLog(logged, DirtyMemory.DIRTY_MEMORY_VGA);
                        b.setLog(logged, DirtyMemory.DIRTY_MEMORY_VGA);
                    }
                }
            } finally {
                sys.transactionCommit();
            }
            assertEquals(before + 1, as.generation(), "one publication per change");
            record(as, current);
            changes++;
        }
        stop.set(true);
        filler.join();
        for (Seen s : seen) {
            Seen last = current.get(s.window());
            assertNotNull(last, "a window the mutator never saw");
            assertTrue(s.generation() <= last.generation(), "entry tagged " + s.generation()
                    + " but built from the view of generation " + last.generation());
            assertSame(last.segment(), s.segment());
            assertEquals(last.flags(), s.flags());
        }
        assertTrue(seen.size() > 0);
    }

    /** Records the page's current window with the current generation (only this thread publishes). */
    private static void record(AddressSpace as, Map<DirectWindow, Seen> current) {
        TlbEntry e = TlbOracle.fill(as, PAGE_ADDR);
        current.put(e.window(), new Seen(e.generation(), e.window(), e.segment(), e.flags()));
    }
}
