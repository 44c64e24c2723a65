package dev.guestmem.scenario10;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * Many machines in one JVM: each {@link Machine} has the same names and guest addresses, and what
 * one does (topology changes, migration, doorbells, re-entrant devices, teardown) must never reach
 * another.
 */
class MachineIsolationTest {
    private static final int MACHINES = 8;
    private static final int ITERATIONS = Integer.getInteger("guestmem.scenario10.iterations", 200);

    private static List<Machine> machines(int n) {
        List<Machine> ms = new ArrayList<>();
        Object sharedOwner = new Object(); // one device object reused by every machine
        for (int i = 0; i < n; i++) {
            ms.add(new Machine(sharedOwner));
        }
        return ms;
    }

    @Test
    void sameBlockNamesAndRamAddrsStayPerMachine() {
        List<Machine> ms = machines(2);
        Machine a = ms.get(0);
        Machine b = ms.get(1);
        RamBlock ra = a.sys.ramList().blockByName("ram");
        RamBlock rb = b.sys.ramList().blockByName("ram");
        assertSame(a.ram.ramBlock(), ra);
        assertSame(b.ram.ramBlock(), rb);
        assertEquals(ra.offset(), rb.offset(), "each machine numbers its own ram_addr space");
        a.as.stlLe(0x100, 0x11111111);
        b.as.stlLe(0x100, 0x22222222);
        assertEquals(0x11111111, a.as.ldlLe(0x100));
        assertEquals(0x22222222, b.as.ldlLe(0x100));
    }

