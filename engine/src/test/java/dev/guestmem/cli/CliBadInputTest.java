package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user typing {@code ./guestmem} by hand gets for bad input: one line on stderr that says
 * what was wrong (a Java exception's class name is not that), the {@link Command} exit status, no
 * stack trace, no hang, and {@code --help} on every command.
 */
class CliBadInputTest {
    @TempDir
    Path dir;

    /** Exit status, stdout, stderr of one in-process run. */
    private record Run(int status, String out, String err) {
        /** Checks a one-line failure with the given status, in the user's words. */
        void failsWithOneLine(int want, String... words) {
            assertEquals(want, status, err);
            String first = err.lines().findFirst().orElse("");
            for (String w : words) {
                assertTrue(first.contains(w), "'" + w + "' missing from: " + err);
            }
            assertFalse(err.contains("Exception") || err.contains("java."), "a Java class name is not a message: " + err);
            assertFalse(err.contains("\tat "), "stack trace: " + err);
        }
    }

    private static Run run(String... args) {
        return run(new ByteArrayOutputStream(), args);
    }

    private static Run run(OutputStream outBytes, String... args) {
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int status;
        try (PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
             PrintStream err = new PrintStream(e, true, StandardCharsets.UTF_8)) {
            try {
                status = Main.run(args, out, err);
            } catch (Throwable t) {
                fail("./guestmem " + String.join(" ", args) + " threw (a stack trace for the user): " + t, t);
                return null;
            }
        }
        return new Run(status, outBytes.toString(), e.toString(StandardCharsets.UTF_8));
    }

    private Path mtree(long ramSize) throws IOException {
        Path m = dir.resolve("m.txt");
        Files.writeString(m, String.format("""
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000000000-%016x (prio 0, ram): ram0
                """, ramSize - 1));
        return m;
    }

    private Path sparse(String name, long size) throws IOException {
        Path p = dir.resolve(name);
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(size);
        }
        return p;
    }

    // ------------------------------------------------------------------------------------------
    // mtree and xp read the mtree text whole: a file over 2 GiB was an OutOfMemoryError stack
    // trace, and an endless one (/dev/zero) read until the heap ran out. Texts are kilobytes: more
    // than a limit is refused in one line.
    // ------------------------------------------------------------------------------------------
    @Test
    void aHugeOrEndlessMtreeFileIsRefusedInOneLine() throws IOException {
        Path huge = sparse("huge.txt", 3L << 30);
        run("mtree", huge.toString()).failsWithOneLine(Command.FAILED, "huge.txt", "larger than");
        run("xp", "--mtree", huge.toString(), "0").failsWithOneLine(Command.FAILED, "huge.txt", "larger than");
        run("mtree", "/dev/zero").failsWithOneLine(Command.FAILED, "/dev/zero", "larger than");
    }

    // ------------------------------------------------------------------------------------------
    // File errors printed Java's exception: "java.nio.file.NoSuchFileException: nope.txt" (mtree),
    // "cannot read nope.txt: nope.txt" (xp), "Input length = 1" for a binary file.
    // ------------------------------------------------------------------------------------------
    @Test
    void fileErrorsSayWhatIsWrongInWords() throws IOException {
        Path missing = dir.resolve("nope.txt");
        Path binary = dir.resolve("bin.txt");
        Files.write(binary, new byte[] {'a', (byte) 0xff, (byte) 0xfe, 0, 1, 2});
        for (String cmd : List.of("mtree", "xp")) {
            String[] pre = cmd.equals("mtree") ? new String[] {"mtree"} : new String[] {"xp", "0", "--mtree"};
            run(concat(pre, missing.toString())).failsWithOneLine(Command.FAILED, "nope.txt", "no such file");
            run(concat(pre, dir.toString())).failsWithOneLine(Command.FAILED, "is a directory");
            run(concat(pre, binary.toString())).failsWithOneLine(Command.FAILED, "bin.txt", "not UTF-8 text");
        }
    }

    private static String[] concat(String[] a, String b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + 1);
        r[a.length] = b;
        return r;
    }

    // ------------------------------------------------------------------------------------------
    // '--help' was a usage error (exit 2) for demo, mtree, xp and share; the top-level usage did
    // not list the launcher's own commands (test, bench, build).
    // ------------------------------------------------------------------------------------------
    @Test
    void everyCommandHasHelpOnStandardOutput() {
        for (String cmd : List.of("demo", "mtree", "xp", "share")) {
            for (String flag : List.of("--help", "-h")) {
                Run r = run(cmd, flag);
                assertEquals(Command.OK, r.status(), cmd + " " + flag + ": " + r.err());
                assertEquals("", r.err(), cmd + " " + flag);
                assertTrue(r.out().startsWith("usage: ./guestmem " + cmd), cmd + " " + flag + ": " + r.out());
            }
        }
        Run top = run("--help");
        for (String launcherCommand : List.of("test", "bench GROUP", "build")) {
            assertTrue(top.out().contains("\n  " + launcherCommand), launcherCommand + " missing from: " + top.out());
        }
    }

    // ------------------------------------------------------------------------------------------
    // xp built its whole dump in memory before printing a line: a large count over a large RAM
    // printed nothing for minutes, then ran out of heap. It prints as it reads: bytes written by
    // the other process after the first lines came out show up in the later lines.
    // ------------------------------------------------------------------------------------------
    @Test
    void xpPrintsAsItReads() throws IOException {
        long ramSize = 4L << 20;
        Path ram = sparse("ram.bin", ramSize);
        long late = 2L << 20;
        OutputStream out = new ByteArrayOutputStream() {
            private boolean poked;

            @Override
            public synchronized void write(byte[] b, int off, int len) {
                if (!poked) {
                    poked = true; // the other process writes once the first lines are out
                    try (FileChannel ch = FileChannel.open(ram, StandardOpenOption.WRITE)) {
                        ch.write(ByteBuffer.wrap(new byte[] {0x11, 0x22, 0x33, 0x44}), late);
                    } catch (IOException e) {
                        throw new IllegalStateException(e);
                    }
                }
                super.write(b, off, len);
            }
        };
        Run r = run(out, "xp", "--mtree", mtree(ramSize).toString(), "--ram", "ram0=" + ram, "/" + ramSize / 4 + "xw", "0");
        assertEquals(Command.OK, r.status(), r.err());
        assertTrue(r.out().contains("\n0000000000200000: 0x44332211 0x00000000 0x00000000 0x00000000\n"),
                "the late write is not in the dump: the dump was read whole before printing");
    }

    // ------------------------------------------------------------------------------------------
    // share's console 'read ADDR LEN' allocated LEN bytes first: 'read 0 2147483647' was an
    // OutOfMemoryError stack trace, 'read 0 99999999999' said only "integer overflow".
    // ------------------------------------------------------------------------------------------
    @Test
    void shareReadOfAHugeLengthIsOneLine() {
        String sock = dir.resolve("s.sock").toString();
        for (String len : List.of("2147483647", "99999999999")) {
            Run r = run("share", "serve", sock, "--size", "1M", "--do", "read 0 " + len);
            r.failsWithOneLine(Command.FAILED, "read", len, "at most");
        }
        Run ok = run("share", "serve", sock, "--size", "1M", "--do", "write 0 hi", "--do", "read 0 2");
        assertEquals(Command.OK, ok.status(), ok.err());
        assertTrue(ok.out().endsWith("\"hi\"\n"), ok.out());
    }

    // ------------------------------------------------------------------------------------------
    // 'quit' is in share's command list, but as '--do quit' it was "unknown command 'quit'", exit 1.
    // It ends the --do list there, as it ends the console.
    // ------------------------------------------------------------------------------------------
    @Test
    void shareDoQuitStopsTheList() {
        Run r = run("share", "serve", dir.resolve("q.sock").toString(), "--size", "1M", "--do", "write 0 a", "--do", "quit",
                "--do", "frobnicate");
        assertEquals(Command.OK, r.status(), r.err());
        assertEquals("", r.err());
    }

    // ------------------------------------------------------------------------------------------
    // 'xp --write' into a RAM file this process may not write (mapped read-only) said the region was
    // "ROM" that "the guest cannot write": the file is the reason, and the message says so.
    // ------------------------------------------------------------------------------------------
    @Test
    void xpWriteToAReadOnlyFileNamesTheFile() throws Exception {
        Path ram = sparse("ro.bin", 4096);
        org.junit.jupiter.api.Assumptions.assumeTrue(new ProcessBuilder("chattr", "+i", ram.toString()).start().waitFor() == 0
                && !Files.isWritable(ram), "needs a file this process cannot write (chattr +i, as root)");
        try {
            Run r = run("xp", "--mtree", mtree(4096).toString(), "--ram", "ram0=" + ram, "--write", "0", "01");
            r.failsWithOneLine(Command.FAILED, "cannot write 1 bytes at 0x0", "read-only");
            assertFalse(r.err().contains("ROM"), r.err());
        } finally {
            new ProcessBuilder("chattr", "-i", ram.toString()).start().waitFor();
        }
        assertEquals(0, Files.readAllBytes(ram)[0], "nothing was written");
    }

    // ------------------------------------------------------------------------------------------
    // Numbers.parseAddress took a sign after the 0x or 0 prefix ('0x+10' was 0x10, '0+7' was 7),
    // which strtoull and QEMU's monitor refuse; a size with an unknown suffix ('1T') was "not an
    // address".
    // ------------------------------------------------------------------------------------------
    @Test
    void signsAfterAPrefixAndUnknownSizeSuffixesAreRefused() throws IOException {
        Path ram = sparse("r.bin", 4096);
        for (String a : List.of("0x+10", "0+7", "0x-1")) {
            run("xp", "--mtree", mtree(4096).toString(), "--ram", "ram0=" + ram, a)
                    .failsWithOneLine(Command.USAGE, "'" + a + "' is not an address");
        }
        run("share", "serve", dir.resolve("t.sock").toString(), "--size", "1T")
                .failsWithOneLine(Command.USAGE, "'1T' is not a size");
    }

    // ------------------------------------------------------------------------------------------
    // share took the word after serve/attach as SOCKET whatever it was: 'share serve --size 1M s'
    // said "unknown option 1M"; an empty SOCKET was "cannot listen on : it exists and is a
    // directory". Options may come before SOCKET; an empty or second SOCKET is a usage error.
    // ------------------------------------------------------------------------------------------
    @Test
    void shareTakesOptionsBeforeTheSocketAndRefusesAnEmptyOne() {
        Path sock = dir.resolve("o.sock");
        Run r = run("share", "serve", "--size", "1M", sock.toString(), "--do", "layout");
        assertEquals(Command.OK, r.status(), r.err());
        assertTrue(r.out().contains("memfd RAM 'ram0' 0x100000 bytes"), r.out());
        run("share", "serve", "", "--do", "layout").failsWithOneLine(Command.USAGE, "SOCKET", "empty");
        run("share", "serve", "a.sock", "b.sock").failsWithOneLine(Command.USAGE, "one SOCKET");
        run("share", "attach", "--timeout", "1").failsWithOneLine(Command.USAGE, "attach needs a SOCKET");
    }

    // ------------------------------------------------------------------------------------------
    // xp took a second --mtree or --as silently (the last won), and '/FMT' after ADDR was only
    // "unexpected argument"; the JVM side said "unknown command 'test'" for the launcher's own
    // commands, which its usage lists.
    // ------------------------------------------------------------------------------------------
    @Test
    void xpRepeatedOptionsAndMisplacedFormatSayWhatIsWrong() throws IOException {
        String m = mtree(4096).toString();
        run("xp", "--mtree", m, "--mtree", m, "0").failsWithOneLine(Command.USAGE, "--mtree", "once");
        run("xp", "--mtree", m, "--as", "memory", "--as", "io", "0").failsWithOneLine(Command.USAGE, "--as", "once");
        run("xp", "--mtree", m, "0", "/4xb").failsWithOneLine(Command.USAGE, "/FMT", "before ADDR");
        run("test").failsWithOneLine(Command.USAGE, "'test'", "./guestmem launcher");
    }
}
