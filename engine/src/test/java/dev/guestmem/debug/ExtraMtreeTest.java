package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Real QEMU 7.2 captures of machines the importer was not written against (see
 * {@code src/test/resources/extra-mtree/README.md}). Checks listed in {@code KNOWN-DIFFERENCES.txt}
 * are asserted to fail, so that they stay visible.
 */
class ExtraMtreeTest {
    private static final Pattern RANGE = Pattern.compile(
            "^  ([0-9a-f]{16})-([0-9a-f]{16}) \\(prio -?[0-9]+, ([a-z/-]+)\\): (.*?)(?: @([0-9a-f]{16}))?$");

    static Path dir() throws URISyntaxException {
        return Path.of(ExtraMtreeTest.class.getResource("/extra-mtree").toURI());
    }

    static String read(String machine, String kind) throws IOException, URISyntaxException {
        return Files.readString(dir().resolve(machine + "." + kind + ".txt"), StandardCharsets.UTF_8);
    }

    static Set<String> known() throws IOException, URISyntaxException {
        Set<String> out = new HashSet<>();
        for (String l : Files.readAllLines(dir().resolve("KNOWN-DIFFERENCES.txt"))) {
            if (!l.isBlank() && !l.startsWith("#")) {
                String[] f = l.split(" ", 3);
                out.add(f[0] + " " + f[1]);
            }
        }
        return out;
    }

    /**
     * A flat range: its region's name, its addresses, where its region starts ({@code start -
     * @offset}), and its type as QEMU prints it.
     */
    record Shown(String name, long start, long last, long regionStart, String type) {
    }

    /**
     * The fixtures' README rule, read off QEMU's flat view: {@code i/o} if a range inside the
     * region's printed addresses shows its name (names repeat, so the addresses matter).
     */
    static MtreeDocument annotate(MtreeDocument doc, String flat) {
        List<Shown> shown = new ArrayList<>();
        for (String l : flat.split("\n")) {
            Matcher m = RANGE.matcher(l);
            if (m.matches()) {
                long start = Long.parseUnsignedLong(m.group(1), 16);
                long offset = m.group(5) == null ? 0 : Long.parseUnsignedLong(m.group(5), 16);
                shown.add(new Shown(m.group(4), start, Long.parseUnsignedLong(m.group(2), 16), start - offset, m.group(3)));
            }
        }
        List<MtreeBlock> out = new ArrayList<>();
        // Decisions made where addresses are known (address-space blocks), by name and printed range,
        // reused for the same region printed again in a memory-region block.
        Map<String, MtreeType> decided = new HashMap<>();
        for (MtreeBlock b : doc.blocks()) {
            if (b instanceof MtreeBlock.AddressSpaceGroup) {
                annotate(b.root(), shown, false, decided);
            }
        }
        for (MtreeBlock b : doc.blocks()) {
            // memory-region blocks print addresses from base 0: there only the name can be matched,
            // unless the same region was typed in an address-space block.
            MtreeNode r = annotate(b.root(), shown, b instanceof MtreeBlock.RegionBlock, decided);
            out.add(switch (b) {
                case MtreeBlock.AddressSpaceGroup g -> new MtreeBlock.AddressSpaceGroup(g.names(), r, g.line());
                case MtreeBlock.RegionBlock rb -> new MtreeBlock.RegionBlock(rb.name(), r, rb.line());
            });
        }
        return new MtreeDocument(out);
    }

