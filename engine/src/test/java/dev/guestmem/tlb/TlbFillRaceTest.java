package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
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

    /** What the view published under one generation answers for the page. */
    private record Answer(MemorySegment segment, boolean readonly, boolean logged) {
    }

    /** What a filler saw. */
    private record Seen(long generation, MemorySegment segment, int flags) {
    }

    @Test
    void entriesAreNeverTaggedNewerThanTheirAnswer() throws Exception {
        long millis = Long.getLong("guestmem.tlbRaceMillis", 200);
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamRegion a = RamRegion.allocate(sys, null, "a", MIB);
        RamRegion b = RamRegion.allocate(sys, null, "b", MIB);
        root.addSubregion(0, a);
        ConcurrentHashMap<Long, Answer> byGeneration = new ConcurrentHashMap<>();
        byGeneration.put(as.generation(), new Answer(a.ramBlock().segment(), false, false));
        AtomicBoolean stop = new AtomicBoolean();
        List<Seen> seen = new ArrayList<>();
        Thread filler = new Thread(() -> {
            TlbEntry e = new TlbEntry();
            while (!stop.get()) {
                GuestTlb.fill(as, PAGE_ADDR, e);
                if (seen.size() < 2_000_000) {
                    seen.add(new Seen(e.generation(), e.segment(), e.flags()));
                }
            }
        }, "tlb-filler");
        filler.start();
        long end = System.nanoTime() + millis * 1_000_000;
        RamRegion mapped = a;
        boolean readonly = false;
        boolean logged = false;
        int changes = 0;
        // the generation moves only at this thread's commits: record what each one publishes
        while (System.nanoTime() < end || changes < 30) {
            switch (changes % 3) {
                case 0 -> {
                    RamRegion next = mapped == a ? b : a;
                    RamRegion old = mapped;
                    sys.transactionBegin();
                    try {
                        root.delSubregion(old);
                        root.addSubregion(0, next);
                    } finally {
                        sys.transactionCommit();
                    }
                    mapped = next;
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
            // setReadonly/setLog on a and b are two commits: only the second generation is recorded
            byGeneration.put(as.generation(), new Answer(mapped.ramBlock().segment(), readonly, logged));
            changes++;
        }
        stop.set(true);
        filler.join();
        int checked = 0;
        for (Seen s : seen) {
            Answer want = byGeneration.get(s.generation());
            if (want == null) {
                continue; // the intermediate generation of a two-commit change
            }
            checked++;
            assertNotNull(s.segment(), "gen " + s.generation());
            assertSame(want.segment(), s.segment(), "gen " + s.generation() + ": another block's answer");
            assertEquals(want.readonly(), (s.flags() & GuestTlb.TLB_READONLY) != 0, "gen " + s.generation() + " read-only");
            assertEquals(want.logged(), (s.flags() & GuestTlb.TLB_NOTDIRTY) != 0, "gen " + s.generation() + " logged");
        }
        assertTrue(checked > 0, "the filler saw no recorded generation");
    }
}
