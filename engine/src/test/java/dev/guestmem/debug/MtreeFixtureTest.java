package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The fixture proof: every capture in the {@code guestmem.fixtures} folder, imported into the
 * engine and printed back, gives QEMU's own output, compared under the README normalisation.
 */
class MtreeFixtureTest {
    static void sameNormalised(String expected, String actual) {
        assertEquals(MtreeNormalizer.normalize(expected), MtreeNormalizer.normalize(actual));
    }

    static MtreeImport load(String machine, String kind, MtreeImporter.Rules rules) {
        return MtreeImporter.importDocument(MtreeParser.parse(Fixtures.read(machine, kind)), rules);
    }

    @TestFactory
    List<DynamicTest> annotatedImport() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String m : Fixtures.machines()) {
            tests.add(DynamicTest.dynamicTest(m + ": annotated renders info mtree -f", () -> {
                try (MtreeImport imp = load(m, "annotated", MtreeImporter.Rules.ANNOTATED)) {
                    sameNormalised(Fixtures.read(m, "flat"), FlatViewPrinter.print(imp.addressSpaces()));
                }
            }));
            for (String kind : List.of("disabled", "mtree", "annotated")) {
                MtreeDialect d = switch (kind) {
                    case "disabled" -> MtreeDialect.DISABLED;
                    case "mtree" -> MtreeDialect.PLAIN;
                    default -> MtreeDialect.ANNOTATED;
                };
                tests.add(DynamicTest.dynamicTest(m + ": annotated prints " + kind, () -> {
                    try (MtreeImport imp = load(m, "annotated", MtreeImporter.Rules.ANNOTATED)) {
                        sameNormalised(Fixtures.read(m, kind),
                                MtreeWriter.write(MtreeDumper.dump(imp.addressSpaces()), d));
                    }
                }));
            }
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> qemuTextImport() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String m : Fixtures.machines()) {
            tests.add(DynamicTest.dynamicTest(m + ": plain import prints itself", () -> {
                try (MtreeImport imp = load(m, "mtree", MtreeImporter.Rules.QEMU)) {
                    sameNormalised(Fixtures.read(m, "mtree"),
                            MtreeWriter.write(MtreeDumper.dump(imp.addressSpaces()), MtreeDialect.PLAIN));
                }
            }));
            tests.add(DynamicTest.dynamicTest(m + ": -D import renders as the fallback rules read the annotated text", () -> {
                MtreeDocument annotated = MtreeParser.parse(Fixtures.read(m, "annotated"));
                MtreeDocument rewritten = FallbackRules.rewrite(annotated, false);
                try (MtreeImport imp = load(m, "disabled", MtreeImporter.Rules.QEMU);
                     MtreeImport ref = MtreeImporter.importDocument(rewritten, MtreeImporter.Rules.ANNOTATED)) {
                    String flat = FlatViewPrinter.print(imp.addressSpaces());
                    sameNormalised(FlatViewPrinter.print(ref.addressSpaces()), flat);
                    if (rewritten.equals(annotated)) {
                        // The fallback rules miss nothing on this machine: QEMU's own text suffices.
                        sameNormalised(Fixtures.read(m, "flat"), flat);
                    }
                }
            }));
            tests.add(DynamicTest.dynamicTest(m + ": plain import renders as the plain fallback rules read the annotated text", () -> {
                MtreeDocument rewritten = FallbackRules.rewrite(MtreeParser.parse(Fixtures.read(m, "annotated")), true);
                try (MtreeImport imp = load(m, "mtree", MtreeImporter.Rules.QEMU);
                     MtreeImport ref = MtreeImporter.importDocument(rewritten, MtreeImporter.Rules.ANNOTATED)) {
                    sameNormalised(FlatViewPrinter.print(ref.addressSpaces()), FlatViewPrinter.print(imp.addressSpaces()));
                }
            }));
            tests.add(DynamicTest.dynamicTest(m + ": -D import prints itself and plain", () -> {
                try (MtreeImport imp = load(m, "disabled", MtreeImporter.Rules.QEMU)) {
                    MtreeDocument back = MtreeDumper.dump(imp.addressSpaces());
                    sameNormalised(Fixtures.read(m, "disabled"), MtreeWriter.write(back, MtreeDialect.DISABLED));
                    sameNormalised(Fixtures.read(m, "mtree"), MtreeWriter.write(back, MtreeDialect.PLAIN));
                }
            }));
        }
        return tests;
    }
}