    private static MtreeNode annotate(MtreeNode n, List<Shown> shown, boolean anyAddress, Map<String, MtreeType> decided) {
        List<MtreeNode> kids = n.children().stream().map(c -> annotate(c, shown, anyAddress, decided)).toList();
        MtreeType t = n.type();
        if (!n.isAlias() && t == MtreeType.IO) {
            String key = n.name() + " " + Long.toHexString(n.start()) + "-" + Long.toHexString(n.end());
            if (anyAddress && decided.containsKey(key)) {
                t = decided.get(key);
            } else {
                // A range shows this region, not a namesake inside it, when it starts where the
                // region starts less its offset in the region (the flat view's @offset).
                boolean seen = shown.stream().anyMatch(r -> r.name().equals(n.name()) && (anyAddress
                        || Long.compareUnsigned(r.start(), n.end()) <= 0 && Long.compareUnsigned(r.last(), n.start()) >= 0
                                && r.regionStart() == n.start()));
                t = seen ? MtreeType.IO : MtreeType.CONTAINER;
                if (!anyAddress) {
                    decided.merge(key, t, (a, b) -> a == MtreeType.IO || b == MtreeType.IO ? MtreeType.IO : a);
                }
            }
        }
        // The README's second rule: an alias is read-only by itself when what shows through it is
        // rom while its target is RAM (a flat range of the target, inside the alias's addresses,
        // at the target offset the alias maps there).
        // Memory-region blocks print from base 0: there the decision made for the same alias line
        // in an address-space block is reused, as for i/o above.
        boolean readonly = n.readonlyMarker();
        if (n.isAlias() && t == MtreeType.RAM && !n.disabled()) {
            String key = "alias " + n.name() + " " + Long.toHexString(n.start()) + "-" + Long.toHexString(n.end()) + " @"
                    + n.alias().target() + " " + Long.toHexString(n.alias().targetStart());
            if (anyAddress) {
                readonly |= decided.get(key) == MtreeType.ROM;
            } else {
                // Every range of the target shown across the alias at its mapping is rom (a writable
                // alias below a read-only one with the same mapping, ram-below-4g under pam-rom, shows
                // ram elsewhere). Ranges are matched by overlap: the flat view merges the ranges of
                // neighbouring read-only windows onto one region.
                List<Shown> through = shown.stream().filter(r -> r.name().equals(n.alias().target())
                        && Long.compareUnsigned(r.last(), n.start()) >= 0 && Long.compareUnsigned(r.start(), n.end()) <= 0
                        && r.regionStart() == n.start() - n.alias().targetStart()).toList();
                readonly |= !through.isEmpty() && through.stream().allMatch(r -> r.type().equals("rom"));
                if (readonly) {
                    decided.put(key, MtreeType.ROM);
                }
            }
        }
        return new MtreeNode(n.line(), n.start(), n.end(), n.priority(), n.nonvolatile(), t, n.name(), n.alias(),
                n.disabled(), readonly, n.overflowMarks(), n.hidden(), n.owner(), kids);
    }

    static String norm(String s) {
        return MtreeNormalizer.normalize(s);
    }

    @TestFactory
    List<DynamicTest> extraMachines() throws IOException, URISyntaxException {
        Set<String> known = known();
        List<String> machines;
        try (Stream<Path> s = Files.list(dir())) {
            machines = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cmd"))
                    .map(n -> n.substring(0, n.length() - 4)).sorted().toList();
        }
        assertFalse(machines.isEmpty());
        List<DynamicTest> tests = new ArrayList<>();
        for (String m : machines) {
            tests.add(DynamicTest.dynamicTest(m + ": -D import prints -D and plain" + mark(known, m, "tree"), () -> {
                try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(read(m, "disabled")))) {
                    MtreeDocument back = MtreeDumper.dump(imp.system());
                    boolean same = norm(read(m, "disabled")).equals(norm(MtreeWriter.write(back, MtreeDialect.DISABLED)))
                            && norm(read(m, "mtree")).equals(norm(MtreeWriter.write(back, MtreeDialect.PLAIN)));
                    if (known.contains(m + " tree")) {
                        assertFalse(same, "known difference no longer there: update KNOWN-DIFFERENCES.txt");
                    } else {
                        assertTrue(same);
                    }
                }
            }));
            tests.add(DynamicTest.dynamicTest(m + ": plain import prints plain", () -> {
                try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(read(m, "mtree")))) {
                    if (!known.contains(m + " tree")) {
                        assertEquals(norm(read(m, "mtree")),
                                norm(MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.PLAIN)));
                    }
                }
            }));
            tests.add(DynamicTest.dynamicTest(m + ": annotated from the flat view renders it" + mark(known, m, "flat"), () -> {
                String flat = read(m, "flat");
                MtreeDocument doc = annotate(MtreeParser.parse(read(m, "disabled")), flat);
                try (MtreeImport imp = MtreeImporter.importDocument(doc, MtreeImporter.Rules.ANNOTATED)) {
                    String ours = FlatViewPrinter.print(imp.system());
                    if (known.contains(m + " flat")) {
                        assertNotEquals(norm(flat), norm(ours), "known difference no longer there");
                    } else {
                        assertEquals(norm(flat), norm(ours));
                    }
                }
            }));
        }
        return tests;
    }

    private static String mark(Set<String> known, String m, String check) {
        return known.contains(m + " " + check) ? " [KNOWN DIFFERENCE, expected to fail]" : "";
    }
}
