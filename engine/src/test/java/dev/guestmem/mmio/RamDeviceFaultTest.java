package dev.guestmem.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A RAM device over memory that can SIGBUS (a file truncated under the mapping; a VFIO BAR whose
 * device memory was disabled behaves the same) answers {@code MEMTX_ERROR}, as RAM over such a
 * block does, instead of an {@code InternalError} thrown out of the access: its ops load and store
 * through the fence, also from code the JIT compiled while the pages were fine.
 */
class RamDeviceFaultTest {
    private static final long BASE = 0x100000;
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final int WARM = Integer.getInteger("guestmem.ramDevice.warmRounds", 200_000);

    @Test
    void aTruncatedRamDeviceAnswersErrorFromCompiledCode(@TempDir Path dir) throws IOException {
        Path img = dir.resolve("bar.img");
        try (RamBlock block = RamBlock.builder("bar", 0x4000).file(img).shared(true).build()) {
            MemorySystem sys = new MemorySystem();
            ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
            root.addSubregion(BASE, new RamRegion(sys, null, "bar", block, false, true));
            AddressSpace as = sys.addressSpace(root, "memory");
            MemTxResultHolder res = new MemTxResultHolder();
            long sum = 0;
            for (int i = 0; i < WARM; i++) { // page 0 only: the MMIO path compiled over good pages
                long a = BASE + ((i * 8L) & 0xFF8);
                as.stqLe(a, i);
                sum += as.ldqLe(a, U, res);
            }
            assertTrue(sum != 0);
            try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
                ch.truncate(0x1000); // pages 1.. vanish under the mapping
            }
            int errors = 0;
            int escaped = 0;
            for (int i = 0; i < 1000; i++) {
                long a = BASE + 0x1000 + ((i * 8L) & 0x2FF8);
                try {
                    as.ldqLe(a, U, res);
                    errors += res.get() == MemTxResult.ERROR ? 1 : 0;
                    errors += as.stlLe(a, i) == MemTxResult.ERROR ? 1 : 0;
                    errors += as.lduwLe(a, U, res) == 0 && res.get() == MemTxResult.ERROR ? 1 : 0;
                    errors += as.stb(a, i) == MemTxResult.ERROR ? 1 : 0;
                } catch (InternalError e) {
                    escaped++;
                }
            }
            assertEquals(0, escaped, "no SIGBUS left an access");
            assertEquals(4000, errors);
            assertTrue(block.isBroken(), "the fault broke the block, as a RAM access's does");
        }
    }
}
