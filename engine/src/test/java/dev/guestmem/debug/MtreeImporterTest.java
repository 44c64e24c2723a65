package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** Importer rules on small hand-written maps, with expected output derived from QEMU's code by hand. */
class MtreeImporterTest {
    static MtreeImport load(String text) {
        return MtreeImporter.importDocument(MtreeParser.parse(text));
    }

    static String flat(MtreeImport imp) {
        return FlatViewPrinter.print(imp.addressSpaces());
    }

    @Test
    void sameAddressEqualPriorityFirstPrintedWins() {
        String text = """
                address-space: memory
                  0000000000000000-000000000000ffff (prio 0, container): system
                    0000000000001000-0000000000001fff (prio 0, i/o): newer
                    0000000000001000-0000000000001fff (prio 0, i/o): older
                """;
        try (MtreeImport imp = load(text)) {
            assertEquals("""
                    FlatView #0
                     AS "memory", root: system
                     Root memory region: system
                      0000000000001000-0000000000001fff (prio 0, i/o): newer

                    """, flat(imp));
            List<MemoryRegion> subs = imp.regionsNamed("system").getFirst().subregions();
            assertEquals(List.of("newer", "older"), subs.stream().map(MemoryRegion::name).toList());
            assertEquals(text + "\n", MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.ANNOTATED));
        }
    }

    @Test
    void siblingAgesTheCallerKnowsDecideOverlaps() {
        // The text cannot show that the background was mapped after the device: the caller says so.
        String text = """
                address-space: memory
                  0000000000000000-000000000000ffff (prio 0, container): system
                    0000000000000000-0000000000003fff (prio 0, i/o): background
                    0000000000001000-0000000000001fff (prio 0, i/o): device
                """;
        MtreeDocument doc = MtreeParser.parse(text);
        try (MtreeImport imp = MtreeImporter.importDocument(doc, MtreeImporter.Rules.ANNOTATED, null,
                n -> n.name().equals("background") ? 2 : 1)) {
            assertEquals("""
                    FlatView #0
                     AS "memory", root: system
                     Root memory region: system
                      0000000000000000-0000000000003fff (prio 0, i/o): background

                    """, flat(imp));
            assertEquals(List.of("background", "device"),
                    imp.regionsNamed("system").getFirst().subregions().stream().map(MemoryRegion::name).toList(),
                    "newest first, as QEMU keeps equal priorities");
        }
        // Equal ages keep the text's order (the higher address is the newer).
        try (MtreeImport imp = MtreeImporter.importDocument(doc, MtreeImporter.Rules.ANNOTATED, null, n -> 7)) {
            assertTrue(flat(imp).contains("(prio 0, i/o): device\n"));
        }
    }

    @Test
    void differentAddressesEqualPriorityHigherAddressWins() {
        // A device inside an equal-priority background: the one at the higher address is newer.
        String text = """
                address-space: memory
                  0000000000000000-000000000000ffff (prio 0, container): system
                    0000000000000000-0000000000003fff (prio 0, i/o): background
                    0000000000001000-0000000000001fff (prio 0, i/o): device
                """;
        try (MtreeImport imp = load(text)) {
            assertEquals("""
                    FlatView #0
                     AS "memory", root: system
                     Root memory region: system
                      0000000000000000-0000000000000fff (prio 0, i/o): background
                      0000000000001000-0000000000001fff (prio 0, i/o): device
                      0000000000002000-0000000000003fff (prio 0, i/o): background @0000000000002000

                    """, flat(imp));
        }
    }

    @Test
    void higherPriorityWinsWhateverTheOrder() {
        String text = """
                address-space: memory
                  0000000000000000-000000000000ffff (prio 0, container): system
                    0000000000000000-0000000000003fff (prio 2, ram): low-addr-high-prio
                    0000000000001000-0000000000001fff (prio -5, i/o): device
                """;
        try (MtreeImport imp = load(text)) {
            assertEquals("""
                    FlatView #0
                     AS "memory", root: system
                     Root memory region: system
                      0000000000000000-0000000000003fff (prio 2, ram): low-addr-high-prio

                    """, flat(imp));
        }
    }

    @Test
    void aliasTargetIsTheRegionTheBlockDescribesAmongNamesakes() {
        // Two regions are called "dup"; the memory-region block (type, size, address) picks the second.
        String text = """
                address-space: memory
                  0000000000000000-00000000000fffff (prio 0, container): system
                    0000000000000000-0000000000000fff (prio 0, ram): dup
                    0000000000010000-00000000000100ff (prio 0, i/o): dup
                    0000000000020000-000000000002000f (prio 0, i/o): alias win @dup 0000000000000010-000000000000001f

                memory-region: dup
                  0000000000010000-00000000000100ff (prio 0, i/o): dup
                """;
        try (MtreeImport imp = load(text)) {
            List<MemoryRegion> dups = imp.regionsNamed("dup");
            assertEquals(2, dups.size());
            AliasRegion win = (AliasRegion) imp.regionsNamed("win").getFirst();
            assertInstanceOf(IoRegion.class, win.target());
            assertSame(imp.regionsNamed("system").getFirst(), win.target().container());
            assertEquals(0x10000, win.target().addr());
            assertTrue(flat(imp).contains("0000000000020000-000000000002000f (prio 0, i/o): dup @0000000000000010\n"));
            assertEquals(text + "\n", MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.ANNOTATED));
        }
    }

    @Test
    void twoBlocksWithOneNameAreTwoTargetsInQueueOrder() {
        String text = """
                address-space: memory
                  0000000000000000-000000000000ffff (prio 0, container): system
                    0000000000000000-0000000000000fff (prio 0, ram): alias a1 @bank 0000000000000000-0000000000000fff
                    0000000000001000-0000000000001fff (prio 0, ram): alias a2 @bank 0000000000000000-0000000000000fff
                    0000000000002000-0000000000002fff (prio 0, ram): alias a3 @bank 0000000000000000-0000000000000fff

                memory-region: bank
                  0000000000000000-000000000000ffff (prio 0, ram): bank

                memory-region: bank
                  0000000000000000-0000000000007fff (prio 0, ram): bank
                """;
        try (MtreeImport imp = load(text)) {
            List<MemoryRegion> banks = imp.regionsNamed("bank");
            assertEquals(2, banks.size());
            AliasRegion a1 = (AliasRegion) imp.regionsNamed("a1").getFirst();
            AliasRegion a3 = (AliasRegion) imp.regionsNamed("a3").getFirst();
            assertEquals(0x10000, a1.target().size());
            assertEquals(0x8000, a3.target().size());
            assertEquals(text + "\n", MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.ANNOTATED));
        }
    }

    @Test
    void regionInTreeAndBlockIsOneRegion() {
        String text = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, container): system
                    0000000000000000-00000000000fffff (prio -1, container): pci
                      00000000000f0000-00000000000fffff (prio 0, rom): bios
                    0000000000100000-000000000010ffff (prio 0, rom): alias shadow @bios 0000000000000000-000000000000ffff [readonly]

                memory-region: bios
                  00000000000f0000-00000000000fffff (prio 0, rom): bios
                """;
        try (MtreeImport imp = load(text)) {
            assertEquals(1, imp.regionsNamed("bios").size());
            MemoryRegion bios = imp.regionsNamed("bios").getFirst();
            assertSame(bios, ((AliasRegion) imp.regionsNamed("shadow").getFirst()).target());
            assertSame(imp.regionsNamed("pci").getFirst(), bios.container());
            assertTrue(imp.regionsNamed("shadow").getFirst().isReadonly());
            assertEquals(text + "\n", MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.ANNOTATED));
        }
    }

    @Test
    void kindsAndFlagsRoundTrip() {
        String text = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, container): system
                    0000000000000000-0000000000000fff (prio 0, nv-ram): nvram
                    0000000000001000-0000000000001fff (prio 0, romd): flash
                    0000000000002000-0000000000002fff (prio 0, ramd): bar
                    0000000000003000-0000000000003fff (prio 0, rom): boot
                    0000000000004000-0000000000004fff (prio 0, i/o): mmio
                      0000000000004000-0000000000004003 (prio 0, i/o): reg
                    0000000000005000-0000000000005fff (prio 0, nv-container): nvbox [disabled]
                """;
        try (MtreeImport imp = load(text)) {
            assertInstanceOf(RamRegion.class, imp.regionsNamed("nvram").getFirst());
            assertTrue(imp.regionsNamed("nvram").getFirst().isNonvolatile());
            assertInstanceOf(RomDeviceRegion.class, imp.regionsNamed("flash").getFirst());
            assertTrue(imp.regionsNamed("bar").getFirst().isRamDevice());
            assertTrue(imp.regionsNamed("boot").getFirst().isReadonly());
            assertInstanceOf(IoRegion.class, imp.regionsNamed("mmio").getFirst());
            assertInstanceOf(ContainerRegion.class, imp.regionsNamed("nvbox").getFirst());
            assertFalse(imp.regionsNamed("nvbox").getFirst().isEnabled());
            assertEquals(text + "\n", MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.ANNOTATED));
            assertEquals("""
                    FlatView #0
                     AS "memory", root: system
                     Root memory region: system
                      0000000000000000-0000000000000fff (prio 0, nv-ram): nvram
                      0000000000001000-0000000000001fff (prio 0, romd): flash
                      0000000000002000-0000000000002fff (prio 0, ramd): bar
                      0000000000003000-0000000000003fff (prio 0, rom): boot
                      0000000000004000-0000000000004003 (prio 0, i/o): reg
                      0000000000004004-0000000000004fff (prio 0, i/o): mmio @0000000000000004

                    """, flat(imp));
        }
    }

    @Test
    void aliasRootAndEmptyViewInFlatPrint() {
        String text = """
                address-space: window
                  0000000000000000-0000000000000fff (prio 0, ram): alias win @ram 0000000000000000-0000000000000fff

                address-space: dead
                  0000000000000000-ffffffffffffffff (prio 0, container): empty

                memory-region: ram
                  0000000000000000-0000000000000fff (prio 0, ram): ram
                """;
        try (MtreeImport imp = load(text)) {
            assertEquals("""
                    FlatView #0
                     AS "window", root: win, alias ram
                     Root memory region: ram
                      0000000000000000-0000000000000fff (prio 0, ram): ram

                    FlatView #1
                     AS "dead", root: empty
                     Root memory region: (none)
                      No rendered FlatView

                    """, flat(imp));
        }
    }

    @Test
    void plainTextHiddenRegionsBecomeDisabledContainers() {
        // smram (disabled) is left out by plain info mtree; its subregion prints one level deeper.
        String plain = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000000000-00000000000fffff (prio 0, ram): ram
                      00000000000a0000-00000000000bffff (prio 0, i/o): lowmem

                memory-region: smram
                    00000000000a0000-00000000000bffff (prio 0, ram): alias smram-low @ram 00000000000a0000-00000000000bffff

                memory-region: ram
                  0000000000000000-00000000000fffff (prio 0, ram): ram
                    00000000000a0000-00000000000bffff (prio 0, i/o): lowmem
                """;
        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(plain), MtreeImporter.Rules.QEMU)) {
            MemoryRegion smram = imp.regionsNamed("smram").getFirst();
            assertInstanceOf(ContainerRegion.class, smram);
            assertFalse(smram.isEnabled());
            assertInstanceOf(ContainerRegion.class, imp.regionsNamed("system").getFirst());
            assertInstanceOf(RamRegion.class, imp.regionsNamed("ram").getFirst());
            // The block prints because a disabled stand-in alias (invisible in plain text) queues it.
            assertEquals(MtreeNormalizer.normalize(plain),
                    MtreeNormalizer.normalize(MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.PLAIN)));
        }
    }

    /**
     * Real boards whose tree ends beyond 2^64 (QEMU prints {@code [DETECTED OVERFLOW!]}, before the
     * indentation since QEMU 5.1, after it before): an aspeed board's {@code max_ram} whose size
     * wrapped, and a BCM2838 PCIe window of 2^64 bytes. Both import, render clipped to their container
     * or to 2^64, and print back with the marker.
     */
    @Test
    void boardsThatOverflowImportAndRenderClipped() {
        String aspeed = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000080000000-000000017ffffffe (prio 0, i/o): aspeed-ram-container
                      0000000080000000-000000013fffffff (prio 0, ram): ram
                      [DETECTED OVERFLOW!] 0000000140000000-00000000bfffffff (prio 0, i/o): max_ram
                """;
        String bcm = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000000000-000000003fffffff (prio 0, ram): ram
                [DETECTED OVERFLOW!]     0000000600000000-00000005ffffffff (prio 0, i/o): pcie_mmio_window
                """;
        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(aspeed))) {
            assertTrue(flat(imp).contains("  0000000140000000-000000017ffffffe (prio 0, i/o): max_ram\n"), flat(imp));
            assertTrue(MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.PLAIN)
                    .contains("[DETECTED OVERFLOW!]       0000000140000000-00000000bfffffff (prio 0, i/o): max_ram"));
        }
        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(bcm))) {
            assertTrue(flat(imp).contains("  0000000600000000-ffffffffffffffff (prio 0, i/o): pcie_mmio_window\n"), flat(imp));
            assertEquals(MtreeNormalizer.normalize(bcm),
                    MtreeNormalizer.normalize(MtreeWriter.write(MtreeDumper.dump(imp.system()), MtreeDialect.PLAIN)));
        }
    }

    /**
     * A line whose end is one below its start is a 2^64-byte range that wrapped, marker or not, never
     * a zero-size region: QEMU's printer ({@code mtree_print_mr}) ends a range at
     * {@code start + MR_SIZE(size)}, and {@code MR_SIZE} is {@code size - 1} for a non-zero size but
     * 0 for size 0, so a zero-size region prints {@code START-START} like one byte; QEMU before the
     * {@code [DETECTED OVERFLOW!]} marker printed the BCM2838 window above without it.
     */
    @Test
    void endOneBelowStartIs2To64BytesWithOrWithoutTheMarker() {
        String unmarked = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000000000-000000003fffffff (prio 0, ram): ram
                    0000000600000000-00000005ffffffff (prio 0, i/o): pcie_mmio_window
                """;
        MtreeNode window = MtreeParser.parse(unmarked).blocks().getFirst().root().children().get(1);
        assertEquals(MemoryRegion.SIZE_2_64, window.size());
        assertEquals(0, window.overflowMarks());
        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(unmarked))) {
            assertTrue(flat(imp).contains("  0000000600000000-ffffffffffffffff (prio 0, i/o): pcie_mmio_window\n"), flat(imp));
        }
        String zeroSize = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000001000-0000000000001000 (prio 0, i/o): empty
                """;
        assertEquals(1, MtreeParser.parse(zeroSize).blocks().getFirst().root().children().getFirst().size(),
                "QEMU prints size 0 as START-START, read as one byte (see MtreeNode.size)");
    }

    @Test
    void overflowWarningRoundTrips() {
        String text = """
                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, container): system
                    fffffffffffff000-ffffffffffffffff (prio 0, container): top
                [DETECTED OVERFLOW!]       0000000000000000-0000000000000fff (prio 0, i/o): wrapped
                """;
        MtreeDocument doc = MtreeParser.parse(text);
        assertEquals(1, doc.blocks().getFirst().root().children().getFirst().children().getFirst().overflowMarks());
        assertEquals(text + "\n", MtreeWriter.write(doc, MtreeDialect.ANNOTATED));
    }

    /**
     * The importer knows no region name: renaming every region (and alias target) in the annotated
     * text renames the flat view and changes nothing else.
     */
    @TestFactory
    List<DynamicTest> renamedRegionsRenderTheSame() {
        List<DynamicTest> tests = new ArrayList<>();
        for (String m : Fixtures.machines()) {
            tests.add(DynamicTest.dynamicTest(m, () -> {
                Map<String, String> names = new HashMap<>();
                MtreeDocument doc = Renamer.rename(MtreeParser.parse(Fixtures.read(m, "annotated")), names);
                String expected = Renamer.renameFlat(Fixtures.read(m, "flat"), names);
                try (MtreeImport imp = MtreeImporter.importDocument(doc)) {
                    assertEquals(MtreeNormalizer.normalize(expected), MtreeNormalizer.normalize(flat(imp)));
                }
            }));
        }
        return tests;
    }

    @Test
    void parseErrorsNameTheLine() {
        String[][] cases = {
            {"address-space: m\n   0000000000000000-0000000000000fff (prio 0, ram): x\n", "2", "indentation"},
            {"address-space: m\n  0000000000000000-0000000000000fff (prio 0, dram): x\n", "2", "unknown region type"},
            {"  0000000000000000-0000000000000fff (prio 0, ram): x\n", "1", "outside a block"},
            {"address-space: m\n  0000000000000000-0000000000000fff (prio 0, ram): x\n"
                    + "  0000000000000000-0000000000000fff (prio 0, ram): y\n", "3", "second root"},
            {"address-space: m\n  0000000000000000-0000000000000fff (prio 0, ram): alias x pc.ram 0-1\n", "2", "alias"},
            {"memory-region: a\n  0000000000000000-0000000000000fff (prio 0, ram): b\n", "2", "header"},
            {"address-space: m\n  0000000000000000-0000000000000fff (prio 99999999999, ram): x\n", "2", "priority"},
            {"address-space: m\n\nhello\n", "3", "not an info mtree line"},
        };
        for (String[] c : cases) {
            MtreeParseException e = assertThrows(MtreeParseException.class, () -> MtreeParser.parse(c[0]), c[0]);
            assertEquals(Integer.parseInt(c[1]), e.lineNumber(), e.getMessage());
            assertTrue(e.getMessage().startsWith("line " + c[1] + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(c[2]), e.getMessage());
        }
        assertThrows(MtreeParseException.class, () -> MtreeParser.parse("\n\n"));
    }

    /** Consistent renaming of region names in both texts. */
    static final class Renamer {
        private static final Pattern FLAT_RANGE = Pattern.compile("^(  [0-9a-f]{16}-[0-9a-f]{16} \\(prio -?[0-9]+, [a-z/-]+\\): )(.*?)( @[0-9a-f]{16})?$");
        private static final Pattern FLAT_AS = Pattern.compile("^ AS \"(.*)\", root: (.*?)(, alias (.*))?$");
        private static final Pattern FLAT_ROOT = Pattern.compile("^ Root memory region: (.*)$");

        static String of(String name, Map<String, String> names) {
            return names.computeIfAbsent(name, n -> "r" + names.size());
        }

        static MtreeDocument rename(MtreeDocument doc, Map<String, String> names) {
            List<MtreeBlock> out = new ArrayList<>();
            for (MtreeBlock b : doc.blocks()) {
                MtreeNode r = rename(b.root(), names);
                out.add(switch (b) {
                    case MtreeBlock.AddressSpaceGroup g -> new MtreeBlock.AddressSpaceGroup(g.names(), r, 0);
                    case MtreeBlock.RegionBlock rb -> new MtreeBlock.RegionBlock(of(rb.name(), names), r, 0);
                });
            }
            return new MtreeDocument(out);
        }

        static MtreeNode rename(MtreeNode n, Map<String, String> names) {
            List<MtreeNode> kids = n.children().stream().map(c -> rename(c, names)).toList();
            MtreeAlias a = n.alias() == null ? null
                    : new MtreeAlias(of(n.alias().target(), names), n.alias().targetStart(), n.alias().targetEnd());
            return new MtreeNode(n.line(), n.start(), n.end(), n.priority(), n.nonvolatile(), n.type(),
                    of(n.name(), names), a, n.disabled(), n.readonlyMarker(), n.overflowMarks(), n.hidden(),
                    n.owner(), kids);
        }

        static String renameFlat(String flat, Map<String, String> names) {
            StringBuilder sb = new StringBuilder();
            for (String line : flat.split("\n", -1)) {
                Matcher r = FLAT_RANGE.matcher(line);
                Matcher as = FLAT_AS.matcher(line);
                Matcher root = FLAT_ROOT.matcher(line);
                if (r.matches()) {
                    line = r.group(1) + names.get(r.group(2)) + (r.group(3) == null ? "" : r.group(3));
                } else if (as.matches()) {
                    line = " AS \"" + as.group(1) + "\", root: " + names.get(as.group(2))
                            + (as.group(3) == null ? "" : ", alias " + names.get(as.group(4)));
                } else if (root.matches() && !root.group(1).equals("(none)")) {
                    line = " Root memory region: " + names.get(root.group(1));
                }
                sb.append(line).append('\n');
            }
            return sb.toString();
        }
    }
}
