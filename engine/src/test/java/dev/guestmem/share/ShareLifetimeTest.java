package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.debug.MtreeParser;
import dev.guestmem.ram.RamBlock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing a machine gives its RAM back: the mappings are unmapped and the descriptors closed, as
 * the javadoc promises. The regions used to keep their blocks referenced after close, so the memfd
 * (or the other process's file) stayed mapped and open for the life of the JVM.
 */
class ShareLifetimeTest {
    /** RAM, MMIO and a ROM whose bytes are a stand-in. */
    static final String MTREE = """
            address-space: memory
              0000000000000000-ffffffffffffffff (prio 0, i/o): system
                0000000000000000-00000000000fffff (prio 0, ram): ram0
                0000000000100000-0000000000100fff (prio 0, i/o): dev0
                0000000000200000-0000000000200fff (prio 0, rom): rom0
            """;

    @Test
    void closingASharedMachineUnmapsItsRam() {
        SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("lo", 0, 1 << 20),
                new SharedRamRegion("hi", 0x100000000L, 1 << 20)));
        assertEquals(0, m.addressSpace().stlLe(0x100000000L, 7));
        List<RamBlock> blocks = m.blocks();
        m.close();
        for (RamBlock b : blocks) {
            assertTrue(b.isReleased(), b + " is still mapped after close");
        }
    }

    @Test
    void closingAMappedMachineUnmapsTheFiles(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ram");
        Files.write(file, new byte[1 << 20]);
        MappedMachine m = MappedMachine.open(MtreeParser.parse(MTREE),
                List.of(new MappedMachine.RamFile("ram0", file)));
        RamBlock ram = m.blocks().get("ram0");
        RamBlock rom = m.machine().regionsNamed("rom0").getFirst().ramBlock();
        m.close();
        assertTrue(ram.isReleased(), ram + " is still mapped after close");
        assertTrue(rom.isReleased(), "stand-in " + rom + " is still mapped after close");
    }
}
