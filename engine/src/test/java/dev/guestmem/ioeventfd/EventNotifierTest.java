package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** {@link EventNotifier}: a real eventfd, set/test-and-clear/await, safe close. */
class EventNotifierTest {
    @Test
    void setIsSeenOnceByTestAndClear() {
        try (EventNotifier e = EventNotifier.create()) {
            assertFalse(e.testAndClear());
            assertTrue(e.set());
            assertTrue(e.set());
            assertTrue(e.testAndClear());
            assertFalse(e.testAndClear());
        }
    }

    @Test
    void theDescriptorIsAnEventfdAnotherReaderSees() {
        try (EventNotifier e = EventNotifier.create(); Arena arena = Arena.ofConfined()) {
            e.set();
            e.set();
            MemorySegment buf = arena.allocate(8);
            // a reader holding only the descriptor (as a vhost backend would) reads the count
            assertTrue(LinuxCalls.read(e.fd(), buf, 8) == 8);
            assertTrue(buf.get(ValueLayout.JAVA_LONG, 0) == 2);
        }
    }

    @Test
    void awaitWakesOnSetFromAnotherThread() throws Exception {
        try (EventNotifier e = EventNotifier.create()) {
            assertFalse(e.await(Duration.ofMillis(20)));
            CountDownLatch started = new CountDownLatch(1);
            AtomicBoolean woke = new AtomicBoolean();
            Thread waiter = Thread.ofPlatform().start(() -> {
                started.countDown();
                woke.set(e.await(Duration.ofSeconds(30)));
            });
            started.await(10, TimeUnit.SECONDS);
            e.set();
            waiter.join(30_000);
            assertTrue(woke.get());
            assertTrue(e.testAndClear());
        }
    }

    @Test
    void closeIsIdempotentAndLaterCallsDoNothing() {
        EventNotifier e = EventNotifier.create();
        int fd = e.fd();
        e.close();
        e.close();
        assertTrue(e.isClosed());
        assertFalse(e.set());
        assertFalse(e.testAndClear());
        assertFalse(e.await(Duration.ofMillis(1)));
        // the descriptor really is closed
        boolean closed;
        try {
            LinuxCalls.dup(fd);
            closed = false;
        } catch (NativeCallException ex) {
            closed = true;
        }
        assertTrue(closed);
    }

    @Test
    void aClosedNotifierHandsOutNoDescriptorNumber() {
        EventNotifier e = EventNotifier.create();
        assertTrue(e.fd() >= 0);
        e.close();
        // event_notifier_cleanup sets rfd to -1: a late caller (a listener's eventfdDel after the
        // device closed its notifier) must not act on a number an unrelated file may have taken
        try (EventNotifier reuser = EventNotifier.create()) {
            assertEquals(-1, e.fd());
            assertNotEquals(reuser.fd(), e.fd());
        }
    }

    @Test
    void closeWakesAWaiterAndReleasesTheDescriptor() throws Exception {
        EventNotifier e = EventNotifier.create();
        int fd = e.fd();
        CountDownLatch started = new CountDownLatch(1);
        AtomicBoolean result = new AtomicBoolean(true);
        Thread waiter = Thread.ofPlatform().start(() -> {
            started.countDown();
            result.set(e.await(Duration.ofHours(1))); // a worker waiting for kicks until shutdown
        });
        started.await(10, TimeUnit.SECONDS);
        while (!inAwait(waiter)) {
            Thread.onSpinWait(); // any point inside await will do: before, in or after poll(2)
        }
        e.close();
        waiter.join(30_000);
        assertFalse(waiter.isAlive(), "close must wake a waiter, not leave it for the rest of its timeout");
        assertFalse(result.get(), "a wait ended by close is not a signal");
        boolean closed;
        try {
            LinuxCalls.close(LinuxCalls.dup(fd));
            closed = false;
        } catch (NativeCallException ex) {
            closed = true;
        }
        assertTrue(closed, "the descriptor is closed once the waiter left");
    }

    @Test
    void workersLoopingOnAwaitAllEndWhenTheNotifierCloses() throws Exception {
        int rounds = Integer.getInteger("guestmem.stress.rounds", 200) / 4;
        for (int r = 0; r < rounds; r++) {
            EventNotifier e = EventNotifier.create();
            Runnable worker = () -> {
                while (e.await(Duration.ofHours(1))) {
                    e.testAndClear();
                }
            };
            Thread w1 = Thread.ofPlatform().start(worker);
            Thread w2 = Thread.ofPlatform().start(worker);
            Thread kicker = Thread.ofPlatform().start(() -> {
                while (e.set()) {
                    Thread.onSpinWait();
                }
            });
            if ((r & 1) == 0) {
                Thread.yield(); // let some rounds close mid-traffic, others before the threads start
            }
            e.close();
            for (Thread t : new Thread[] {w1, w2, kicker}) {
                t.join(30_000);
                assertFalse(t.isAlive(), "round " + r);
            }
            try (EventNotifier next = EventNotifier.create()) {
                assertFalse(next.testAndClear(), "a new eventfd on a reused number is never written");
            }
        }
    }

    /** Whether {@code t} is inside {@link EventNotifier#await} (or has left it). */
    private static boolean inAwait(Thread t) {
        return !t.isAlive()
                || java.util.Arrays.stream(t.getStackTrace()).anyMatch(f -> f.getMethodName().equals("await"));
    }

    @Test
    void concurrentSetAndCloseNeverWriteAReusedDescriptor() throws Exception {
        int rounds = Integer.getInteger("guestmem.stress.rounds", 200);
        for (int r = 0; r < rounds; r++) {
            EventNotifier e = EventNotifier.create();
            Thread setter = Thread.ofPlatform().start(() -> {
                while (e.set()) {
                    Thread.onSpinWait();
                }
            });
            e.close();
            setter.join(30_000);
            assertFalse(setter.isAlive());
            // the number is free again: a new eventfd may take it, and nobody writes to it
            try (EventNotifier next = EventNotifier.create()) {
                assertFalse(next.testAndClear());
            }
        }
    }

    @Test
    void awaitTakesTimeoutsBeyondLongNanoseconds() {
        try (EventNotifier e = EventNotifier.create()) {
            // Duration.toNanos overflows past 292 years: such a wait is "as long as poll allows"
            assertFalse(e.await(Duration.ofSeconds(Long.MIN_VALUE)));
            e.set();
            assertTrue(e.await(Duration.ofSeconds(Long.MAX_VALUE)));
            assertTrue(e.await(ChronoUnit.FOREVER.getDuration()));
        }
    }

    @Test
    void notifiersAreOrderedByCreation() {
        try (EventNotifier a = EventNotifier.create(); EventNotifier b = EventNotifier.create()) {
            assertTrue(a.id() < b.id());
            assertNotEquals(a.fd(), b.fd());
        }
    }
}
