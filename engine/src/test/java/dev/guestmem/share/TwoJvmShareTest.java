package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.cli.Main;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two JVMs share guest RAM: a memfd block's descriptor and layout go over a Unix socket with
 * SCM_RIGHTS, and each side writes through its own AddressSpace what the other then reads through
 * its own. The second JVM runs the real {@code ./guestmem share} command.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TwoJvmShareTest {
    private static final long BASE = 0x100000;
    private static final long SIZE = 2L << 20;

    private static String socketPath() {
        return Path.of("/tmp", "gm-share-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".sock").toString();
    }

    @Test
    void thisJvmServesTheOtherAttachesThroughTheCli() throws Exception {
        String sock = socketPath();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", BASE, SIZE)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            AddressSpace as = m.addressSpace();
            byte[] mine = "written by the server jvm".getBytes(StandardCharsets.US_ASCII);
            assertEquals(MemTxResult.OK, as.write(BASE + 0x1000, MemTxAttrs.UNSPECIFIED, mine, 0, mine.length));
            assertEquals(MemTxResult.OK, as.stq(BASE + SIZE - 8, 0x1122334455667788L));
            Process peer = spawnCli("share", "attach", sock,
                    "--do", "wait 0x" + Long.toHexString(BASE + 0x1000) + " written by the server jvm 60",
                    "--do", "writex 0x" + Long.toHexString(BASE + SIZE - 16) + " 0x0102030405060708",
                    "--do", "write 0x" + Long.toHexString(BASE + 0x3000) + " written by the peer jvm",
                    "--do", "xp /1xg 0x" + Long.toHexString(BASE + SIZE - 8));
            CompletableFuture<String> output = drain(peer);
            assertTrue(server.serveOne(Duration.ofSeconds(60)), "the peer never connected: " + outputIfDone(peer, output));
            byte[] want = "written by the peer jvm".getBytes(StandardCharsets.US_ASCII);
            byte[] have = awaitBytes(as, BASE + 0x3000, want, peer, output);
            assertArrayEquals(want, have);
            assertExit(peer, output);
            assertEquals(0x0807060504030201L, as.ldqLe(BASE + SIZE - 16), "the peer's writex through its AddressSpace");
            // The peer printed our 8-byte store with QEMU's xp format through its own mapping.
            assertTrue(output.join().contains(String.format("%016x: 0x1122334455667788", BASE + SIZE - 8)), output.join());
        }
    }

    @Test
    void theOtherJvmServesThroughTheCliThisOneAttaches() throws Exception {
        String sock = socketPath();
        Process server = spawnCli("share", "serve", sock, "--size", "2M", "--addr", "0x" + Long.toHexString(BASE),
                "--name", "peer.ram",
                "--do", "write 0x" + Long.toHexString(BASE + 0x10) + " from the serving jvm",
                "--do", "wait 0x" + Long.toHexString(BASE + 0x20000) + " from the attaching jvm 60");
        CompletableFuture<String> output = drain(server);
        try {
            SharedMachine m = attachWhenListening(sock, server, output);
            try (m) {
                assertEquals(List.of(new SharedRamRegion("peer.ram", BASE, SIZE)), m.layout());
                AddressSpace as = m.addressSpace();
                byte[] want = "from the serving jvm".getBytes(StandardCharsets.US_ASCII);
                assertArrayEquals(want, awaitBytes(as, BASE + 0x10, want, server, output));
                byte[] mine = "from the attaching jvm".getBytes(StandardCharsets.US_ASCII);
                assertEquals(MemTxResult.OK, as.write(BASE + 0x20000, MemTxAttrs.UNSPECIFIED, mine, 0, mine.length));
                assertExit(server, output);
                // Past the region nothing is mapped on this side either.
                assertEquals(MemTxResult.DECODE_ERROR, as.read(BASE + SIZE, MemTxAttrs.UNSPECIFIED, new byte[1], 0, 1));
            }
        } finally {
            server.destroyForcibly();
            Files.deleteIfExists(Path.of(sock));
        }
    }

    @Test
    void attachToNothingIsAClearError() {
        String sock = socketPath();
        ShareException e = org.junit.jupiter.api.Assertions.assertThrows(ShareException.class,
                () -> SharedMachine.attach(sock, Duration.ofSeconds(1)));
        assertTrue(e.getMessage().contains(sock), e.getMessage());
    }

    private static SharedMachine attachWhenListening(String sock, Process server, CompletableFuture<String> output)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            if (Files.exists(Path.of(sock))) {
                try {
                    return SharedMachine.attach(sock, Duration.ofSeconds(30));
                } catch (ShareException e) {
                    // bound but not yet listening: retry
                }
            }
            if (!server.isAlive() || System.nanoTime() - deadline > 0) {
                throw new AssertionError("the serving JVM never listened on " + sock + ": " + outputIfDone(server, output));
            }
            Thread.sleep(20);
        }
    }

    private static byte[] awaitBytes(AddressSpace as, long addr, byte[] want, Process peer, CompletableFuture<String> output)
            throws InterruptedException {
        byte[] have = new byte[want.length];
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() - deadline < 0) {
            assertEquals(MemTxResult.OK, as.read(addr, MemTxAttrs.UNSPECIFIED, have, 0, have.length));
            if (Arrays.equals(want, have) || !peer.isAlive()) {
                break;
            }
            Thread.sleep(10);
        }
        assertArrayEquals(want, have, () -> "peer output: " + outputIfDone(peer, output));
        return have;
    }

    static Process spawnCli(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElseThrow());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
    }

    static CompletableFuture<String> drain(Process p) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(output lost: " + e + ")";
            }
        });
    }

    private static String outputIfDone(Process p, CompletableFuture<String> output) {
        if (p.isAlive()) {
            return "(still running)";
        }
        return output.join();
    }

    static void assertExit(Process p, CompletableFuture<String> output) throws Exception {
        boolean ended = p.waitFor(60, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly();
        }
        assertTrue(ended, "peer did not finish");
        assertEquals(0, p.exitValue(), () -> "peer failed: " + output.join());
    }
}
