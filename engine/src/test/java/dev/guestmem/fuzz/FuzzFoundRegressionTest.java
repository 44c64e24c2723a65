package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import org.junit.jupiter.api.Test;

/**
 * Defects the setup-API fuzzer ({@link SetupApiFuzzProperties}) found, each shrunk to its smallest
 * case; every test here failed before its fix.
 */
class FuzzFoundRegressionTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    /**
     * A buffer read of nothing across 2^63: {@code memory_access_size} compared the offset's
     * alignment ({@code addr & -addr}, negative at 2^63) signed, so the chunk was not clamped to 4
     * bytes and the dispatch threw {@code IllegalArgumentException} ("MMIO access size 16") out of
     * {@code AddressSpace.read} instead of answering {@code DECODE_ERROR}.
     */
    @Test
    void bufferAccessOfNothingAtTwoTo63IsADecodeError() {
        MemorySystem sys = new MemorySystem();
        try {
            AddressSpace as = sys.addressSpace(new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64), "as");
            byte[] buf = new byte[16];
            java.util.Arrays.fill(buf, (byte) 1);
            assertEquals(MemTxResult.DECODE_ERROR, as.read(Long.MIN_VALUE, U, buf, 0, 16));
            assertArrayEquals(new byte[16], buf);
            assertEquals(MemTxResult.DECODE_ERROR, as.write(Long.MIN_VALUE, U, buf, 0, 16));
        } finally {
            sys.close();
        }
    }
}
