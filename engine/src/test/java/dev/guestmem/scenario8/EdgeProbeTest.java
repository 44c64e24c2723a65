package dev.guestmem.scenario8;

import static dev.guestmem.scenario8.BusMachine.HOLE;
import static dev.guestmem.scenario8.BusMachine.MIB;
import static dev.guestmem.scenario8.BusMachine.ROM;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Corners of the same paths: odd block sizes, DMA writes to ROM, caches over holes. */
class EdgeProbeTest {

    @Test
    void anOddSizedPreallocatedBlockIsResidentToItsLastByte() {
        long size = MIB + 100;
        for (RamBlock b : new RamBlock[] {
                RamBlock.builder("anon", size).prealloc().build(),
                RamBlock.builder("memfd", size).memfd().prealloc().build()}) {
            try (b) {
                assertEquals(size, b.usedLength());
                assertEquals(size, b.segment().byteSize());
                assertEquals((size + 4095) / 4096, Residency.residentPages(b.segment().asSlice(0, b.segment().byteSize())),
                        b.idstr());
                b.segment().set(ValueLayout.JAVA_BYTE, size - 1, (byte) 1);
            }
        }
    }

    @Test
    void aDmaWriteMappingOfRomBouncesAndItsWriteBackIsDropped() {
        BusMachine m = new BusMachine();
        byte[] before = m.model(ROM, 0x100);
        DmaMapping w = m.as.map(ROM, 0x100, true, MemTxAttrs.UNSPECIFIED);
        assertTrue(w.isBounce());
        w.segment().fill((byte) 0x5a);
        assertEquals(MemTxResult.DECODE_ERROR, w.unmap(0x100));
        assertArrayEquals(before, m.model(ROM, 0x100));
        DmaMapping r = m.as.map(ROM, 0x100, false, MemTxAttrs.UNSPECIFIED);
        assertTrue(!r.isBounce(), "ROM reads are direct");
        r.unmap(0);
    }

    @Test
    void aCacheOverAHoleReadsZerosWithDecodeError() {
        BusMachine m = new BusMachine();
        MemoryRegionCache c = new MemoryRegionCache();
        long len = c.init(m.as, HOLE, 0x1000, false);
        assertEquals(0x1000, len);
        byte[] b = new byte[0x1000];
        Arrays.fill(b, (byte) 0x55);
        assertEquals(MemTxResult.DECODE_ERROR, c.read(0, b, 0, b.length));
        assertArrayEquals(new byte[0x1000], b);
        c.destroy();
    }

    /** Accepted advice is not huge pages: the kernel's THP setting for shmem decides (guide section 7). */
    @Test
    void hugepageAdviceOnAMemfdIsAcceptedWhateverTheShmemSetting() throws java.io.IOException {
        try (RamBlock b = RamBlock.builder("memfd-thp", 4 * MIB).memfd().hugepages().build()) {
            assertTrue(b.isHugepageAdvised());
            assertTrue(Residency.vmFlags(b.hostAddress()).contains(" hg"));
            assertEquals(4096, b.pageSize(), "THP never changes qemu_ram_pagesize");
        }
    }
}
