package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code share serve}'s {@code plug NAME ADDR SIZE} and {@code unplug NAME} ({@link SharedMachine#plug}
 * and {@link SharedMachine#unplug}): the region enters and leaves the serving side's guest memory;
 * refusals are one line and exit 1, as for the other console commands; an attached side refuses.
 */
@Timeout(120) // a hang guard
class ShareHotplugCommandTest {
    @TempDir
    Path dir;

    private record Run(int status, String out, String err) {
        void failsWithOneLine(String... words) {
            assertEquals(Command.FAILED, status, err);
            assertEquals(1, err.lines().count(), err);
            for (String w : words) {
                assertTrue(err.contains(w), "'" + w + "' missing from: " + err);
            }
            assertFalse(err.contains("Exception") || err.contains("java."), "a Java class name is not a message: " + err);
        }
    }

    private static Run run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int status;
        try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
             PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            status = Main.run(args, out, err);
        }
        return new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    }

    private Run serve(String... commands) {
        List<String> args = new java.util.ArrayList<>(List.of("share", "serve", dir.resolve("s.sock").toString(), "--size", "1M"));
        for (String c : commands) {
            args.add("--do");
            args.add(c);
        }
        return run(args.toArray(String[]::new));
    }

    @Test
    void plugAddsGuestMemoryAndUnplugTakesItAway() {
        Run r = serve("plug dimm1 0x100000 2M", "write 0x1ffff0 hi", "read 0x1ffff0 2", "layout", "unplug dimm1", "layout");
        assertEquals(Command.OK, r.status(), r.err());
        assertEquals("", r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.contains("plugged memfd RAM 'dimm1' 0x200000 bytes at guest 0x100000"), r.out());
        assertTrue(lines.contains("\"hi\""), r.out());
        assertTrue(lines.contains("memfd RAM 'ram0' 0x100000 bytes at guest 0x0, memfd RAM 'dimm1' 0x200000 bytes at guest 0x100000"),
                r.out());
        assertTrue(lines.contains("unplugged 'dimm1'"), r.out());
        assertEquals("memfd RAM 'ram0' 0x100000 bytes at guest 0x0", lines.getLast(), r.out());
    }

    @Test
    void anUnpluggedRegionIsNoLongerGuestMemory() {
        serve("plug dimm1 0x100000 1M", "unplug dimm1", "read 0x100000 2").failsWithOneLine("read failed");
    }

    @Test
    void refusalsAreOneLine() {
        serve("plug dimm1").failsWithOneLine("usage: plug NAME ADDR SIZE");
        serve("unplug").failsWithOneLine("usage: unplug NAME");
        serve("plug dimm1 0x80000 1M").failsWithOneLine("overlap");
        serve("plug ram0 0x100000 1M").failsWithOneLine("ram0");
        serve("plug dimm1 zz 1M").failsWithOneLine("zz");
        serve("plug dimm1 0x100000 0").failsWithOneLine("positive size");
        serve("unplug nope").failsWithOneLine("no region 'nope'", "ram0");
        serve("unplug ram0").failsWithOneLine("last region");
    }

    /** {@code attach --follow} maps a region the server plugs after the attach, and says so. */
    @Test
    void aFollowingAttachSeesAPlugAndUsesTheNewRegion() throws Exception {
        String sock = dir.resolve("f.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 1 << 20)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            AtomicBoolean stop = new AtomicBoolean();
            Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
                while (!stop.get()) {
                    server.serveOne(Duration.ofMillis(100));
                }
            });
            try {
                // its first line is printed once it follows: then the plug is pushed, not in its layout
                java.util.concurrent.CountDownLatch firstLine = new java.util.concurrent.CountDownLatch(1);
                ByteArrayOutputStream o = new ByteArrayOutputStream() {
                    @Override
                    public synchronized void write(byte[] b, int off, int len) {
                        super.write(b, off, len);
                        if (toString(StandardCharsets.UTF_8).contains("\n")) {
                            firstLine.countDown();
                        }
                    }
                };
                ByteArrayOutputStream e = new ByteArrayOutputStream();
                java.util.concurrent.CompletableFuture<Run> attach = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try (PrintStream out = new PrintStream(o, true, StandardCharsets.UTF_8);
                         PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
                        int status = Main.run(new String[] {"share", "attach", sock, "--follow", "--do", "wait 0x100000 hi 60",
                            "--do", "layout"}, out, err);
                        return new Run(status, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
                    }
                });
                assertTrue(firstLine.await(60, java.util.concurrent.TimeUnit.SECONDS), "attach --follow printed nothing");
                m.plug(new SharedRamRegion("dimm1", 0x100000, 1 << 20));
                m.addressSpace().write(0x100000, dev.guestmem.access.MemTxAttrs.UNSPECIFIED, "hi".getBytes(StandardCharsets.UTF_8), 0, 2);
                Run r = attach.get(90, java.util.concurrent.TimeUnit.SECONDS);
                assertEquals(Command.OK, r.status(), r.err());
                List<String> lines = r.out().lines().toList();
                assertEquals("following " + sock + " (pid " + dev.guestmem.linux.LinuxCalls.getpid() + "): memfd RAM 'ram0' 0x100000 bytes at guest 0x0", lines.getFirst(), r.out());
                assertTrue(lines.contains("[plugged memfd RAM 'dimm1' 0x100000 bytes at guest 0x100000]"), r.out());
                assertTrue(lines.contains("saw \"hi\" at 0x100000"), r.out());
                // the follow thread prints "[plugged ...]" after it maps the region, so that line may
                // come after what the commands print: the layout follows the wait, wherever it is
                String layout = "memfd RAM 'ram0' 0x100000 bytes at guest 0x0, memfd RAM 'dimm1' 0x100000 bytes at guest 0x100000";
                assertTrue(lines.indexOf(layout) > lines.indexOf("saw \"hi\" at 0x100000"), r.out());
            } finally {
                stop.set(true);
                acceptor.join();
            }
        }
    }

    @Test
    void followIsAnAttachFlag() {
        Run r = run("share", "serve", dir.resolve("s.sock").toString(), "--follow");
        assertEquals(Command.USAGE, r.status(), r.err());
        assertTrue(r.err().contains("--follow does not apply to serve"), r.err());
    }

    @Test
    void anAttachedSideRefusesPlugAndUnplug() throws Exception {
        String sock = dir.resolve("a.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 1 << 20)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            AtomicBoolean stop = new AtomicBoolean();
            Thread acceptor = Thread.ofPlatform().daemon().start(() -> {
                while (!stop.get()) {
                    server.serveOne(Duration.ofMillis(100));
                }
            });
            try {
                run("share", "attach", sock, "--do", "plug dimm1 0x100000 1M")
                        .failsWithOneLine("plug", "only the serving side");
                run("share", "attach", sock, "--do", "unplug ram0").failsWithOneLine("unplug", "only the serving side");
                assertEquals(1, m.layout().size(), "the server's layout changed");
            } finally {
                stop.set(true);
                acceptor.join();
            }
        }
    }
}
