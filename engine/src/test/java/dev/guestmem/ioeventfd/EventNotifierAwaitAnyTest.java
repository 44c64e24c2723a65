package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link EventNotifier#awaitAny}: one device thread waiting on several queues' doorbells (the
 * friction a new user met porting virtio-blk: one thread per queue), as QEMU's AioContext polls its
 * event notifiers.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a lost wake-up hangs rather than fails
class EventNotifierAwaitAnyTest {
    private final EventNotifier q0 = EventNotifier.create();
    private final EventNotifier q1 = EventNotifier.create();
    private final EventNotifier q2 = EventNotifier.create();

    @AfterEach
    void close() {
        q0.close();
        q1.close();
        q2.close();
    }

    @Test
    void returnsTheSignalledOneWithoutClearingIt() {
        q1.set();
        assertEquals(1, EventNotifier.awaitAny(Duration.ofSeconds(30), q0, q1, q2));
        assertTrue(q1.testAndClear(), "awaitAny cleared the signal");
        q2.set();
        q0.set();
        assertEquals(0, EventNotifier.awaitAny(Duration.ofSeconds(30), q0, q1, q2), "the first signalled in order");
    }

    @Test
    void timesOutWithMinusOne() {
        assertEquals(-1, EventNotifier.awaitAny(Duration.ofMillis(10), q0, q1, q2));
        assertEquals(-1, EventNotifier.awaitAny(Duration.ZERO, q0, q1, q2));
    }

    @Test
    void aWaitingThreadWakesForASignalFromAnother() throws Exception {
        CompletableFuture<Integer> waiter = CompletableFuture.supplyAsync(
                () -> EventNotifier.awaitAny(Duration.ofSeconds(50), q0, q1, q2));
        q2.set();
        assertEquals(2, waiter.get(55, TimeUnit.SECONDS));
    }

    @Test
    void closedNotifiersAreLeftOutAndAllClosedReturnsAtOnce() {
        q0.close();
        q2.set();
        assertEquals(2, EventNotifier.awaitAny(Duration.ofSeconds(30), q0, q1, q2));
        q1.close();
        q2.close();
        assertEquals(-1, EventNotifier.awaitAny(Duration.ofDays(1), q0, q1, q2), "nothing left to wait for");
    }

    @Test
    void aCloseDuringTheWaitWakesTheWaiter() throws Exception {
        CompletableFuture<Integer> waiter = CompletableFuture.supplyAsync(
                () -> EventNotifier.awaitAny(Duration.ofDays(1), q1, q2));
        // Whether the waiter is already in poll(2) or not yet in awaitAny, it must end: woken by the
        // closes, or finding nothing left to wait for
        q1.close();
        q2.close();
        assertEquals(-1, waiter.get(55, TimeUnit.SECONDS), "a closed notifier is not a signal");
        assertFalse(q0.testAndClear());
    }

    @Test
    void refusesNoNotifiersAndTooMany() {
        assertThrows(IllegalArgumentException.class, () -> EventNotifier.awaitAny(Duration.ZERO));
        EventNotifier[] many = new EventNotifier[1025];
        java.util.Arrays.fill(many, q0);
        assertThrows(IllegalArgumentException.class, () -> EventNotifier.awaitAny(Duration.ZERO, many));
    }
}
