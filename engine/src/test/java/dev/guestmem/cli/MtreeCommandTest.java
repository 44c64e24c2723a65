package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.debug.MtreeNormalizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MtreeCommandTest {
    @TempDir
    Path tmp;

    record Result(int status, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static Path fixture(String name) {
        return Path.of(System.getProperty("guestmem.fixtures")).resolve(name);
    }

    static String read(Path p) throws IOException {
        return Files.readString(p, StandardCharsets.UTF_8);
    }

    @Test
    void printsEachDialectAndTheFlatViews() throws IOException {
        Path in = fixture("x86_64-pc-128m.annotated.txt");
        String[][] cases = {
            {"x86_64-pc-128m.mtree.txt"}, {"x86_64-pc-128m.disabled.txt", "-D"},
            {"x86_64-pc-128m.annotated.txt", "--annotated"}, {"x86_64-pc-128m.flat.txt", "--flat"},
        };
        for (String[] c : cases) {
            Result r = c.length == 1 ? run("mtree", in.toString()) : run("mtree", c[1], in.toString());
            assertEquals(0, r.status(), r.err());
            assertEquals("", r.err());
            assertEquals(MtreeNormalizer.normalize(read(fixture(c[0]))), MtreeNormalizer.normalize(r.out()), c[0]);
        }
    }

    @Test
    void badLineFailsWithItsNumber() throws IOException {
        Path bad = tmp.resolve("bad.txt");
        Files.writeString(bad, """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000000000-0000000007ffffff (prio 0, ram) pc.ram
                """);
        Result r = run("mtree", bad.toString());
        assertEquals(Command.FAILED, r.status());
        assertEquals("", r.out());
        assertTrue(r.err().contains("line 3"), r.err());
        assertTrue(r.err().contains("(prio 0, ram) pc.ram"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
    }

    @Test
    void flatTextIsRecognisedAndRefused() {
        Result r = run("mtree", fixture("x86_64-pc-128m.flat.txt").toString());
        assertEquals(Command.FAILED, r.status());
        assertTrue(r.err().contains("line 1") && r.err().contains("info mtree -f"), r.err());
    }

    @Test
    void unknownAliasTargetNamesTheAliasLine() throws IOException {
        Path bad = tmp.resolve("alias.txt");
        Files.writeString(bad, """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, container): system
                    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000007ffffff
                """);
        Result r = run("mtree", bad.toString());
        assertEquals(Command.FAILED, r.status());
        assertTrue(r.err().contains("line 3") && r.err().contains("pc.ram"), r.err());
    }

    @Test
    void missingFileAndWrongUsage() {
        Result missing = run("mtree", tmp.resolve("nope.txt").toString());
        assertEquals(Command.FAILED, missing.status());
        assertTrue(missing.err().contains("nope.txt"), missing.err());
        assertEquals(Command.USAGE, run("mtree").status());
        assertEquals(Command.USAGE, run("mtree", "--bogus", "x").status());
        assertEquals(Command.USAGE, run("mtree", "a", "b").status());
        assertEquals(Command.USAGE, run("mtree", "--flat", "-D", "a").status());
        assertEquals(Command.USAGE, run("no-such-command").status());
        assertEquals(Command.USAGE, run().status());
        assertTrue(run("help").out().contains("mtree"));
    }
}
