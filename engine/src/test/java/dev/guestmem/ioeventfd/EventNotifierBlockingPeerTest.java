package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A notifier whose descriptor a peer (a vhost-user backend) made blocking: O_NONBLOCK lives in the
 * open file description, which the peer shares, so it can clear it. A kick with room in the counter
 * is written as usual. A kick on a counter the peer filled to its maximum blocks in write(2) (a known
 * limit, as QEMU's {@code event_notifier_set}: asking {@code poll(POLLOUT)} first doubled the cost
 * of every kick and still left a window), so that case is an audit probe: with
 * {@code -Dguestmem.audit=true} it fails by its timeout, showing the limit.
 */
class EventNotifierBlockingPeerTest {
    /** The largest value an eventfd counter holds; a write that would pass it blocks (or EAGAIN). */
    private static final long COUNTER_MAX = 0xffff_ffff_ffff_fffeL;

    private final Arena arena = Arena.ofShared(); // the test body runs in a timeout thread
    private final MemorySegment buf = arena.allocate(ValueLayout.JAVA_LONG);
    private EventNotifier e;
    /** A second descriptor on the same eventfd, as the peer holds; it outlives a hung test. */
    private int peer;

    @BeforeEach
    void blockingDescriptor() {
        e = EventNotifier.create();
        peer = LinuxCalls.fcntl(e.fd(), Linux.F_DUPFD_CLOEXEC(), 0);
        int flags = LinuxCalls.fcntl(peer, Linux.F_GETFL(), 0);
        LinuxCalls.fcntl(peer, Linux.F_SETFL(), flags & ~Linux.O_NONBLOCK()); // what the peer may do
        assertEquals(0, LinuxCalls.fcntl(e.fd(), Linux.F_GETFL(), 0) & Linux.O_NONBLOCK(), "flags are shared");
    }

    @AfterEach
    void release() {
        // Empties the counter without blocking: a set() stuck in write(2) (the defect) completes, so
        // a failure does not leave a thread blocked for ever in this JVM.
        LinuxCalls.fcntl(peer, Linux.F_SETFL(), LinuxCalls.fcntl(peer, Linux.F_GETFL(), 0) | Linux.O_NONBLOCK());
        Linux.read(peer, buf, 8);
        LinuxCalls.close(peer);
        e.close();
        arena.close();
    }

    @Test
    @EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
    @Timeout(value = 10, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aKickOnAFullCounterReturnsAndKeepsThePeersPendingKick() {
        buf.set(ValueLayout.JAVA_LONG, 0, COUNTER_MAX);
        assertEquals(8, LinuxCalls.write(peer, buf, 8));
        assertTrue(e.set(), "the notifier is open"); // blocks in write(2): the known limit
        assertEquals(8, LinuxCalls.read(peer, buf, 8));
        assertEquals(COUNTER_MAX, buf.get(ValueLayout.JAVA_LONG, 0), "the full counter was not changed");
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aKickWithRoomIsWrittenOnABlockingDescriptor() {
        buf.set(ValueLayout.JAVA_LONG, 0, COUNTER_MAX - 1);
        assertEquals(8, LinuxCalls.write(peer, buf, 8));
        assertTrue(e.set());
        assertEquals(8, LinuxCalls.read(peer, buf, 8));
        assertEquals(COUNTER_MAX, buf.get(ValueLayout.JAVA_LONG, 0), "the kick was added");
        assertTrue(e.set());
        assertTrue(e.set());
        assertEquals(8, LinuxCalls.read(peer, buf, 8));
        assertEquals(2, buf.get(ValueLayout.JAVA_LONG, 0));
    }
}
