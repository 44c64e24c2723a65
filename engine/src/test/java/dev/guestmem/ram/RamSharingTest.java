package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.LinuxCalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two real processes share RAM: a memfd passed with SCM_RIGHTS, a file by path, msync durability. */
class RamSharingTest {
    private static final long SIZE = 8L << 20;

    @TempDir
    Path dir;

    @Test
    void memfdPassedOverUnixSocketIsSharedBothWays() throws Exception {
        Path sockPath = Path.of("/tmp", "gm-ram-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".sock");
        try (RamBlock b = RamBlock.builder("share.memfd", SIZE).memfd().build()) {
            writeParentPattern(b);
            int listen = LinuxCalls.unixListen(sockPath.toString());
            try {
                Process child = spawn("memfd", sockPath.toString(), Long.toString(SIZE));
                CompletableFuture<String> output = drain(child);
                int conn = LinuxCalls.unixAccept(listen);
                try {
                    LinuxCalls.sendWithFds(conn, new byte[] {'m'}, b.fd());
                    LinuxCalls.Received done = LinuxCalls.recvWithFds(conn, 1, 0);
                    assertEquals(1, done.data().length, "peer closed without confirming");
                } finally {
                    LinuxCalls.close(conn);
                }
                assertExit(child, output);
            } finally {
                LinuxCalls.close(listen);
                Files.deleteIfExists(sockPath);
            }
            checkPeerPattern(b);
        }
    }

    @Test
    void fileByPathIsSharedBothWays() throws Exception {
        Path f = dir.resolve("shared.ram");
        try (RamBlock b = RamBlock.builder("share.file", SIZE).file(f).shared(true).build()) {
            writeParentPattern(b);
            Process child = spawn("file", f.toString(), Long.toString(SIZE));
            assertExit(child, drain(child));
            checkPeerPattern(b);
        }
    }

    @Test
    void afterMsyncAFreshProcessReadsEveryByte() throws Exception {
        Path f = dir.resolve("durable.ram");
        try (RamBlock b = RamBlock.builder("share.msync", SIZE).file(f).shared(true).build()) {
            var s = b.segment();
            for (long i = 0; i < SIZE; i++) {
                s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, RamPeer.fileByte(i));
            }
            b.msync();
        }
        Process child = spawn("readfile", f.toString(), Long.toString(SIZE));
        assertExit(child, drain(child));
    }

    private static void writeParentPattern(RamBlock b) {
        for (long off = 0; off < SIZE; off += 4096) {
            b.stqHe(off, RamPeer.parentValue(off));
        }
    }

    private static void checkPeerPattern(RamBlock b) {
        for (long off = 0; off < SIZE; off += 4096) {
            assertEquals(RamPeer.peerValue(off), b.ldqHe(off + 8), "peer's write at " + off);
            assertEquals(RamPeer.parentValue(off), b.ldqHe(off), "own write at " + off);
        }
    }

    static Process spawn(String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElseThrow());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(RamPeer.class.getName());
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
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

    static void assertExit(Process p, CompletableFuture<String> output) throws Exception {
        boolean ended = p.waitFor(120, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly();
        }
        assertTrue(ended, "peer did not finish");
        assertEquals(0, p.exitValue(), () -> "peer failed: " + output.join());
    }
}
