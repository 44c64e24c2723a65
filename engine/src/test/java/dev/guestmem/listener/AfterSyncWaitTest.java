package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Listener callbacks run with the system's topology lock held. A migration's {@code logGlobalAfterSync}
 * that waits for a vCPU's next exit check, while that vCPU's device wants to change the topology
 * (move a BAR), deadlocks: the vCPU waits for the lock, the callback for the vCPU. The rule (guide
 * section 5): a callback may not wait for a thread that may need the lock; the after-sync only asks,
 * and the migration thread waits once {@code globalAfterDirtyLogSync()} has returned, before copying.
 * The deadlock is detected, not waited out: the callback gives up as soon as the vCPU is queued on
 * the lock it holds.
 */
class AfterSyncWaitTest {
    private static final long GUARD_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final long BAR = 0x1000_0000L;
    private static final long MOVED_BAR = 0x2000_0000L;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
    private final RamRegion bar = RamRegion.allocate(sys, null, "bar0", 0x1000);
    /** Released once the migration thread is waiting for the vCPU: the guest then reprograms the BAR. */
    private final CountDownLatch migrationWaits = new CountDownLatch(1);
    private final AtomicReference<Throwable> vcpuFailure = new AtomicReference<>();
    private volatile long exits;
    private Thread vcpu;

    AfterSyncWaitTest() {
        root.addSubregion(0, ram);
        root.addSubregion(BAR, bar);
        sys.globalDirtyLogStart();
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        migrationWaits.countDown();
        if (vcpu != null) {
            vcpu.join(TimeUnit.NANOSECONDS.toMillis(GUARD_NANOS));
        }
    }

    /** One vCPU block: the guest's store reaches a device that moves its BAR, then the exit check. */
    private void startVcpu() {
        vcpu = Thread.ofPlatform().name("vcpu0").daemon().start(() -> {
            try {
                as.stlLe(0x100, 1);
                if (!migrationWaits.await(GUARD_NANOS, TimeUnit.NANOSECONDS)) {
                    throw new AssertionError("the migration never waited");
                }
                bar.setAddress(MOVED_BAR); // a topology change: takes the system lock
                exits++;
            } catch (Throwable t) {
                vcpuFailure.set(t);
            }
        });
    }

    /**
     * Waits until the vCPU passed its exit check; gives up (returns false) if it is queued on the
     * system lock while this thread holds it, which is the deadlock.
     */
    private boolean awaitExit(long seen) {
        long deadline = System.nanoTime() + GUARD_NANOS;
        while (exits == seen) {
            if (sys.lock().isHeldByCurrentThread() && sys.lock().hasQueuedThread(vcpu)) {
                return false;
            }
            if (System.nanoTime() > deadline || !vcpu.isAlive() && exits == seen) {
                throw new AssertionError("the vCPU neither passed its exit check nor waited for the lock");
            }
            Thread.onSpinWait();
        }
        return true;
    }

    @Test
    void anAfterSyncThatWaitsForAVcpuWhoseDeviceChangesTheTopologyDeadlocks() {
        boolean[] passed = {true};
        sys.registerListener(new MemoryListener() {
            @Override
            public void logGlobalAfterSync() {
                long seen = exits;
                migrationWaits.countDown();
                passed[0] = awaitExit(seen); // QEMU's TCG waits here, but run_on_cpu drops the BQL
            }
        }, null);
        startVcpu();

        sys.globalDirtyLogSync(false);
        sys.globalAfterDirtyLogSync();

        assertFalse(passed[0], "the vCPU was stuck on the lock the waiting callback held: a deadlock");
    }

    @Test
    void anAfterSyncThatAsksAndAMigrationThatWaitsOutsideTheLockDoNotDeadlock() throws InterruptedException {
        long[] requested = {-1};
        sys.registerListener(new MemoryListener() {
            @Override
            public void logGlobalAfterSync() {
                requested[0] = exits; // ask (a real vCPU would be kicked here); do not wait under the lock
            }
        }, null);
        startVcpu();

        sys.globalDirtyLogSync(false);
        sys.globalAfterDirtyLogSync();
        assertFalse(sys.lock().isHeldByCurrentThread(), "the migration thread waits without the lock");
        migrationWaits.countDown();
        assertTrue(awaitExit(requested[0]), "the vCPU passed its exit check");
        // ... only now copy the round's pages

        vcpu.join(TimeUnit.NANOSECONDS.toMillis(GUARD_NANOS));
        assertNull(vcpuFailure.get());
        assertEquals(MOVED_BAR, bar.addr(), "the device's BAR move went through");
        as.stlLe(MOVED_BAR + 8, 0x5a5a);
        assertEquals(0x5a5a, bar.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, 8),
                "and is in the published view");
    }
}
