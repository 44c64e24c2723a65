package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ram.RamBlock;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A RAM region over a block mapped read-only ({@code readonly=on}, a read-only fd from a peer, a
 * file this user cannot write) is read-only for the guest, as QEMU's
 * {@code memory_region_init_ram_from_file} makes it: a guest write must fail like a ROM write, not
 * store into a {@code PROT_READ} mapping (SIGSEGV: the JVM died in {@code Unsafe_PutInt}).
 */
class ReadOnlyBlockRegionTest {
    private static final int SIZE = 1 << 20;

    @Test
    void guestWritesToAReadOnlyBlockFailLikeRomWrites(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ram");
        byte[] content = new byte[SIZE];
        content[0x1000] = 0x5a;
        Files.write(file, content);
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        try (RamBlock block = RamBlock.builder("ram0", SIZE).file(file, 0).readOnly().build()) {
            RamRegion ram = new RamRegion(sys, null, "ram0", block, false, false);
            root.addSubregion(0, ram);
            AddressSpace as = sys.addressSpace(root, "memory");
            assertTrue(ram.isReadonly(), "a read-only block makes a read-only region");
            assertEquals(0x5a, as.ldub(0x1000));
            assertNotEquals(MemTxResult.OK, as.stlLe(0x1000, 0x11223344));
            assertNotEquals(MemTxResult.OK, as.write(0x2000, MemTxAttrs.UNSPECIFIED, new byte[64], 0, 64));
            assertEquals(0x5a, as.ldub(0x1000));
            assertThrows(IllegalStateException.class, () -> ram.setReadonly(false),
                    "making it writable would store into a PROT_READ mapping");
            assertTrue(ram.isReadonly());
            assertArrayEquals(content, Files.readAllBytes(file));
        }
    }
}
