package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Caller memory given as a read-only segment (a file mapped {@code READ_ONLY}: a {@code PROT_READ}
 * mapping) to a block that was not built read-only: the engine would store into it. The block's
 * view used to drop the read-only mark: a guest store killed the JVM (SIGSEGV). The build now
 * refuses it, and a block built {@code readOnly()} over it takes no store.
 */
class ReadOnlyHostMemoryTest {
    private static final int SIZE = 1 << 16;

    @Test
    void readOnlyCallerMemoryNeedsAReadOnlyBlock(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("rom.img");
        byte[] content = new byte[SIZE];
        content[0x10] = 0x5a;
        Files.write(file, content);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofShared()) {
            MemorySegment ro = ch.map(FileChannel.MapMode.READ_ONLY, 0, SIZE, arena);
            assertTrue(ro.isReadOnly());
            assertThrows(InvalidRamBlockException.class, () -> RamBlock.builder("rom", SIZE).host(ro).build());
            assertThrows(InvalidRamBlockException.class, () -> RamBlock.builder("bar", SIZE).ramDevice(ro).build());

            try (RamBlock block = RamBlock.builder("rom", SIZE).host(ro).readOnly().build()) {
                MemorySystem sys = new MemorySystem(true);
                ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
                root.addSubregion(0x10000, new RamRegion(sys, null, "rom", block, false, false));
                AddressSpace as = sys.addressSpace(root, "memory");
                as.stl(0x10010, 0x01020304);
                assertNotEquals(MemTxResult.OK, as.writeRom(0x10010, MemTxAttrs.UNSPECIFIED, new byte[4], 0, 4));
                assertThrows(UnsupportedOperationException.class, () -> block.stlHe(0x10, 1));
                assertEquals(0x5a, as.ldub(0x10010));
            }
        }
        assertArrayEquals(content, Files.readAllBytes(file));
    }
}
