package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Texts whose aliases share names with each other and with their targets, so that more than one
 * reading explains the lines: the import must pick the one that prints the text again. Each text is
 * hand-written from QEMU's printing rules and checked against the dumper on a machine built by hand.
 */
class MtreeNamesakeTest {
    static String annotated(MemorySystem sys) {
        return MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.ANNOTATED);
    }

    /** The one subregion of {@code r} with that name and priority. */
    static MemoryRegion child(MemoryRegion r, String name, int priority) {
        List<MemoryRegion> found = r.subregions().stream()
                .filter(s -> s.name().equals(name) && s.priority() == priority).toList();
        assertEquals(1, found.size(), name);
        return found.getFirst();
    }

    /**
     * Two equal {@code alias bank @bank} lines; the first targets the second, the second the
     * {@code bank} I/O region. The first {@code memory-region: bank} block prints the second alias,
     * though its line equals the first's.
     */
    @Test
    void equalAliasLinesTheFirstTargetsTheSecond() {
        String text = """
                address-space: memory
                  0000000000000000-0000000000ffffff (prio 0, container): system
                    0000000000000000-00000000000fffff (prio 0, container): c1
                      0000000000000000-00000000000fffff (prio 1, i/o): alias bank @bank 0000000000000000-00000000000fffff
                    0000000000100000-00000000001fffff (prio 0, container): c2
                      0000000000100000-00000000001fffff (prio 1, i/o): alias bank @bank 0000000000000000-00000000000fffff
                    0000000000f00000-0000000000ffffff (prio 0, i/o): bank

                memory-region: bank
                  0000000000000000-00000000000fffff (prio 1, i/o): alias bank @bank 0000000000000000-00000000000fffff

                memory-region: bank
                  0000000000f00000-0000000000ffffff (prio 0, i/o): bank

                """;
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", 1L << 24);
        ContainerRegion c1 = new ContainerRegion(sys, null, "c1", 0x100000);
        ContainerRegion c2 = new ContainerRegion(sys, null, "c2", 0x100000);
        IoRegion bank = new IoRegion(sys, null, null, "bank", 0x100000);
        AliasRegion second = new AliasRegion(sys, null, "bank", bank, 0, 0x100000);
        AliasRegion first = new AliasRegion(sys, null, "bank", second, 0, 0x100000);
        c1.addSubregionOverlap(0, first, 1);
        c2.addSubregionOverlap(0, second, 1);
        system.addSubregion(0, c1);
        system.addSubregion(0x100000, c2);
        system.addSubregion(0xf00000, bank);
        sys.addressSpace(system, "memory");
        assertEquals(text, annotated(sys), "the text is what QEMU prints for this machine");

        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(text))) {
            assertEquals(text, annotated(imp.system()));
            MemoryRegion root = imp.addressSpaces().getFirst().root();
            AliasRegion a1 = (AliasRegion) child(child(root, "c1", 0), "bank", 1);
            AliasRegion a2 = (AliasRegion) child(child(root, "c2", 0), "bank", 1);
            assertSame(a2, a1.target());
            assertSame(child(root, "bank", 0), a2.target());
        }
    }

    /**
     * {@code p @x} inside the first {@code dev}, {@code x @dev} beside it: if {@code x} targeted that
     * {@code dev} it would render itself, so {@code x} takes the other {@code dev} and {@code q}
     * opens the third block. (The first assignment that keeps the queue order has {@code q} reuse
     * the second block and {@code x} open the third: a cycle.)
     */
    @Test
    void aliasCycleIsBrokenAtTheLaterAlias() {
        String text = """
                address-space: memory
                  0000000000000000-000000000000ffff (prio 0, container): system
                    0000000000001000-0000000000001fff (prio 1, i/o): dev
                      0000000000001000-0000000000001fff (prio 0, i/o): alias p @x 0000000000000000-0000000000000fff
                      0000000000001000-0000000000001fff (prio -1, i/o): alias b @dev 0000000000000000-0000000000000fff
                    0000000000001000-0000000000001fff (prio 0, i/o): alias q @dev 0000000000000000-0000000000000fff
                    0000000000001000-0000000000001fff (prio 0, i/o): alias x @dev 0000000000000000-0000000000000fff
                    0000000000001000-0000000000001fff (prio 0, i/o): dev

                memory-region: x
                  0000000000001000-0000000000001fff (prio 0, i/o): alias x @dev 0000000000000000-0000000000000fff

                memory-region: dev
                  0000000000001000-0000000000001fff (prio 0, i/o): dev

                memory-region: dev
                  0000000000001000-0000000000001fff (prio 1, i/o): dev
                    0000000000001000-0000000000001fff (prio 0, i/o): alias p @x 0000000000000000-0000000000000fff
                    0000000000001000-0000000000001fff (prio -1, i/o): alias b @dev 0000000000000000-0000000000000fff

                """;
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", 0x10000);
        IoRegion d1 = new IoRegion(sys, null, null, "dev", 0x1000);
        IoRegion d2 = new IoRegion(sys, null, null, "dev", 0x1000);
        AliasRegion x = new AliasRegion(sys, null, "x", d2, 0, 0x1000);
        d1.addSubregion(0, new AliasRegion(sys, null, "p", x, 0, 0x1000));
        d1.addSubregionOverlap(0, new AliasRegion(sys, null, "b", d2, 0, 0x1000), -1);
        AliasRegion q = new AliasRegion(sys, null, "q", d1, 0, 0x1000);
        system.addSubregionOverlap(0x1000, d1, 1);
        system.addSubregion(0x1000, d2);
        system.addSubregion(0x1000, x);
        system.addSubregion(0x1000, q);
        sys.addressSpace(system, "memory");
        assertEquals(text, annotated(sys), "the text is what QEMU prints for this machine");

        try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(text))) {
            assertEquals(text, annotated(imp.system()));
            MemoryRegion root = imp.addressSpaces().getFirst().root();
            MemoryRegion dev1 = child(root, "dev", 1);
            MemoryRegion dev2 = child(root, "dev", 0);
            AliasRegion xi = (AliasRegion) child(root, "x", 0);
            assertSame(dev1, ((AliasRegion) child(root, "q", 0)).target());
            assertSame(dev2, xi.target());
            assertSame(xi, ((AliasRegion) child(dev1, "p", 0)).target());
            assertSame(dev2, ((AliasRegion) child(dev1, "b", -1)).target());
        }
    }
}
