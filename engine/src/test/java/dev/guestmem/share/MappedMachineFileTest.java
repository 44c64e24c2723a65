package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.debug.MtreeParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@link MappedMachine#open} does with files that cannot be the other process's RAM. */
class MappedMachineFileTest {
    /**
     * The file is the other process's RAM: one smaller than the region is refused, and an empty one
     * too (it used to be grown to the region's size, as a new backing file would be, so a wrong path
     * silently became a zero-filled file nobody else reads).
     */
    @Test
    void refusesAnEmptyOrShortFileAndLeavesItAlone(@TempDir Path dir) throws Exception {
        Path empty = Files.createFile(dir.resolve("empty"));
        Path shortFile = Files.write(dir.resolve("short"), new byte[4096]);
        for (Path f : List.of(empty, shortFile)) {
            long before = Files.size(f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MappedMachine.open(
                    MtreeParser.parse(ShareLifetimeTest.MTREE), List.of(new MappedMachine.RamFile("ram0", f))).close());
            assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("0x100000"), e.getMessage());
            assertEquals(before, Files.size(f), f + " was resized");
        }
    }
}
