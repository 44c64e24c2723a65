package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A following peer closed from inside a transaction of its own memory system (holding its lock)
 * while the follow thread waits for that lock to apply a pushed change.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FollowCloseUnderLockTest {
    private static final SharedRamRegion RAM0 = new SharedRamRegion("ram0", 0, 1L << 20);
    private static final SharedRamRegion DIMM0 = new SharedRamRegion("dimm0", 0x100000000L, 1L << 20);
    private static final Duration WAIT = Duration.ofSeconds(20);

    /** It used to deadlock: close waited for the thread, then for the layout lock the thread held while it waited for the system's. */
    @Test
    void closeInsideATransactionWhileAChangeIsBeingAppliedReturns(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            SharedMachine peer = FollowingPeerTest.attachFollowingServed(server, sock);
            ReentrantLock peerLock = peer.system().lock();
            CompletableFuture<Void> closed = new CompletableFuture<>();
            Thread closer = Thread.ofPlatform().daemon().name("closer").start(() -> {
                peer.system().transactionBegin();
                try {
                    m.plug(DIMM0); // pushed: the follow thread now waits for peerLock
                    long deadline = System.nanoTime() + WAIT.toNanos();
                    while (!peerLock.hasQueuedThreads() && System.nanoTime() - deadline < 0) {
                        Thread.onSpinWait();
                    }
                    peer.close();
                } catch (RuntimeException | Error e) {
                    closed.completeExceptionally(e);
                } finally {
                    peer.system().transactionCommit();
                }
                closed.complete(null);
            });
            closed.get(60, TimeUnit.SECONDS); // a deadlock times out here
            closer.join();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (peer.isFollowing() && System.nanoTime() - deadline < 0) {
                Thread.sleep(5);
            }
            assertEquals("the machine was closed", peer.followingStopped());
            assertEquals(List.of(RAM0), peer.layout(), "a change applied after close");
            assertTrue(peer.blocks().stream().allMatch(b -> b.isReleased()), "closed: blocks released");
        }
    }
}
