package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Minimal reproductions of what the extra QEMU captures (src/test/resources/extra-mtree) showed
 * the engine or importer doing differently from QEMU 7.2.
 */
class ExtraMachinesProbeTest {

    private static List<String> flat(AddressSpace as) {
        List<String> out = new ArrayList<>();
        for (dev.guestmem.flat.FlatRange fr : as.currentMap().ranges()) {
            out.add(Long.toHexString(fr.start()) + "-" + Long.toHexString(fr.last()) + " " + fr.region().name() + "@"
                    + Long.toHexString(fr.offsetInRegion()));
        }
        return out;
    }

    /**
     * hw/arm/armsse.c (mps2-an505/an521, mps3-an524/an547, musca-a/b) maps an alias of a container
     * inside that same container: {@code make_alias(s, &s->alias1, &s->container, "alias 1",
     * 0x10000000, 0x10000000, 0x00000000)} and {@code alias 3} of {@code cpu_container[i]} inside
     * {@code cpu_container[i]}. QEMU has no cycle check in memory_region_add_subregion_common, and
     * rendering terminates because the alias's own copy lies outside the clip of the window. QEMU's
     * {@code info mtree -f} of musca-a shows {@code tz-mpc-upstream} at 0x0 and again at 0x10000000.
     * The engine refused the mapping (an alias cycle) until it accepted this shape.
     */
    @Test
    void aliasOfItsOwnContainerMappedInsideItRendersLikeQemu() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion c = new ContainerRegion(sys, null, "armsse-container", 0x1_0000_0000L);
        IoRegion dev = new IoRegion(sys, null, null, "dev", 0x1000);
        c.addSubregion(0x0, dev);
        AliasRegion alias1 = new AliasRegion(sys, null, "alias 1", c, 0x0, 0x1000_0000L);
        assertDoesNotThrow(() -> c.addSubregionOverlap(0x1000_0000L, alias1, -1500));
        AddressSpace as = sys.addressSpace(c, "cpu-memory-0");
        assertEquals(List.of("0-fff dev@0", "10000000-10000fff dev@0"), flat(as));
    }

    /** The same through the importer: musca-a's and mps3-an547's captures failed to import at {@code alias 3}. */
    @Test
    void importerAcceptsArmsseSelfAlias() {
        String tree = """
                address-space: cpu-memory-0
                  0000000000000000-ffffffffffffffff (prio 0, i/o): arm-sse-cpu-container0
                    0000000040000000-0000000040000fff (prio 0, i/o): dev
                    0000000050000000-000000005fffffff (prio -1500, i/o): alias alias 3 @arm-sse-cpu-container0 0000000040000000-000000004fffffff

                memory-region: arm-sse-cpu-container0
                  0000000000000000-ffffffffffffffff (prio 0, i/o): arm-sse-cpu-container0
                    0000000040000000-0000000040000fff (prio 0, i/o): dev
                    0000000050000000-000000005fffffff (prio -1500, i/o): alias alias 3 @arm-sse-cpu-container0 0000000040000000-000000004fffffff

                """;
        String expected = """
                FlatView #0
                 AS "cpu-memory-0", root: arm-sse-cpu-container0
                 Root memory region: arm-sse-cpu-container0
                  0000000040000000-0000000040000fff (prio 0, i/o): dev
                  0000000050000000-0000000050000fff (prio 0, i/o): dev

                """;
        String ours = assertDoesNotThrow(() -> {
            try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(tree))) {
                return FlatViewPrinter.print(imp.system());
            }
        });
        assertEquals(MtreeNormalizer.normalize(expected), MtreeNormalizer.normalize(ours));
    }
}