    @Test
    void migrationOfOneMachineNeitherMarksNorSyncsNorTellsAnother() {
        List<Machine> ms = machines(2);
        Machine a = ms.get(0);
        Machine b = ms.get(1);
        DirtyMemory bd = b.sys.dirtyMemory();
        long bRam = b.ram.ramBlock().offset();
        bd.resetDirty(bRam, Machine.RAM_SIZE, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        a.sys.globalDirtyLogStart();
        try {
            assertTrue(a.sys.isGlobalDirtyTracking());
            assertFalse(b.sys.isGlobalDirtyTracking());
            b.as.stlLe(0x3000, 7);
            a.as.stlLe(0x3000, 7);
            a.sys.globalDirtyLogSync(false);
            a.sys.globalAfterDirtyLogSync();
            assertFalse(bd.getDirty(bRam + 0x3000, 4, DirtyMemory.DIRTY_MEMORY_MIGRATION),
                    "B is not migrating: its write is not logged for migration");
            assertTrue(a.sys.dirtyMemory().getDirty(a.ram.ramBlock().offset() + 0x3000, 4,
                    DirtyMemory.DIRTY_MEMORY_MIGRATION));
        } finally {
            a.sys.globalDirtyLogStop();
        }
        assertEquals(1, a.listener.globalStarts.get());
        assertEquals(1, a.listener.globalStops.get());
        assertTrue(a.listener.syncs.get() > 0);
        assertEquals(1, a.listener.afterSyncs.get());
        assertEquals(0, b.listener.globalStarts.get());
        assertEquals(0, b.listener.globalStops.get());
        assertEquals(0, b.listener.syncs.get());
        assertEquals(0, b.listener.afterSyncs.get());
        assertEquals(0, b.listener.logStarts.get());
    }

    @Test
    void aTlbEntryOfOneMachineNeverValidatesInAnother() {
        List<Machine> ms = machines(MACHINES);
        TlbEntry[] entries = new TlbEntry[MACHINES];
        for (int round = 0; round < ITERATIONS; round++) {
            for (int i = 0; i < MACHINES; i++) {
                entries[i] = new TlbEntry();
                assertTrue(GuestTlb.fill(ms.get(i).as, 0x2000, entries[i]));
            }
            for (int i = 0; i < MACHINES; i++) {
                for (int j = 0; j < MACHINES; j++) {
                    if (i != j) {
                        assertNotEquals(ms.get(j).as.generation(), entries[i].generation(),
                                "round " + round + ": machine " + i + "'s entry validates in machine " + j);
                    }
                }
                assertNotSame(ms.get((i + 1) % MACHINES).ram.ramBlock().segment(), entries[i].segment());
            }
            // Unequal numbers of changes, so the machines' counts cross each other.
            for (int i = 0; i < MACHINES; i++) {
                for (int k = 0; k <= i; k++) {
                    ms.get(i).flipBar();
                }
            }
        }
    }

    @Test
    void aDoorbellSignalsOnlyItsOwnMachine() {
        List<Machine> ms = machines(3);
        assertEquals(1, ms.get(0).sys.ioeventfds(ms.get(0).as).size());
        for (Machine m : ms) {
            assertEquals(1, m.listener.eventfdAdds.get());
            assertEquals(1, m.listener.coalescedAdds.get());
            assertSame(m.kick, m.sys.ioeventfds(m.as).get(0).notifier());
        }
        assertEquals(MemTxResult.OK, ms.get(1).as.stlLe(Machine.DEV + Machine.DOORBELL, 1));
        assertFalse(ms.get(0).kick.testAndClear());
        assertTrue(ms.get(1).kick.testAndClear());
        assertFalse(ms.get(2).kick.testAndClear());
        for (Machine m : ms) {
            assertEquals(0, m.devWrites.get(), "the eventfd took the doorbell write");
        }
    }

    @Test
    void aDeviceCallingAnotherMachinesDeviceOfTheSameOwnerIsNotAReentry() {
        List<Machine> ms = machines(2);
        Machine a = ms.get(0);
        Machine b = ms.get(1);
        int[] inner = {-1};
        a.onDevWrite = v -> inner[0] = b.as.stlLe(Machine.DEV, 2);
        assertEquals(MemTxResult.OK, a.as.stlLe(Machine.DEV, 1));
        assertEquals(MemTxResult.OK, inner[0], "B's device is another device, though its owner object is A's");
        assertEquals(1, b.devWrites.get());
        // A's own device, reached back from B's callback, is a re-entry of A's.
        b.onDevWrite = v -> inner[0] = a.as.stlLe(Machine.DEV, 3);
        a.onDevWrite = v -> b.as.stlLe(Machine.DEV, 2);
        a.as.stlLe(Machine.DEV, 1);
        assertEquals(MemTxResult.ACCESS_ERROR, inner[0]);
    }

    @Test
    void tearingDownOneMachineReleasesNothingOfTheOthers() {
        List<Machine> ms = machines(3);
        Machine gone = ms.get(1);
        gone.sys.unregisterListener(gone.listener);
        gone.sys.destroyAddressSpace(gone.as);
        gone.root.delSubregion(gone.ram);
        gone.root.delSubregion(gone.dev);
        gone.root.delSubregion(gone.bar);
        gone.ram.destroy();
        gone.dev.destroy();
        gone.bar.destroy();
        gone.kick.close();
        assertStillRunning(ms.get(0));
        assertStillRunning(ms.get(2));
    }

    @Test
    void closingOneMachineReleasesItsRamAndNothingOfTheOthers() {
        List<Machine> ms = machines(3);
        Machine gone = ms.get(1);
        RamBlock goneRam = gone.ram.ramBlock();
        gone.sys.close();
        gone.kick.close(); // the doorbell's notifier is the user's
        assertTrue(goneRam.isReleased());
        assertEquals(MemTxResult.DECODE_ERROR, gone.as.stlLe(0x40, 9));
        assertStillRunning(ms.get(0));
        assertStillRunning(ms.get(2));
    }

    /** The machine's RAM, device doorbell and listener work as before another machine went. */
    private static void assertStillRunning(Machine m) {
        assertTrue(m.ram.ramBlock().segment().scope().isAlive());
        assertSame(m.ram.ramBlock(), m.sys.ramList().blockByName("ram"));
        assertEquals(MemTxResult.OK, m.as.stlLe(0x40, 9));
        assertEquals(9, m.as.ldlLe(0x40));
        assertEquals(MemTxResult.OK, m.as.stlLe(Machine.DEV + Machine.DOORBELL, 1));
        assertTrue(m.kick.testAndClear());
        long before = m.listener.commits.get();
        m.flipBar();
        assertEquals(before + 1, m.listener.commits.get());
    }

    @Test
    void machinesOnTheirOwnThreadsSeeOnlyThemselves() throws Exception {
        List<Machine> ms = machines(MACHINES);
        for (Machine m : ms) {
            m.sys.dirtyMemory().resetDirty(m.ram.ramBlock().offset(), Machine.RAM_SIZE,
                    DirtyMemory.DIRTY_MEMORY_MIGRATION);
        }
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < MACHINES; i++) {
            Machine m = ms.get(i);
            boolean migrates = i == 0;
            int id = i;
            threads.add(Thread.ofPlatform().name("machine-" + i).start(() -> {
                try {
                    start.await();
                    run(m, id, migrates, failures);
                } catch (Throwable t) {
                    failures.add("machine " + id + ": " + t);
                }
            }));
        }
        start.countDown();
        for (Thread t : threads) {
            t.join();
        }
        for (Machine m : ms) {
            failures.addAll(m.listener.foreign);
        }
        assertEquals(List.of(), List.copyOf(failures));
        for (int i = 1; i < MACHINES; i++) {
            RecordingListener l = ms.get(i).listener;
            assertEquals(0, l.globalStarts.get() + l.syncs.get() + l.afterSyncs.get() + l.logStarts.get(),
                    "machine " + i + " heard machine 0's migration");
            assertFalse(ms.get(i).sys.dirtyMemory().getDirty(ms.get(i).ram.ramBlock().offset(), Machine.RAM_SIZE,
                    DirtyMemory.DIRTY_MEMORY_MIGRATION), "machine " + i + " logged for a migration it never ran");
        }
        assertEquals(ITERATIONS, ms.get(0).listener.globalStarts.get());
    }

    private static void run(Machine m, int id, boolean migrates, Queue<String> failures) {
        TlbEntry e = new TlbEntry();
        for (int n = 0; n < ITERATIONS; n++) {
            if (migrates) {
                m.sys.globalDirtyLogStart();
            }
            m.flipBar();
            int value = id << 16 | n;
            m.as.stlLe(0x1000L * (n % 16), value);
            if (m.as.ldlLe(0x1000L * (n % 16)) != value) {
                failures.add("machine " + id + " read another value at round " + n);
            }
            if (!GuestTlb.fill(m.as, 0x1000L * (n % 16), e) || e.generation() != m.as.generation()
                    && !migrates) {
                failures.add("machine " + id + " TLB fill at round " + n + " is stale or failed");
            }
            if (e.segment() != null && e.segment() != m.ram.ramBlock().segment()) {
                failures.add("machine " + id + " TLB points at another machine's RAM at round " + n);
            }
            m.as.stlLe(Machine.DEV + Machine.DOORBELL, 1);
            if (!m.kick.testAndClear()) {
                failures.add("machine " + id + " doorbell lost at round " + n);
            }
            if (migrates) {
                m.sys.globalDirtyLogSync(false);
                m.sys.globalAfterDirtyLogSync();
                m.sys.globalDirtyLogStop();
            }
        }
    }
}
