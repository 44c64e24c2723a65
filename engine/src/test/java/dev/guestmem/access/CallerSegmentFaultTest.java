package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A caller's own segment that faults (a file it mapped, truncated since) in a buffer access: the
 * access answers ERROR and guest RAM stays in service; it used to be reported broken for good (every
 * later access ERROR), and a read into such a destination threw a bare {@code InternalError}.
 */
class CallerSegmentFaultTest {
    @Test
    void aFaultInTheCallersSegmentIsNotBlamedOnGuestRam(@TempDir Path dir) throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 1 << 20));
        AddressSpace as = sys.addressSpace(root, "memory");
        as.stlLe(0x2000, 0x1234);
        Path file = dir.resolve("callers-buffer");
        try (Arena arena = Arena.ofShared();
             FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                     StandardOpenOption.WRITE)) {
            MemorySegment buf = ch.map(FileChannel.MapMode.READ_WRITE, 0, 8192, arena);
            buf.fill((byte) 1);
            ch.truncate(0); // the caller's mapping now faults (SIGBUS) on access

            assertEquals(MemTxResult.ERROR, as.write(0x1000, MemTxAttrs.UNSPECIFIED, buf, 0, 8192));
            assertEquals(MemTxResult.ERROR, as.read(0x2000, MemTxAttrs.UNSPECIFIED, buf, 0, 4096));
            assertEquals(MemTxResult.OK, as.writeRom(0x3000, MemTxAttrs.UNSPECIFIED, buf, 0, 4096));

            // guest RAM is not broken: it still reads and writes
            MemTxResultHolder r = new MemTxResultHolder();
            assertEquals(0x1234, as.ldlLe(0x2000, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.OK, r.get());
            assertEquals(MemTxResult.OK, as.stlLe(0x2000, 0x5678));
            assertEquals(0x5678, as.ldlLe(0x2000));
        }
    }
}
