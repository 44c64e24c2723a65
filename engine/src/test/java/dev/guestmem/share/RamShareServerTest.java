package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.LinuxCalls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@link RamShareServer#listen} does with what is already at its path. */
class RamShareServerTest {
    private static SharedMachine machine(String name) {
        return SharedMachine.createMemfd(List.of(new SharedRamRegion(name, 0, 1 << 20)));
    }

    @Test
    void replacesAStaleSocketNobodyListensOn(@TempDir Path dir) {
        String sock = dir.resolve("stale.sock").toString();
        LinuxCalls.close(LinuxCalls.unixListen(sock)); // a server that died without removing its socket
        assertTrue(Files.exists(Path.of(sock)));
        try (SharedMachine m = machine("ram0");
             RamShareServer server = RamShareServer.listen(sock, m)) {
            Thread t = Thread.ofPlatform().daemon().start(() -> server.serveOne(Duration.ofSeconds(10)));
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(5))) {
                assertEquals("ram0", peer.layout().getFirst().name());
            }
            joinQuietly(t);
            assertEquals(1, server.served());
        }
    }

    @Test
    void refusesAndKeepsARegularFileADirectoryAndASymlink(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("notes.txt"), "keep me");
        Path sub = Files.createDirectory(dir.resolve("sub"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), file);
        try (SharedMachine m = machine("ram0")) {
            for (Path p : List.of(file, sub, link)) {
                ShareException e = assertThrows(ShareException.class, () -> RamShareServer.listen(p.toString(), m).close());
                assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
                assertTrue(Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS), p + " was removed");
            }
            assertEquals("keep me", Files.readString(file));
            assertTrue(Files.isSymbolicLink(link));
        }
    }

    @Test
    void refusesAnAbstractNameALiveServerHolds() {
        String name = "@guestmem-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (SharedMachine first = machine("first");
             RamShareServer server = RamShareServer.listen(name, first);
             SharedMachine second = machine("second")) {
            Thread t = Thread.ofPlatform().daemon().start(() -> server.serveOne(Duration.ofSeconds(10)));
            ShareException e = assertThrows(ShareException.class, () -> RamShareServer.listen(name, second).close());
            assertTrue(e.getMessage().contains("a server is running on " + name), e.getMessage());
            assertEquals(1, e.getMessage().lines().count(), e.getMessage());
            joinQuietly(t);
        }
    }

    /**
     * The server hands out descriptors of its own, not the machine's: once the machine is closed its
     * descriptor numbers are free, and the next file opened takes them, so a server that kept the
     * numbers sent EBADF at best and an unrelated file at worst.
     */
    @Test
    void keepsServingTheRamAfterTheMachineIsClosed(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        SharedMachine m = machine("ram0");
        assertEquals(0, m.addressSpace().stlLe(0x1000, 0x600dcafe));
        try (RamShareServer server = RamShareServer.listen(sock, m)) {
            m.close();
            Path other = Files.writeString(dir.resolve("other"), "not guest RAM");
            int unrelated = LinuxCalls.open(other.toString(), dev.guestmem.linux.Linux.O_RDONLY(), 0); // takes a freed number
            try {
                Thread t = Thread.ofPlatform().daemon().start(() -> server.serveOne(Duration.ofSeconds(10)));
                try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(5))) {
                    assertEquals(0x600dcafe, peer.addressSpace().ldlLe(0x1000));
                }
                joinQuietly(t);
                assertEquals(1, server.served());
            } finally {
                LinuxCalls.close(unrelated);
            }
        }
    }

    /**
     * A closed machine's descriptors are gone, and their numbers may name other files by now:
     * listen refuses it. It used to serve whatever the numbers named.
     */
    @Test
    void refusesToServeAClosedMachine(@TempDir Path dir) throws Exception {
        SharedMachine m = machine("ram0");
        m.close();
        Path other = Files.writeString(dir.resolve("other"), "not guest RAM");
        int unrelated = LinuxCalls.open(other.toString(), dev.guestmem.linux.Linux.O_RDWR(), 0); // takes the freed number
        try {
            String sock = dir.resolve("s.sock").toString();
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> RamShareServer.listen(sock, m).close());
            assertTrue(e.getMessage().contains("ram0"), e.getMessage());
            assertTrue(Files.notExists(Path.of(sock)));
        } finally {
            LinuxCalls.close(unrelated);
        }
    }

    /** A wait beyond a century is no limit, as for attach: serveOne used to throw ArithmeticException. */
    @Test
    void servesWithATimeoutBeyondACentury(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = machine("ram0");
             RamShareServer server = RamShareServer.listen(sock, m)) {
            java.util.concurrent.CompletableFuture<Boolean> served = new java.util.concurrent.CompletableFuture<>();
            Thread.ofPlatform().daemon().start(() -> {
                try {
                    served.complete(server.serveOne(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)));
                } catch (RuntimeException e) {
                    served.completeExceptionally(e);
                }
            });
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(10))) {
                assertEquals("ram0", peer.layout().getFirst().name());
            }
            assertTrue(served.get(30, java.util.concurrent.TimeUnit.SECONDS));
        }
    }

    private static void joinQuietly(Thread t) {
        try {
            t.join(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
