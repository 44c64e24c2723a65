package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.debug.MtreeParseException;
import dev.guestmem.debug.MtreeParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link MappedMachine#open} releases what it mapped when the import fails part way through. */
class MappedMachineLeakTest {
    /**
     * The importer names stand-in blocks {@code a}, {@code a#2}... for namesake regions; here the
     * second {@code a} takes {@code a#2}, which the file's block (region {@code a#2}, made first)
     * already holds: the import fails after a region was made over the file's block.
     */
    static final String CLASHING_BLOCK_NAMES = """
            address-space: memory
              0000000000000000-ffffffffffffffff (prio 0, i/o): system
                0000000000000000-00000000000fffff (prio 0, ram): a#2
                0000000000100000-00000000001fffff (prio 0, ram): a
                0000000000200000-00000000002fffff (prio 0, ram): a
            """;

    /**
     * The file was left mapped and its descriptor open: the region made over its block kept a
     * reference that closing the block does not drop.
     */
    @Test
    void aFailedImportLeavesTheFileNeitherMappedNorOpen(@TempDir Path dir) throws Exception {
        Path ram = Files.write(dir.resolve("guest.ram"), new byte[1 << 20]);
        for (int i = 0; i < 3; i++) {
            MtreeParseException e = assertThrows(MtreeParseException.class, () -> MappedMachine.open(
                    MtreeParser.parse(CLASHING_BLOCK_NAMES), List.of(new MappedMachine.RamFile("a#2", ram))).close());
            assertTrue(e.getMessage().contains("a#2"), e.getMessage());
        }
        assertEquals(0, openDescriptors(ram), "descriptors of " + ram + " still open");
        assertEquals(0, mappings(ram), "mappings of " + ram + " left");
    }

    /** Descriptors of this process open on {@code file}. */
    static long openDescriptors(Path file) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(file);
                } catch (IOException gone) {
                    return false; // closed while listing (the listing's own descriptor among them)
                }
            }).count();
        }
    }

    /** Lines of /proc/self/maps that map {@code file}. */
    static long mappings(Path file) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.endsWith(" " + file)).count();
    }
}
