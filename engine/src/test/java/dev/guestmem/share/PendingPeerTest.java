package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A served peer between its layout and its request to follow: the server hangs up on it when it
 * cannot wait for the request or keep its changes, and tells it why first.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PendingPeerTest {
    private static final SharedRamRegion RAM0 = new SharedRamRegion("ram0", 0, 1L << 20);
    private static final SharedRamRegion DIMM = new SharedRamRegion("dimm0", 0x100000000L, 4096);
    private static final Duration WAIT = Duration.ofSeconds(20);

    /**
     * The handshake thread cannot be started (no native thread left): the connection is closed, the
     * peer told why, serveOne says so, and the server goes on serving. It used to keep the connection
     * for good (only that thread enforces the handshake deadline): the peer waited out its timeout.
     */
    @Test
    void aHandshakeThreadThatCannotStartClosesTheConnection(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        AtomicBoolean failNext = new AtomicBoolean(true);
        RamShareServer.HandshakeStarter starter = (name, handshake) -> {
            if (failNext.getAndSet(false)) {
                throw new OutOfMemoryError("unable to create native thread: possibly out of memory or process/resource limits reached");
            }
            RamShareServer.DAEMON_THREADS.start(name, handshake);
        };
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m, PeerPolicy.sameUserOrRoot(), starter)) {
            CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> server.serveOne(WAIT), Thread::startVirtualThread);
            ShareException refused = assertThrows(ShareException.class, () -> SharedMachine.attachFollowing(sock, WAIT));
            assertTrue(refused.getMessage().contains("before it could follow") && refused.getMessage().contains("thread"),
                    refused.getMessage());
            ExecutionException e = assertThrows(ExecutionException.class, () -> served.get(20, TimeUnit.SECONDS));
            assertInstanceOf(ShareException.class, e.getCause());
            assertInstanceOf(OutOfMemoryError.class, e.getCause().getCause());
            assertTrue(server.disconnects().stream().anyMatch(d -> d.contains("thread")), server.disconnects().toString());

            try (SharedMachine peer = FollowingPeerTest.attachFollowingServed(server, sock)) {
                assertEquals(1, server.following());
                m.plug(DIMM);
                assertTrue(peer.awaitLayoutChanges(1, WAIT), peer.followingStopped());
            }
        }
    }

    /**
     * More than {@link FollowFeed#MAX_QUEUED} changes come before the server reads a peer's request
     * (its handshake thread is held back): the peer is disconnected and told so, in words for a
     * user, not that the server "does not push changes".
     */
    @Test
    void aPeerDisconnectedForTooManyChangesIsToldWhy(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        CountDownLatch release = new CountDownLatch(1);
        RamShareServer.HandshakeStarter held = (name, handshake) -> RamShareServer.DAEMON_THREADS.start(name, () -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            handshake.run();
        });
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m, PeerPolicy.sameUserOrRoot(), held)) {
            CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> server.serveOne(WAIT), Thread::startVirtualThread);
            CompletableFuture<SharedMachine> peer = CompletableFuture.supplyAsync(() -> SharedMachine.attachFollowing(sock, WAIT),
                    Thread::startVirtualThread);
            assertTrue(served.get(20, TimeUnit.SECONDS));
            for (int i = 0; i <= FollowFeed.MAX_QUEUED; i += 2) {
                m.plug(DIMM);
                m.unplug(DIMM.name());
            }
            release.countDown();
            ExecutionException e = assertThrows(ExecutionException.class, () -> peer.get(20, TimeUnit.SECONDS).close());
            ShareException why = assertInstanceOf(ShareException.class, e.getCause());
            assertTrue(why.getMessage().contains("before it could follow")
                    && why.getMessage().contains("more than " + FollowFeed.MAX_QUEUED + " layout changes"), why.getMessage());
            assertTrue(!why.getMessage().contains("does not push changes"), why.getMessage());
            assertEquals(0, server.following());
        }
    }
}
