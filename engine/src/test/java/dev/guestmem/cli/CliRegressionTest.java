package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import java.io.ByteArrayInputStream;
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

    // ------------------------------------------------------------------------------------------
    // '--timeout' took any long; a huge one reached Duration.toNanos() in SharedMachine.attach and an
    // ArithmeticException ("long overflow") escaped Main as a stack trace. Out of range is now a
    // usage error (exit 2).
    // ------------------------------------------------------------------------------------------
    @Test
    void shareAttachWithAHugeTimeoutIsAUsageErrorNotAStackTrace(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("ram.sock").toString();
        try (SharedMachine first = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 1 << 20)))) {
            RamShareServer server = RamShareServer.listen(sock, first);
            Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
                try {
                    server.serveOne(Duration.ofSeconds(10));
                } catch (RuntimeException ignored) {
                    // closed
                }
            });
            try {
                Run r = run("share", "attach", sock, "--timeout", "99999999999999999", "--do", "layout");
                assertTrue(r.status() == Command.USAGE || r.status() == Command.OK, "status " + r.status() + ", err: " + r.err());
                assertEquals(Command.USAGE, r.status());
                assertTrue(r.err().startsWith("guestmem share: --timeout '99999999999999999' is not a number of seconds"), r.err());
            } finally {
                server.close(); // ends the acceptor's wait
            }
            acceptor.join(12_000);
        }
    }

    @Test
    void shareTimeoutsOutOfRangeAreUsageErrorsOrOneLine(@TempDir Path dir) {
        String sock = dir.resolve("ram.sock").toString();
        for (String[] args : List.of(
                new String[] {"share", "attach", sock, "--timeout", "-1"},
                new String[] {"share", "attach", sock, "--timeout", "99999999999999999999"},
                new String[] {"share", "attach", sock, "--timeout", "+5"},
                new String[] {"share", "serve", sock, "--linger", "-1", "--do", "layout"})) {
            Run r = run(args);
            assertEquals(Command.USAGE, r.status(), String.join(" ", args) + ": " + r.err());
            assertTrue(r.err().startsWith("guestmem share: --"), r.err());
        }
        // the console's 'wait ADDR TEXT SECONDS' has the same limit: one line, exit 1, no "long overflow"
        Run r = run("share", "serve", sock, "--size", "1M", "--do", "wait 0 x 99999999999");
        assertEquals(Command.FAILED, r.status(), r.err());
        assertEquals("guestmem share: wait '99999999999' is not a number of seconds from 0 to 9223372036", r.err().strip());
    }

    // ------------------------------------------------------------------------------------------
    // 'share serve' caught ShareException and IllegalArgumentException only; a size the host cannot
    // map made RamBlockBuilder throw RamBackendException ("mmap failed: errno 12"), which escaped Main
    // as a stack trace. It is now "guestmem share: ..." on one line, exit 1.
    // ------------------------------------------------------------------------------------------
    @Test
    void shareServeWithASizeTheHostCannotMapFailsWithOneLine(@TempDir Path dir) {
        Run r = run("share", "serve", dir.resolve("big.sock").toString(), "--size", "0x10000000000000", "--do", "layout");
        assertEquals(Command.FAILED, r.status());
        assertTrue(r.err().startsWith("guestmem share: "), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(Files.notExists(dir.resolve("big.sock")), "no socket is left behind");
    }

    // ------------------------------------------------------------------------------------------
    // With commands from standard input, 'share' exited 0 even when commands failed (a 'wait' that
    // timed out). All commands still run; the status is 1 if any failed.
    // ------------------------------------------------------------------------------------------
    @Test
    void shareConsoleOnStandardInputExitsOneWhenACommandFailed(@TempDir Path dir) {
        String sock = dir.resolve("ram.sock").toString();
        Run failed = share(List.of("serve", sock, "--size", "1M"), "wait 0x0 never 0\nlayout\nquit\n");
        assertEquals(Command.FAILED, failed.status(), failed.err());
        assertTrue(failed.err().contains("timed out after 0 s waiting for \"never\""), failed.err());
        assertTrue(failed.out().contains("memfd RAM 'ram0' 0x100000 bytes at guest 0x0\n"), "the console went on: " + failed.out());
        Run bad = share(List.of("serve", sock, "--size", "1M"), "frobnicate\n");
        assertEquals(Command.FAILED, bad.status(), "an unknown command is a failed one");
        Run ok = share(List.of("serve", sock, "--size", "1M"), "write 0x10 hi\nwait 0x10 hi 1\nquit\nwait 0 never 0\n");
        assertEquals(Command.OK, ok.status(), "commands after quit are not run: " + ok.err());
    }

    // ------------------------------------------------------------------------------------------
    // 'share attach' accepted serve's options (--size, --addr, --name, --linger) and ignored them;
    // 'serve' accepted --timeout. An option of the other mode is now a usage error (exit 2).
    // ------------------------------------------------------------------------------------------
    @Test
    void shareRefusesOptionsOfTheOtherMode(@TempDir Path dir) {
        String sock = dir.resolve("ram.sock").toString();
        for (String opt : List.of("--size", "--addr", "--name", "--linger")) {
            Run r = run("share", "attach", sock, opt, "1", "--do", "layout");
            assertEquals(Command.USAGE, r.status(), "attach " + opt + ": " + r.err());
            assertTrue(r.err().startsWith("guestmem share: option " + opt + " does not apply to attach (it is for serve)"), r.err());
        }
        Run r = run("share", "serve", sock, "--timeout", "5", "--do", "layout");
        assertEquals(Command.USAGE, r.status(), r.err());
        assertTrue(r.err().startsWith("guestmem share: option --timeout does not apply to serve (it is for attach)"), r.err());
        assertTrue(Files.notExists(Path.of(sock)), "nothing was served");
        Run unknown = run("share", "serve", sock, "--sise", "1M");
        assertEquals(Command.USAGE, unknown.status());
        assertTrue(unknown.err().startsWith("guestmem share: unknown option --sise"), unknown.err());
    }

    /** Runs {@code share} with standard input. */
    private static Run share(List<String> args, String stdin) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int status;
        try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
             PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            status = ShareCommand.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), out, err);
        }
        return new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    // ------------------------------------------------------------------------------------------
    // xp checked '/FMT' and ADDR as a wrong command line (exit 2 with the usage) but parsed
    // '--write ADDR HEXBYTES' only after mapping the machine: a malformed address or hex string there
    // was exit 1 without the usage. It is now parsed with the other arguments: exit 2.
    // ------------------------------------------------------------------------------------------
    @Test
    void xpMalformedWriteArgumentsAreUsageErrors(@TempDir Path dir) throws Exception {
        Path mtree = dir.resolve("m.txt");
        Files.writeString(mtree, """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000000000-0000000000000fff (prio 0, ram): ram0
                """);
        Path ram = dir.resolve("ram0.bin");
        Files.write(ram, new byte[4096]);
        String ramArg = "ram0=" + ram;
        Run badAddr = run("xp", "--mtree", mtree.toString(), "--ram", ramArg, "--write", "zz", "00");
        Run badHex = run("xp", "--mtree", mtree.toString(), "--ram", ramArg, "--write", "0", "0g");
        Run badFmtAddr = run("xp", "--mtree", mtree.toString(), "--ram", ramArg, "zz");
        assertEquals(Command.USAGE, badFmtAddr.status(), "control: a bad ADDR is a usage error");
        assertEquals(Command.USAGE, badAddr.status(), "--write zz 00: " + badAddr.err());
        assertEquals(Command.USAGE, badHex.status(), "--write 0 0g: " + badHex.err());
        assertTrue(badAddr.err().startsWith("guestmem xp: 'zz' is not an address") && badAddr.err().contains("usage: ./guestmem xp"),
                badAddr.err());
        // parsed before any file is opened: a missing mtree file does not hide the usage error
        Run beforeFiles = run("xp", "--mtree", dir.resolve("missing.txt").toString(), "--write", "0", "0g");
        assertEquals(Command.USAGE, beforeFiles.status(), beforeFiles.err());
        // a good --write still writes, and the dump shows it
        Run ok = run("xp", "--mtree", mtree.toString(), "--ram", ramArg, "--write", "0x10", "0xdeadbeef", "/4xb", "0x10");
        assertEquals(Command.OK, ok.status(), ok.err());
        assertEquals("0000000000000010: 0xde 0xad 0xbe 0xef\n", ok.out());
    }
}
