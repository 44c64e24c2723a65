package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The text layer alone (parser and writer, no engine): each capture parses, and the annotated text
 * printed in each dialect gives QEMU's own files byte for byte.
 */
class MtreeTextFixtureTest {
    @TestFactory
    List<DynamicTest> annotatedTextPrintsEveryDialect() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String m : Fixtures.machines()) {
            String annotated = Fixtures.read(m, "annotated");
            tests.add(DynamicTest.dynamicTest(m + ": annotated -> annotated", () ->
                    same(annotated, MtreeWriter.write(MtreeParser.parse(annotated), MtreeDialect.ANNOTATED))));
            tests.add(DynamicTest.dynamicTest(m + ": annotated -> -D", () ->
                    same(Fixtures.read(m, "disabled"),
                            MtreeWriter.write(MtreeParser.parse(annotated), MtreeDialect.DISABLED))));
            tests.add(DynamicTest.dynamicTest(m + ": annotated -> plain", () ->
                    same(Fixtures.read(m, "mtree"),
                            MtreeWriter.write(MtreeParser.parse(annotated), MtreeDialect.PLAIN))));
        }
        return tests;
    }

    /** A group of spaces sharing one root answers for each of its names; an unknown name for none. */
    @org.junit.jupiter.api.Test
    void anAddressSpaceIsFoundByAnyNameOfItsGroup() {
        MtreeDocument doc = MtreeParser.parse("""
                address-space: cpu-memory-0
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, container): system
                    0000000000000000-0000000000000fff (prio 0, ram): ram

                address-space: I/O
                  0000000000000000-000000000000ffff (prio 0, container): io

                """);
        assertEquals("system", doc.addressSpace("memory").orElseThrow().name());
        assertEquals("system", doc.addressSpace("cpu-memory-0").orElseThrow().name());
        assertEquals("io", doc.addressSpace("I/O").orElseThrow().name());
        assertEquals(java.util.Optional.empty(), doc.addressSpace("pci"));
    }

    /** Same text in the same order; the captures lack QEMU's final blank line. */
    static void same(String expected, String actual) {
        assertEquals(expected.stripTrailing(), actual.stripTrailing());
    }

    @TestFactory
    List<DynamicTest> qemuTextReprintsItself() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String m : Fixtures.machines()) {
            for (String kind : List.of("mtree", "disabled")) {
                String text = Fixtures.read(m, kind);
                MtreeDialect d = kind.equals("mtree") ? MtreeDialect.PLAIN : MtreeDialect.DISABLED;
                tests.add(DynamicTest.dynamicTest(m + ": " + kind + " reprints itself", () -> {
                    MtreeDocument doc = MtreeParser.parse(text);
                    assertFalse(doc.looksAnnotated());
                    same(text, MtreeWriter.write(doc, d));
                }));
            }
            String owners = Fixtures.read(m, "owners");
            tests.add(DynamicTest.dynamicTest(m + ": owners text parses as the plain tree", () -> {
                MtreeDocument doc = MtreeParser.parse(owners);
                same(Fixtures.read(m, "mtree"), MtreeWriter.write(doc, MtreeDialect.PLAIN));
                assertTrue(doc.blocks().stream().allMatch(b -> b.root().hidden() || !b.root().owner().isEmpty()));
            }));
        }
        return tests;
    }
}
