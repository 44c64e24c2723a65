package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Regression tests for command-line defects an audit found ({@code ./guestmem}). The contract:
 * {@link Command} (0 ok, 1 an input that cannot be used, 2 a wrong command line), one clear line on
 * stderr per problem, never a stack trace, and no damage to files the user did not name as output.
 */
class CliRegressionTest {
    /** Exit status, stdout, stderr of one in-process run; a Throwable escaping Main.run is a failure. */
    private record Run(int status, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int status;
        try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
             PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            try {
                status = Main.run(args, out, err);
            } catch (Throwable t) {
                // Main.main would let this escape: the JVM prints a stack trace and exits 1
                fail("./guestmem " + String.join(" ", args) + " threw (a stack trace for the user) instead of a one-line error: " + t, t);
                return null;
            }
        }
        return new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------------------------------
    // 'share serve' (RamShareServer.listen) deleted whatever was at the socket path unless it was a
    // regular file or a directory: a FIFO, a device node (as root, 'share serve /dev/null' would have
    // deleted /dev/null). Only a socket nobody answers on is removed; anything else is exit 1.
    // ------------------------------------------------------------------------------------------
    @Test
    void shareServeDoesNotDeleteAFifoAtTheSocketPath(@TempDir Path dir) throws Exception {
        Path fifo = dir.resolve("not-a-socket");
        Process p = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertEquals(0, p.waitFor());
        Run r = run("share", "serve", fifo.toString(), "--size", "1M", "--do", "layout");
        assertTrue(Files.exists(fifo), "the FIFO at the socket path was deleted (exit " + r.status() + ", out: " + r.out() + ")");
        assertEquals(Command.FAILED, r.status());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("guestmem share: ") && r.err().contains("a FIFO, not a socket"), r.err());
    }

    // ------------------------------------------------------------------------------------------
    // A second 'share serve' on the path of a live server's socket deleted it and bound its own:
    // the first server ran on unreachable. It connects first and refuses (exit 1) if a server answers.
    // ------------------------------------------------------------------------------------------
    @Test
    void shareServeDoesNotStealTheSocketOfALiveServer(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("ram.sock").toString();
        try (SharedMachine first = SharedMachine.createMemfd(List.of(new SharedRamRegion("first", 0, 1 << 20)));
             RamShareServer server = RamShareServer.listen(sock, first)) {
            AtomicBoolean stop = new AtomicBoolean();
            Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
                while (!stop.get()) {
                    try {
                        server.serveOne(Duration.ofMillis(100));
                    } catch (RuntimeException ignored) {
                        return;
                    }
                }
            });
            try {
                Run r = run("share", "serve", sock, "--size", "1M", "--name", "second", "--do", "layout");
                String reached;
                try (SharedMachine m = SharedMachine.attach(sock, Duration.ofSeconds(5))) {
                    reached = m.layout().getFirst().name();
                } catch (RuntimeException e) {
                    reached = "nothing: " + e.getMessage();
                }
                assertEquals("first", reached, "after a second 'share serve' on its path (exit " + r.status()
                        + "), the live first server must still be the one reached");
                assertNotEquals(Command.OK, r.status(), "the second serve must refuse a path in use");
                assertEquals(Command.FAILED, r.status());
                assertEquals("guestmem share: a server is running on " + sock + " (it answered a connection); not taking its path",
                        r.err().strip());
            } finally {
                stop.set(true);
                acceptor.join(2000);
            }
        }
    }
}
