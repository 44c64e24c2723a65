package dev.guestmem.scenario13;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The q35 port against QEMU's own capture of that machine ({@code x86_64-q35-128m}): the trees of
 * "memory" and "cpu-smm-0" print as {@code info mtree} printed them, and the flat views of
 * "memory"/"cpu-memory-0" and "cpu-smm-0" have QEMU's ranges, line for line. (The I/O space holds
 * only the ports the port needs, so its view is not compared.)
 */
class Q35FixtureTest {
    static String fixture(String kind) throws IOException {
        return Files.readString(Path.of(System.getProperty("guestmem.fixtures"), "x86_64-q35-128m." + kind + ".txt"));
    }

    /** The lines of the block that starts with {@code header}, up to the next blank line. */
    static List<String> block(String text, String header) {
        List<String> lines = Arrays.asList(text.split("\n"));
        int start = lines.indexOf(header);
        if (start < 0) {
            throw new AssertionError("no " + header + " in\n" + text);
        }
        List<String> out = new ArrayList<>();
        for (int i = start; i < lines.size() && !lines.get(i).isEmpty(); i++) {
            out.add(lines.get(i));
        }
        return out;
    }

    /** The range lines of the flat view that lists {@code AS "name"}. */
    static List<String> ranges(String flatText, String space) {
        for (String view : flatText.split("\n(?=FlatView #)")) {
            if (view.contains(" AS \"" + space + "\",")) {
                return view.lines().filter(l -> l.matches("  [0-9a-f]{16}-.*")).toList();
            }
        }
        throw new AssertionError("no view of " + space + " in\n" + flatText);
    }

    @Test
    void treesPrintAsQemuPrintedThem() throws IOException {
        try (Q35Machine m = new Q35Machine(false)) {
            String mine = MtreeWriter.write(MtreeDumper.dump(List.of(m.cpuMemory, m.memory, m.cpuSmm)), MtreeDialect.PLAIN);
            String qemu = fixture("mtree");
            assertEquals(block(qemu, "address-space: memory"), block(mine, "address-space: memory"));
            assertEquals(block(qemu, "address-space: cpu-smm-0"), block(mine, "address-space: cpu-smm-0"));
            assertEquals(block(qemu, "memory-region: smram"), block(mine, "memory-region: smram"));
        }
    }

    @Test
    void flatViewsHaveQemusRanges() throws IOException {
        try (Q35Machine m = new Q35Machine(false)) {
            String mine = FlatViewPrinter.print(m.sys);
            String qemu = fixture("flat");
            for (String space : List.of("memory", "cpu-memory-0", "cpu-smm-0")) {
                assertEquals(ranges(qemu, space), ranges(mine, space), space);
            }
        }
    }
}
