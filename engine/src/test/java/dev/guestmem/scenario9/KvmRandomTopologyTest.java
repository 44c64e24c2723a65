package dev.guestmem.scenario9;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.MemoryRegion;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random PC-like topology changes under a KVM-like accelerator while two fake vCPUs store through
 * the slots (or exit to MMIO) and a precopy migration runs. After every change: the slot table is
 * exactly the aligned RAM view of the published flat view, with the coalesced zones and ioeventfds;
 * no vCPU store ever touched released memory; a store through a logging slot is dirty for the
 * migration after a sync; and every migration's destination equals the source after its last round.
 *
 * <p>Steps per seed: {@code -Dguestmem.scenario9.steps=N} (default 150, a few seconds).
 */
class KvmRandomTopologyTest {
    private static final int STEPS = Integer.getInteger("guestmem.scenario9.steps", 150);

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void slotsFollowTheViewWhileVcpusStoreAndMigrationRuns(long seed) throws Exception {
        Random rnd = new Random(seed);
        FakeKvm kvm = new FakeKvm(32);
        KvmAccel accel = new KvmAccel(kvm);
        try (PcLikeMachine m = new PcLikeMachine()) {
            m.sys.registerListener(accel, m.as);
            CommitChecker checker = new CommitChecker(m.as, kvm);
            m.sys.registerListener(checker, m.as);
            PrecopyToMemory migration = new PrecopyToMemory(m.sys);
            int rounds = -1; // -1: not migrating
            int migrations = 0;
            try (Vcpus vcpus = new Vcpus(kvm, m.as, 2, seed)) {
                for (int step = 0; step < STEPS; step++) {
                    String where = "seed " + seed + " step " + step;
                    if (rnd.nextInt(8) == 0) {
                        if (rounds < 0) {
                            migration.start();
                            rounds = 0;
                        } else if (rounds < 3) {
                            migration.round(false);
                            rounds++;
                        } else {
                            finish(migration, vcpus, where);
                            rounds = -1;
                            migrations++;
                        }
                    } else if (rnd.nextInt(5) == 0) {
                        m.sys.transactionBegin();
                        try {
                            change(m, rnd, rounds >= 0);
                            change(m, rnd, rounds >= 0);
                            change(m, rnd, rounds >= 0);
                        } finally {
                            m.sys.transactionCommit();
                        }
                    } else {
                        change(m, rnd, rounds >= 0);
                    }
                    check(m, kvm, vcpus, where);
                    assertEquals(List.of(), List.copyOf(checker.mismatches), where);
                    if (rounds >= 0) {
                        probeLoggedStore(m, kvm, rnd, where);
                    }
                }
                if (rounds >= 0) {
                    finish(migration, vcpus, "seed " + seed + " end");
                    migrations++;
                }
                assertTrue(vcpus.slotStores.get() > 0 && vcpus.exits.get() > 0,
                        "vCPUs stored through slots and exited: " + vcpus.slotStores + " / " + vcpus.exits);
            }
            assertTrue(migrations > 0 || STEPS < 100, "a migration completed");
            m.sys.unregisterListener(checker);
            m.sys.unregisterListener(accel);
            assertEquals(List.of(), kvm.slots());
        }
    }

    private static void change(PcLikeMachine m, Random rnd, boolean migrating) {
        switch (rnd.nextInt(9)) {
            case 0 -> m.setPam(rnd.nextInt(PcLikeMachine.PAM_SEGMENTS), rnd.nextInt(3));
            case 1, 2 -> m.moveBar(rnd);
            case 3 -> m.flash.setRomd(!m.flash.isRomd());
            case 4 -> {
                if (!migrating) { // QEMU refuses device_del while migrating
                    m.plugOrUnplug(rnd);
                }
            }
            case 5 -> m.resizeAcpi(rnd);
            case 6 -> m.toggleVgaLog();
            case 7 -> m.toggleDoorbell(rnd);
            default -> m.toggleCoalescing();
        }
    }

    /** The slot table, zones and eventfds equal what the published view asks for. */
    private static void check(PcLikeMachine m, FakeKvm kvm, Vcpus vcpus, String where) {
        m.sys.lock().lock(); // no commit (from a vCPU's flash command) in between
        try {
            assertEquals(SlotOracle.slots(m.as.currentMap()), SlotOracle.slots(kvm), where);
            assertEquals(SlotOracle.coalesced(m.as.currentMap()), kvm.coalescedZones(), where);
            assertEquals(new HashSet<>(m.sys.ioeventfds(m.as)), new HashSet<>(kvm.ioeventfds()), where);
            assertEquals(SlotOracle.ioeventfds(m.as.currentMap()), new HashSet<>(kvm.ioeventfds()), where);
            assertEquals(List.of(), SlotOracle.disagreeWithDispatch(m.as, kvm), where);
        } finally {
            m.sys.lock().unlock();
        }
        assertEquals(List.of(), List.copyOf(vcpus.failures), where);
    }

    /** A store through a writable logging slot is dirty for its client once synced. */
    private static void probeLoggedStore(PcLikeMachine m, FakeKvm kvm, Random rnd, String where) {
        MemorySystem sys = m.sys;
        sys.lock().lock();
        try {
            List<MemSlot> logged = kvm.slots().stream().filter(s -> s.logsDirty() && !s.readonly).toList();
            if (logged.isEmpty()) {
                return;
            }
            MemSlot slot = logged.get(rnd.nextInt(logged.size()));
            long off = rnd.nextLong(slot.size) & ~7L;
            assertEquals(slot, kvm.vcpuStore(slot.guestBase + off, rnd.nextLong()), where);
            MemoryRegion mr = sys.regionAtHost(slot.host.address());
            long ramAddr = mr.ramBlock().offset() + (slot.host.address() - mr.ramBlock().hostAddress()) + off;
            sys.globalDirtyLogSync(false);
            int client = mr.isLogging(DirtyMemory.DIRTY_MEMORY_MIGRATION)
                    ? DirtyMemory.DIRTY_MEMORY_MIGRATION : DirtyMemory.DIRTY_MEMORY_VGA;
            assertTrue(sys.dirtyMemory().getDirty(ramAddr, 8, client),
                    where + ": store at " + slot + "+0x" + Long.toHexString(off) + " not dirty after sync");
        } finally {
            sys.lock().unlock();
        }
    }

    private static void finish(PrecopyToMemory migration, Vcpus vcpus, String where) {
        vcpus.pause(); // the VM stops for the last round
        try {
            migration.round(true);
            assertEquals(List.of(), migration.mismatches(), where + ": destination differs");
        } finally {
            vcpus.resume();
        }
        migration.stop();
    }
}
