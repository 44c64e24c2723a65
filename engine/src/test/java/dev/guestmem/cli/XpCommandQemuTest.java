package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guestmem.share.QemuProcess;
import dev.guestmem.share.QmpClient;
import dev.guestmem.share.QtestClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ./guestmem xp} against the real QEMU's {@code xp} (HMP through QMP
 * {@code human-monitor-command}) on a running pc machine with shared file RAM: every format and
 * size, several counts, aligned and unaligned addresses, the end of RAM and unassigned space. The
 * layout comes from the machine's own {@code info mtree} and from the annotated capture.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class XpCommandQemuTest {
    private static final Duration REPLY = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    @Test
    void everyFormatMatchesQemu() throws Exception {
        assumeTrue(Files.isExecutable(QemuProcess.DEFAULT_BINARY), QemuProcess.DEFAULT_BINARY
                + " is not installed: the xp-vs-QEMU test needs Debian's qemu-system-x86 (.ci/run installs it)");
        Path file = Files.createTempFile("gm-xp-", ".ram");
        try (QemuProcess q = QemuProcess.startPc(QemuProcess.DEFAULT_BINARY, 128, file, REPLY);
             QtestClient qt = new QtestClient(q.qtestSocket().toString(), REPLY);
             QmpClient qmp = new QmpClient(q.qmpSocket().toString(), REPLY)) {
            qt.read(4, 0);
            Path mtree = dir.resolve("mtree.txt");
            Files.writeString(mtree, qmp.hmp("info mtree").replace("\r\n", "\n"));
            List<String> live = List.of("--mtree", mtree.toString(), "--ram", QemuProcess.BACKEND_ID + "=" + file);

            // Bytes written by guestmem's xp --write: random, plus every character 'c' escapes.
            byte[] data = new byte[0x200];
            new SplittableRandom(42).nextBytes(data);
            byte[] special = {'\'', '\\', '\n', '\r', 0x1f, ' ', '~', 0x7f, (byte) 0x80, (byte) 0xff, 'A', 0};
            System.arraycopy(special, 0, data, 0, special.length);
            List<String> write = new ArrayList<>(live);
            write.addAll(List.of("--write", "0x1000", HexFormat.of().formatHex(data)));
            assertEquals("", xp(Command.OK, write));
            assertEquals(HexFormat.of().formatHex(data, 0, 64), HexFormat.of().formatHex(qt.readBytes(0x1000, 64)),
                    "QEMU sees what xp --write wrote");
            qt.write(8, 0x7fffff8, 0x8000000000000001L); // a negative 64-bit value at the end of RAM

            int compared = 0;
            for (char f : "xduoc".toCharArray()) {
                for (char s : "bhwg".toCharArray()) {
                    for (int count : new int[] {1, 3, 17}) {
                        for (long addr : new long[] {0x1000, 0x1003}) {
                            compare(qmp, live, "/" + count + f + s, addr);
                            compared++;
                        }
                    }
                    compare(qmp, live, "/4" + f + s, 0x7fffff0L); // the last line passes the end of RAM
                    compared++;
                }
            }
            compare(qmp, live, "/2xw", 0x10000000L); // unassigned
            compare(qmp, live, "/2xg", 0x7fffff8L);
            assertTrue(compared >= 140, "compared " + compared);

            // The annotated capture of the same machine names the region pc.ram.
            Path fixture = Path.of(System.getProperty("guestmem.fixtures"), "x86_64-pc-128m.annotated.txt");
            List<String> annotated = List.of("--mtree", fixture.toString(), "--ram", "pc.ram=" + file);
            for (String fmt : List.of("/16xb", "/5ug", "/7dh", "/9ow", "/20c")) {
                compare(qmp, annotated, fmt, 0x1005);
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void notRamIsAClearMessageNotACrash() throws Exception {
        Path fixture = Path.of(System.getProperty("guestmem.fixtures"), "x86_64-pc-128m.annotated.txt");
        Path ram = dir.resolve("ram");
        try (var ch = java.nio.channels.FileChannel.open(ram, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.write(java.nio.ByteBuffer.allocate(1), (128L << 20) - 1);
        }
        List<String> base = List.of("--mtree", fixture.toString(), "--ram", "pc.ram=" + ram);
        String bios = run(Command.FAILED, withArgs(base, "/4xw", "0xfffffff0"));
        assertEquals("00000000fffffff0: Cannot access memory (0xfffffff0 is in 'pc.bios', a RAM/ROM region with no file"
                + " given (--ram pc.bios=PATH))\n", bios);
        String io = run(Command.FAILED, withArgs(base, "/1xb", "0xfee00000"));
        assertTrue(io.contains("which is MMIO"), io);
        String err = runErr(Command.FAILED, withArgs(base, "--write", "0xe0000", "00"));
        assertTrue(err.contains("cannot write 1 bytes at 0xe0000"), err);
        String bad = runErr(Command.FAILED, List.of("--mtree", fixture.toString(), "--ram", "nosuch=" + ram, "0"));
        assertTrue(bad.contains("'nosuch' is not a RAM or ROM region") && bad.contains("pc.ram"), bad);
        assertEquals(Command.USAGE, Main.run(new String[] {"xp", "--mtree", fixture.toString(), "/4z", "0"},
                new PrintStream(new ByteArrayOutputStream()), new PrintStream(new ByteArrayOutputStream())));
    }

    private static List<String> withArgs(List<String> base, String... more) {
        List<String> l = new ArrayList<>(base);
        l.addAll(List.of(more));
        return l;
    }

    private static void compare(QmpClient qmp, List<String> args, String fmt, long addr) {
        String want = qmp.hmp("xp " + fmt + " 0x" + Long.toHexString(addr)).replace("\r\n", "\n");
        List<String> a = withArgs(args, fmt, "0x" + Long.toHexString(addr));
        String have = run(want.contains("Cannot access memory") ? Command.FAILED : Command.OK, a);
        assertEquals(want, have, "xp " + fmt + " 0x" + Long.toHexString(addr));
    }

    private static String xp(int status, List<String> args) {
        return run(status, args);
    }

    private static String run(int status, List<String> args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> all = withArgs(List.of("xp"), args.toArray(String[]::new));
        int s = Main.run(all.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(status, s, () -> "status of " + all + ": " + err.toString(StandardCharsets.UTF_8));
        return out.toString(StandardCharsets.UTF_8);
    }

    private static String runErr(int status, List<String> args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> all = withArgs(List.of("xp"), args.toArray(String[]::new));
        int s = Main.run(all.toArray(String[]::new), new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(status, s);
        return err.toString(StandardCharsets.UTF_8);
    }
}
