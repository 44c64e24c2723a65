package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotException;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every write route of the engine into a RAM block mapped read-only: none may store into the
 * {@code PROT_READ} mapping (a SIGSEGV would kill the JVM); each fails with a result or a typed
 * exception and the file is unchanged. {@code writeRom} used to: the JVM died in
 * {@code Unsafe.copyMemory0}.
 */
class ReadOnlyBlockWritePathsTest {
    private static final int SIZE = 1 << 16;

    @Test
    void noEngineWriteReachesAReadOnlyMapping(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("rom.img");
        byte[] content = new byte[SIZE];
        content[0x100] = 0x5a;
        Files.write(file, content);
        MemorySystem sys = new MemorySystem(true);
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        try (RamBlock block = RamBlock.builder("rom0", SIZE).file(file, 0).readOnly().build()) {
            RamRegion rom = new RamRegion(sys, null, "rom0", block, true, false);
            root.addSubregion(0x10000, rom);
            AddressSpace as = sys.addressSpace(root, "memory");
            byte[] junk = {1, 2, 3, 4};

            // write_rom and debug writes may write ROM in QEMU; into a read-only mapping they must not
            assertNotEquals(MemTxResult.OK, as.writeRom(0x10100, MemTxAttrs.UNSPECIFIED, junk, 0, 4));
            assertNotEquals(MemTxResult.OK, as.write(0x10100, MemTxAttrs.DEBUG, junk, 0, 4));
            // memset-like set
            assertNotEquals(MemTxResult.OK, as.set(0x10100, (byte) 7, 4, MemTxAttrs.UNSPECIFIED));
            // DMA map for writing: never a direct window onto the mapping
            DmaMapping m = as.map(0x10100, 4, true, MemTxAttrs.UNSPECIFIED);
            if (m != null) {
                m.segment().fill((byte) 9);
                m.unmap(4);
            }
            // a write cache
            MemoryRegionCache cache = new MemoryRegionCache();
            cache.init(as, 0x10100, 4, true);
            assertNotEquals(MemTxResult.OK, cache.stlLe(0, 0x01020304));
            cache.destroy();
            // marking it written (as a restore or a peer would) changes logs only
            block.markWritten(0, SIZE);

            // a snapshot restore into it is refused before anything is copied
            try (RamBlock other = RamBlock.anonymous("rom0", SIZE)) {
                other.segment().fill((byte) 0x77);
                SnapshotWriter.write(dir.resolve("s.gms"), List.of(SnapshotBlock.of(other)), ProgressListener.NONE);
            }
            try (SnapshotFile f = SnapshotFile.open(dir.resolve("s.gms"))) {
                SnapshotChain chain = new SnapshotChain(List.of(f));
                assertThrows(SnapshotException.class, () -> SnapshotRestorer.restore(chain,
                        List.of(SnapshotBlock.of(block)), false, ProgressListener.NONE));
            }
            // code holding the block's segment gets an exception, not a SIGSEGV
            assertThrows(IllegalArgumentException.class, () -> block.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1));

            assertEquals(0x5a, as.ldub(0x10100));
            assertArrayEquals(content, Files.readAllBytes(file));
        }
    }
}
