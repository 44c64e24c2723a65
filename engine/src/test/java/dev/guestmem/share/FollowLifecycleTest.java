package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A following peer's thread and descriptors: what a listener does on the follow thread, and what is
 * left once both sides are closed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FollowLifecycleTest {
    private static final long MIB = 1L << 20;
    private static final SharedRamRegion RAM0 = new SharedRamRegion("ram0", 0, MIB);
    private static final SharedRamRegion DIMM0 = new SharedRamRegion("dimm0", 0x100000000L, 2 * MIB);
    private static final SharedRamRegion DIMM1 = new SharedRamRegion("dimm1", 0x200000000L, MIB);
    private static final Duration WAIT = Duration.ofSeconds(20);

    /** A listener that throws an Error (a failed assertion in a test's listener) is reported like any throw. */
    @Test
    void aListenerThrowingAnErrorDoesNotStopFollowing(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m);
             SharedMachine peer = FollowingPeerTest.attachFollowingServed(server, sock)) {
            AtomicReference<Throwable> reported = new AtomicReference<>();
            Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.set(e));
            try {
                peer.addLayoutListener(c -> {
                    throw new AssertionError("listener failed on " + c);
                });
                m.plug(DIMM0);
                m.plug(DIMM1);
                assertTrue(peer.awaitLayoutChanges(2, WAIT), "following stopped: " + peer.followingStopped());
                assertTrue(peer.isFollowing(), "following stopped: " + peer.followingStopped());
                assertEquals(List.of(RAM0, DIMM0, DIMM1), peer.layout());
                assertTrue(reported.get() instanceof AssertionError, "reported: " + reported.get());
            } finally {
                Thread.setDefaultUncaughtExceptionHandler(null);
            }
        }
    }

    /** A listener may close its machine: the follow thread does not wait for itself. */
    @Test
    void aListenerMayCloseItsMachine(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            SharedMachine peer = FollowingPeerTest.attachFollowingServed(server, sock);
            CompletableFuture<Void> closed = new CompletableFuture<>();
            peer.addLayoutListener(c -> {
                peer.close();
                closed.complete(null);
            });
            m.plug(DIMM0);
            closed.get(20, TimeUnit.SECONDS);
            assertFalse(peer.awaitLayoutChanges(2, WAIT));
            assertEquals("the machine was closed", peer.followingStopped());
            assertTrue(peer.blocks().stream().allMatch(b -> b.isReleased()), "closed from the listener, blocks released");
        }
    }

    /**
     * A null timeout is refused before connecting: the server serves nobody, and no block of it is
     * noted as mapped by another process (a note that is never cleared).
     */
    @Test
    void aNullTimeoutIsRefusedBeforeTheServerHandsOutItsRam(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> server.serveOne(Duration.ofSeconds(2)),
                    Thread::startVirtualThread);
            assertThrows(NullPointerException.class, () -> SharedMachine.attachFollowing(sock, null));
            assertThrows(NullPointerException.class, () -> SharedMachine.attach(sock, null));
            assertFalse(served.get(20, TimeUnit.SECONDS), "a peer was served");
            assertEquals(0, server.served());
            assertNull(m.blocks().get(0).mappedElsewhere());
        }
    }

    /** Attach, follow two changes, close both sides: no descriptor and no follow or handshake thread is left. */
    @Test
    void nothingIsLeftOnceBothSidesAreClosed(@TempDir Path dir) throws Exception {
        cycle(dir, 0); // warm-up: lazily opened descriptors of the JDK and the engine
        awaitNoHandshakes(); // an earlier test's one-shot peers may still hold a connection
        long fds = openFds();
        for (int i = 1; i <= 3; i++) {
            cycle(dir, i);
        }
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (shareThreads() > 0 && System.nanoTime() - deadline < 0) {
            Thread.sleep(10);
        }
        assertEquals(0, shareThreads(), "share threads left");
        assertEquals(fds, openFds(), "descriptors left");
    }

    private static void cycle(Path dir, int i) throws Exception {
        String sock = dir.resolve("c" + i + ".sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            SharedMachine peer = FollowingPeerTest.attachFollowingServed(server, sock);
            try (peer) {
                m.plug(DIMM0);
                m.unplug("dimm0");
                assertTrue(peer.awaitLayoutChanges(2, WAIT), peer.followingStopped());
            }
            CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> server.serveOne(WAIT), Thread::startVirtualThread);
            SharedMachine.attach(sock, WAIT).close(); // a one-shot peer too
            assertTrue(served.get(20, TimeUnit.SECONDS));
        }
    }

    /** Waits until no server waits for a peer's request (each holds that peer's connection). */
    static void awaitNoHandshakes() throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("share-handshake"))
                && System.nanoTime() - deadline < 0) {
            Thread.sleep(10);
        }
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    private static long shareThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("share-")).count();
    }
}
