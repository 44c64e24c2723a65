package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.linux.Linux;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code delEventfd}'s grace period: once it returns, no guest write signals the deleted eventfd,
 * even one that checked the eventfd list before the deletion (QEMU's KVM path: SRCU in
 * {@code KVM_IOEVENTFD} deassign).
 */
@Timeout(120) // a lost wake-up would hang, not fail
class IoeventfdGraceTest extends IoeventfdTestBase {
    static final long BASE = 0xfe00_0000L;
    static final long DOORBELL = 0x10;
    /** Cycles of the stress test (add, writes, delete, close), from {@code guestmem.stress.rounds}. */
    static final int CYCLES = Integer.getInteger("guestmem.stress.rounds", 200);

    private final AtomicLong deviceWriteCount = new AtomicLong();
    private final List<Runnable> onDeviceWrite = new ArrayList<>();

    private IoRegion device() {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, v, s) -> {
                    deviceWriteCount.incrementAndGet();
                    onDeviceWrite.forEach(Runnable::run);
                })
                .valid(1, 8, false)
                .impl(1, 8, false)
                .build();
        IoRegion dev = new IoRegion(sys, new Object(), ops, "doorbell", 0x1000);
        root.addSubregion(BASE, dev);
        return dev;
    }

    /**
     * Parks writes to {@code dev}'s eventfds in {@link SignalGrace#beforeSignal}: after their check,
     * before their signal.
     */
    private static CountDownLatch parkWritesBeforeSignal(IoRegion dev, CountDownLatch parked) {
        CountDownLatch release = new CountDownLatch(1);
        dev.ioeventfds().grace().beforeSignal = () -> {
            parked.countDown();
            awaitUninterruptibly(release);
        };
        return release;
    }

    /**
     * The window: a write that found the eventfd registered is parked before its signal while the
     * device deletes the eventfd and drains the notifier. Without a grace period the deletion
     * returns first and the write signals the notifier after it.
     */
    @Test
    void deleteReturnsOnlyAfterAWriteThatPassedItsCheckHasSignalled() throws Exception {
        IoRegion dev = device();
        EventNotifier kick = notifier();
        dev.addEventfd(DOORBELL, 4, false, 0, kick);
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = parkWritesBeforeSignal(dev, parked);
        AtomicInteger result = new AtomicInteger(-1);
        Thread writer = Thread.ofPlatform().start(() -> result.set(as.stlLe(BASE + DOORBELL, 1)));
        parked.await();

        AtomicBoolean drainedAtDelete = new AtomicBoolean();
        Thread deleter = Thread.ofPlatform().start(() -> {
            dev.delEventfd(DOORBELL, 4, false, 0, kick);
            drainedAtDelete.set(kick.testAndClear()); // as virtio drains a retired doorbell
        });
        awaitFinishedOrWaiting(deleter);
        release.countDown();
        writer.join();
        deleter.join();

        assertFalse(kick.testAndClear(), "the notifier was signalled after delEventfd returned");
        assertTrue(drainedAtDelete.get(), "the write's signal was not there when delEventfd returned");
        assertEquals(MemTxResult.OK, result.get());
        assertEquals(0, deviceWriteCount.get(), "a write that signalled also reached the device");
    }

    /**
     * The same window with the notifier closed right after the deletion: the write's kick must be
     * seen by the device (signalled before the deletion returned), not land on a closed notifier.
     */
    @Test
    void deleteThenCloseLosesNoWrite() throws Exception {
        IoRegion dev = device();
        EventNotifier kick = EventNotifier.create();
        dev.addEventfd(DOORBELL, 4, false, 0, kick);
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = parkWritesBeforeSignal(dev, parked);
        Thread writer = Thread.ofPlatform().start(() -> as.stlLe(BASE + DOORBELL, 1));
        parked.await();

        AtomicBoolean drained = new AtomicBoolean();
        Thread deleter = Thread.ofPlatform().start(() -> {
            dev.delEventfd(DOORBELL, 4, false, 0, kick);
            drained.set(kick.testAndClear());
            kick.close();
        });
        awaitFinishedOrWaiting(deleter);
        release.countDown();
        writer.join();
        deleter.join();

        assertTrue(kick.isClosed());
        assertTrue(drained.get() || deviceWriteCount.get() == 1,
                "the write was neither signalled before delEventfd returned nor given to the device");
    }

    /**
     * A device callback deleting an eventfd of its own region on the vCPU thread: the grace period
     * waits only for signalling writes, which run no device code, so it cannot wait for itself.
     */
    @Test
    void deleteFromADeviceCallbackOnTheWritingThreadReturns() {
        IoRegion dev = device();
        EventNotifier kick = notifier();
        dev.addEventfd(DOORBELL, 4, false, 0, kick);
        onDeviceWrite.add(() -> {
            if (!dev.ioeventfds().isEmpty()) {
                dev.delEventfd(DOORBELL, 4, false, 0, kick);
            }
        });

        assertEquals(MemTxResult.OK, as.stlLe(BASE + DOORBELL, 1));
        assertTrue(kick.testAndClear());
        assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x20, 1)); // the device deletes the doorbell
        assertTrue(dev.ioeventfds().isEmpty());
        assertEquals(MemTxResult.OK, as.stlLe(BASE + DOORBELL, 1));
        assertFalse(kick.testAndClear());
        assertEquals(2, deviceWriteCount.get());
    }

    /**
     * Writers hammer a doorbell while the device adds an eventfd on a fresh notifier, deletes it and
     * closes the notifier, over and over (closed descriptor numbers are reused by the next one).
     * Every write must be counted once: by the device or by a notifier before its deletion returned.
     * A signal after the deletion, or a write landing on a closed notifier, breaks the count.
     */
    @Test
    void addDeleteCloseCyclesUnderWritesLoseAndLeakNoSignal() throws Exception {
        IoRegion dev = device();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong writes = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            writers.add(Thread.ofPlatform().start(() -> {
                try {
                    while (!stop.get()) {
                        assertEquals(MemTxResult.OK, as.stlLe(BASE + DOORBELL, 1));
                        writes.incrementAndGet();
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            }));
        }
        long signalled = 0;
        try {
            for (int cycle = 0; cycle < CYCLES; cycle++) {
                EventNotifier kick = EventNotifier.create();
                try {
                    dev.addEventfd(DOORBELL, 4, false, 0, kick);
                    kick.await(Duration.ofSeconds(30)); // some writes signal it
                    dev.delEventfd(DOORBELL, 4, false, 0, kick);
                    signalled += counter(kick);
                    for (int i = 0; i < 100; i++) {
                        Thread.onSpinWait(); // writes go on, to the device now
                    }
                    assertEquals(0, counter(kick), "cycle " + cycle + ": signalled after delEventfd returned");
                } finally {
                    kick.close();
                }
            }
        } finally {
            stop.set(true);
            for (Thread t : writers) {
                t.join();
            }
        }
        if (failure.get() != null) {
            throw new AssertionError("a writer failed", failure.get());
        }
        assertEquals(writes.get(), deviceWriteCount.get() + signalled,
                "writes != device writes + signals before the deletions (a signal leaked or a write was lost)");
    }

    /** Reads and zeroes the eventfd counter: how many signals since the last read. */
    private static long counter(EventNotifier n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
            return Linux.read(n.fd(), buf, 8) == 8 ? buf.get(ValueLayout.JAVA_LONG, 0) : 0;
        }
    }

    /**
     * An interrupted thread deleting an eventfd: {@code parkNanos} returns at once for it, so the
     * grace period spun on a core, its interrupt set throughout, until the parked write finished. It
     * must wait with the interrupt put aside (seen here as the flag clear mid-wait), complete, and
     * return with the flag set again.
     */
    @Test
    @Timeout(30) // before the fix the flag never clears: a hang guard, not a timing check
    void anInterruptedDeleteWaitsWithoutSpinningAndKeepsItsInterrupt() throws Exception {
        IoRegion dev = device();
        EventNotifier kick = notifier();
        dev.addEventfd(DOORBELL, 4, false, 0, kick);
        CountDownLatch parked = new CountDownLatch(1);
        CountDownLatch release = parkWritesBeforeSignal(dev, parked);
        Thread writer = Thread.ofPlatform().start(() -> as.stlLe(BASE + DOORBELL, 1));
        parked.await();

        CountDownLatch selfInterrupted = new CountDownLatch(1);
        AtomicBoolean interruptedAfter = new AtomicBoolean();
        AtomicBoolean drainedAtDelete = new AtomicBoolean();
        Thread deleter = Thread.ofPlatform().start(() -> {
            Thread.currentThread().interrupt();
            selfInterrupted.countDown();
            dev.delEventfd(DOORBELL, 4, false, 0, kick);
            interruptedAfter.set(Thread.currentThread().isInterrupted());
            drainedAtDelete.set(kick.testAndClear());
        });
        selfInterrupted.await();
        try {
            // The write is still parked, so the deletion is still waiting. JUnit's timeout interrupts
            // this thread: stop then, and release the write so the deleter does not spin for ever.
            while (deleter.isInterrupted() && !Thread.currentThread().isInterrupted()) {
                Thread.onSpinWait();
            }
            assertFalse(deleter.isInterrupted(), "the deleter waits with its interrupt set: parkNanos does not park it");
            assertTrue(deleter.isAlive(), "delEventfd returned while the write was still before its signal");
        } finally {
            release.countDown();
        }
        writer.join();
        deleter.join();

        assertTrue(interruptedAfter.get(), "delEventfd swallowed the thread's interrupt");
        assertTrue(drainedAtDelete.get(), "the write's signal was not there when delEventfd returned");
        assertFalse(kick.testAndClear(), "the notifier was signalled after delEventfd returned");
    }

    /**
     * Waits until {@code t} has ended or is parked (delEventfd waiting for a write): a state, not a
     * duration, so the test does not depend on timing.
     */
    private static void awaitFinishedOrWaiting(Thread t) {
        while (true) {
            Thread.State s = t.getState();
            if (s == Thread.State.TERMINATED || s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
                return;
            }
            Thread.onSpinWait();
        }
    }

    private static void awaitUninterruptibly(CountDownLatch latch) {
        while (true) {
            try {
                latch.await();
                return;
            } catch (InterruptedException e) {
                // keep waiting: the test releases it
            }
        }
    }
}
