package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Bad arguments to the share entry points are refused with a message, before anything is handed out. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ShareArgumentsTest {
    private static final SharedRamRegion RAM0 = new SharedRamRegion("ram0", 0, 1L << 20);

    /**
     * A negative timeout is refused before connecting: the server would serve the peer (and note its
     * blocks as mapped by another process, for good) only for the peer to time out at once.
     */
    @Test
    void aNegativeAttachTimeoutIsRefusedBeforeTheServerHandsOutItsRam(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> server.serveOne(Duration.ofSeconds(2)),
                    Thread::startVirtualThread);
            IllegalArgumentException f = assertThrows(IllegalArgumentException.class,
                    () -> SharedMachine.attachFollowing(sock, Duration.ofMillis(-1)));
            assertTrue(f.getMessage().contains("timeout"), f.getMessage());
            IllegalArgumentException a = assertThrows(IllegalArgumentException.class,
                    () -> SharedMachine.attach(sock, Duration.ofMillis(-1)));
            assertTrue(a.getMessage().contains("timeout"), a.getMessage());
            assertFalse(served.get(20, TimeUnit.SECONDS), "a peer was served");
            assertNull(m.blocks().get(0).mappedElsewhere());
        }
    }

    /** A null socket path names itself. */
    @Test
    void aNullSocketPathIsNamed() {
        NullPointerException e = assertThrows(NullPointerException.class, () -> SharedMachine.attachFollowing(null, Duration.ZERO));
        assertEquals("socketPath", e.getMessage());
    }

    /** serveOne refuses a null or negative timeout (a negative one used to wait for ever: poll with -1). */
    @Test
    void serveOneRefusesANullOrNegativeTimeout(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            NullPointerException n = assertThrows(NullPointerException.class, () -> server.serveOne(null));
            assertEquals("timeout", n.getMessage());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> server.serveOne(Duration.ofMillis(-5)));
            assertTrue(e.getMessage().contains("timeout"), e.getMessage());
            assertEquals(List.of(), server.disconnects());
        }
    }

    /** {@code awaitLayoutChanges} took a null or negative timeout quietly on a machine that does not follow. */
    @Test
    void awaitLayoutChangesChecksItsTimeoutLikeAttach() throws Exception {
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 1 << 20)))) {
            assertThrows(NullPointerException.class, () -> m.awaitLayoutChanges(1, null));
            assertThrows(IllegalArgumentException.class, () -> m.awaitLayoutChanges(1, Duration.ofSeconds(-1)));
            assertFalse(m.awaitLayoutChanges(1, Duration.ZERO), "a machine that does not follow has no change");
        }
    }
}
