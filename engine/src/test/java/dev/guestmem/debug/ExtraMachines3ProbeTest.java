package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Probes for the third batch of extra machines (ppc, mips, m68k, sparc, s390x, hppa, alpha, ...).
 *
 * <p>mips64el-boston: three disabled {@code mmio} containers (one per xilinx-pcie host, prio 0,
 * siblings of {@code mips-cps-container} under {@code system}) hold enabled aliases. Plain
 * {@code info mtree} prints no line for a disabled region but still prints its subregions one level
 * deeper, so they follow {@code mips-cps-container}'s last subregion at the same indent. QEMU prints
 * siblings sorted by (address, priority descending), so a line sorting before its predecessor at
 * the same level cannot be that predecessor's sibling: it is the subregion of a region plain text
 * left out. The parser only infers hidden parents from over-deep indentation.
 */
class ExtraMachines3ProbeTest {
    /** QEMU -D: cps (prio 1) and a disabled mmio container (prio 0) under system. */
    static final String DISABLED = """
            address-space: memory
              0000000000000000-ffffffffffffffff (prio 0, i/o): system
                0000000000000000-ffffffffffffffff (prio 1, i/o): cps
                  0000000000001000-0000000000001fff (prio 0, i/o): gcr
                0000000000000000-ffffffffffffffff (prio 0, i/o): mmio [disabled]
                  0000000000000000-00000000000000ff (prio 0, i/o): dev

            """;

    /** What QEMU's plain info mtree prints for the same tree (mmio's line left out). */
    static final String PLAIN = """
            address-space: memory
              0000000000000000-ffffffffffffffff (prio 0, i/o): system
                0000000000000000-ffffffffffffffff (prio 1, i/o): cps
                  0000000000001000-0000000000001fff (prio 0, i/o): gcr
                  0000000000000000-00000000000000ff (prio 0, i/o): dev

            """;

    static String norm(String s) {
        return MtreeNormalizer.normalize(s);
    }

    /** Control: the -D import prints QEMU's plain text (passes). */
    @Test
    void disabledImportPrintsPlainOrder() throws Exception {
        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(DISABLED))) {
            assertEquals(norm(PLAIN), norm(MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.PLAIN)));
        }
    }

    /** dev sorts before gcr (0x0 &lt; 0x1000), so it is not gcr's sibling: cps keeps one subregion. */
    @Test
    void outOfOrderLineStartsHiddenParent() {
        MtreeDocument doc = MtreeParser.parse(PLAIN);
        MtreeNode system = doc.blocks().getFirst().root();
        MtreeNode cps = system.children().getFirst();
        assertEquals(1, cps.children().size(), "dev was attached to cps: " + cps.children());
        assertTrue(system.children().stream().anyMatch(MtreeNode::hidden), "no hidden sibling of cps");
    }

    /** The plain import prints the plain text back (mips64el-boston's failing check, minimized). */
    @Test
    void plainImportPrintsPlain() throws Exception {
        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(PLAIN))) {
            assertEquals(norm(PLAIN), norm(MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.PLAIN)));
        }
    }
}
