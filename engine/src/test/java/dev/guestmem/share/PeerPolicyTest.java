package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.LinuxCalls;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RamShareServer} hands the RAM only to the peers its {@link PeerPolicy} allows. */
class PeerPolicyTest {
    private static final int NOBODY = 65534;

    private static SharedMachine machine() {
        return SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 1 << 20)));
    }

    private static String abstractName() {
        return "@guestmem-peercred-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    }

    /** Runs one serveOne on another thread; the future holds its result or what it threw. */
    private static CompletableFuture<Boolean> serveOneAsync(RamShareServer server) {
        CompletableFuture<Boolean> f = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                f.complete(server.serveOne(Duration.ofSeconds(30)));
            } catch (RuntimeException e) {
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    private static Throwable failureOf(CompletableFuture<Boolean> f) throws Exception {
        try {
            f.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("serveOne did not fail");
    }

    @Test
    void theDefaultPolicyServesThisUserAndRootOnly() {
        int self = LinuxCalls.geteuid();
        int other = self == 1000 ? 1001 : 1000;
        PeerPolicy p = PeerPolicy.sameUserOrRoot();
        assertTrue(p.allows(new SharePeer(1, self, 5)));
        assertTrue(p.allows(new SharePeer(1, 0, 0)));
        assertFalse(p.allows(new SharePeer(1, other, self)), "a gid equal to our uid is no uid");
        assertFalse(p.allows(new SharePeer(1, NOBODY, NOBODY)));
        PeerPolicy strict = PeerPolicy.sameUser();
        assertTrue(strict.allows(new SharePeer(1, self, 5)));
        assertEquals(self == 0, strict.allows(new SharePeer(1, 0, 0)));
        assertFalse(strict.allows(new SharePeer(1, other, other)));
        assertTrue(p.describe().contains("uid " + self), p.describe());
    }

    /** The policy sees who really connected: this process, by pid and effective uid. */
    @Test
    void aPeerOfTheSameUserIsServedAndThePolicySeesItsCredentials(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        AtomicReference<SharePeer> seen = new AtomicReference<>();
        PeerPolicy recording = peer -> {
            seen.set(peer);
            return PeerPolicy.sameUserOrRoot().allows(peer);
        };
        try (SharedMachine m = machine();
             RamShareServer server = RamShareServer.listen(sock, m, recording)) {
            assertEquals(0, m.addressSpace().stlLe(0x40, 0x5eedf00d));
            CompletableFuture<Boolean> served = serveOneAsync(server);
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(10))) {
                assertEquals(0x5eedf00d, peer.addressSpace().ldlLe(0x40));
            }
            assertTrue(served.get(30, TimeUnit.SECONDS));
            assertEquals(1, server.served());
        }
        assertEquals(LinuxCalls.getpid(), seen.get().pid());
        assertEquals(LinuxCalls.geteuid(), seen.get().uid());
    }

    /**
     * A refused peer gets a clear error and no RAM; the server reports whom it refused and serves
     * the next peer.
     */
    @Test
    void aRefusedPeerGetsAClearErrorAndTheServerServesTheNext() throws Exception {
        String name = abstractName();
        AtomicInteger asked = new AtomicInteger();
        PeerPolicy refuseFirst = new PeerPolicy() {
            @Override
            public boolean allows(SharePeer peer) {
                return asked.incrementAndGet() > 1;
            }

            @Override
            public String describe() {
                return "the second peer on";
            }
        };
        try (SharedMachine m = machine();
             RamShareServer server = RamShareServer.listen(name, m, refuseFirst)) {
            assertEquals(0, m.addressSpace().stlLe(0x80, 0x1234abcd));
            CompletableFuture<Boolean> first = serveOneAsync(server);
            ShareException e = assertThrows(ShareException.class, () -> SharedMachine.attach(name, Duration.ofSeconds(10)).close());
            assertEquals(name + " refused this process (pid " + LinuxCalls.getpid() + "): uid "
                    + Integer.toUnsignedString(LinuxCalls.geteuid()) + " may not map this RAM (the server serves the second peer on)",
                    e.getMessage());
            PeerRefusedException refused = assertInstanceOf(PeerRefusedException.class, failureOf(first));
            assertEquals(LinuxCalls.getpid(), refused.peer().pid());
            assertTrue(refused.getMessage().startsWith("refused peer pid " + LinuxCalls.getpid() + " (uid "), refused.getMessage());
            assertEquals(0, server.served());

            CompletableFuture<Boolean> second = serveOneAsync(server);
            try (SharedMachine peer = SharedMachine.attach(name, Duration.ofSeconds(10))) {
                assertEquals(0x1234abcd, peer.addressSpace().ldlLe(0x80));
            }
            assertTrue(second.get(30, TimeUnit.SECONDS));
            assertEquals(1, server.served());
        }
    }

    /**
     * Another user on an abstract socket (no file permissions to stop it): a child process run as
     * nobody by {@code setpriv} connects with the default policy. It used to receive the RAM's
     * descriptor, read-write; now it receives the refusal line and no descriptor, and the server
     * then serves this user. Needs root, setpriv and python3 (the child).
     */
    @Test
    void anotherUserIsRefusedByTheDefaultPolicy(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(LinuxCalls.geteuid() == 0, "needs root to run a child as another user");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs /usr/bin/setpriv");
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
        Path script = Files.writeString(dir.resolve("peer.py"), """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(30)
                s.connect('\\0' + sys.argv[1])
                data, fds = b'', 0
                while True:
                    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(64))
                    for level, kind, d in anc:
                        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                            fds += len(d) // 4
                    if not msg:
                        break
                    data += msg
                print('fds', fds)
                sys.stdout.write(data.decode())
                """);
        dir.toFile().setExecutable(true, false); // let nobody read the script in the test's directory
        script.toFile().setReadable(true, false);
        String name = abstractName();
        try (SharedMachine m = machine();
             RamShareServer server = RamShareServer.listen(name, m)) {
            CompletableFuture<Boolean> first = serveOneAsync(server);
            Process child = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                    "/usr/bin/python3", script.toString(), name.substring(1)).redirectErrorStream(true).start();
            String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, child.exitValue(), out);
            assertEquals("fds 0\n" + ShareProtocol.REFUSED + "uid " + NOBODY + " may not map this RAM (the server serves only uid 0)\n", out);
            PeerRefusedException refused = assertInstanceOf(PeerRefusedException.class, failureOf(first));
            assertEquals(NOBODY, refused.peer().uid());
            assertEquals(NOBODY, refused.peer().gid());
            assertEquals(child.pid(), refused.peer().pid());

            CompletableFuture<Boolean> second = serveOneAsync(server);
            SharedMachine.attach(name, Duration.ofSeconds(10)).close();
            assertTrue(second.get(30, TimeUnit.SECONDS));
            assertEquals(1, server.served());
        }
    }
}
