package dev.guestmem.scenario8;

import static dev.guestmem.scenario8.BusMachine.DEV;
import static dev.guestmem.scenario8.BusMachine.DEV_SIZE;
import static dev.guestmem.scenario8.BusMachine.HOLE;
import static dev.guestmem.scenario8.BusMachine.MIB;
import static dev.guestmem.scenario8.BusMachine.RAM1;
import static dev.guestmem.scenario8.BusMachine.WINDOW;
import static dev.guestmem.scenario8.BusMachine.WINDOW_FROM;
import static dev.guestmem.scenario8.BusMachine.WINDOW_SIZE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The DMA paths a device's bulk transfer takes (guide section 6): {@code map}/{@code unmap} over
 * RAM (direct slices of the block, as long as the guest range keeps mapping to that block
 * contiguously) and over MMIO (bounce buffers of at most the space's limit), and
 * {@link MemoryRegionCache} bulk reads, each checked against {@link BusMachine}'s model.
 */
class DmaAndCacheTest {
    static final int K64 = 0x10000;

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void aRamMappingIsTheBlockItselfUpToTheRegionsEnd() {
        BusMachine m = new BusMachine();
        DmaMapping whole = m.as.map(0, MIB, false, MemTxAttrs.UNSPECIFIED);
        assertFalse(whole.isBounce());
        assertEquals(MIB, whole.length());
        assertEquals(m.ram0.ramBlock().hostAddress(), whole.segment().address());
        whole.unmap(0);

        DmaMapping across = m.as.map(RAM1 - 0x8000, MIB, true, MemTxAttrs.UNSPECIFIED);
        assertEquals(0x8000, across.length(), "stops where ram0 ends: ram1 is another block");
        byte[] data = new byte[0x8000];
        new Random(1).nextBytes(data);
        MemorySegment.copy(data, 0, across.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
        across.unmap(data.length);
        assertArrayEquals(data, m.model(RAM1 - 0x8000, data.length));
        assertEquals(0, m.as.liveMappings());
    }

    @Test
    void aMappingThroughAnAliasStopsAtTheAliasEnd() {
        BusMachine m = new BusMachine();
        long at = WINDOW + WINDOW_SIZE - 0x1000;
        DmaMapping d = m.as.map(at, MIB, false, MemTxAttrs.UNSPECIFIED);
        assertFalse(d.isBounce());
        assertEquals(m.ram0.ramBlock().hostAddress() + WINDOW_FROM + WINDOW_SIZE - 0x1000, d.segment().address());
        assertEquals(0x1000, d.length(), "past the alias the guest sees the ROM, not the rest of ram0");
        assertArrayEquals(m.model(at, (int) d.length()), bytes(d.segment()));
        d.unmap(0);
    }

    @Test
    void aRamMappingStopsAtAnMmioRegion() {
        BusMachine m = new BusMachine();
        DmaMapping d = m.as.map(DEV - 0x1000, 0x2000, false, MemTxAttrs.UNSPECIFIED);
        assertFalse(d.isBounce());
        assertEquals(0x1000, d.length());
        d.unmap(0);
    }

    @Test
    void mmioMapsThroughOneBounceBufferOfAtMostTheLimit() {
        BusMachine m = new BusMachine();
        AddressSpace as = m.as;
        assertEquals(4096, as.maxBounceBufferSize());
        DmaMapping r = as.map(DEV, K64, false, MemTxAttrs.UNSPECIFIED);
        assertTrue(r.isBounce());
        assertEquals(4096, r.length(), "partial grant: the limit");
        assertEquals(MemTxResult.OK, r.prefillResult());
        assertArrayEquals(Arrays.copyOf(m.devBytes, 4096), bytes(r.segment()), "filled from the device");
        assertNull(as.map(DEV + 0x1000, 1, false, MemTxAttrs.UNSPECIFIED), "no bounce space left");
        r.unmap(0);
        assertEquals(0, as.bounceBufferSize());

        DmaMapping w = as.map(DEV + 0x100, K64, true, MemTxAttrs.UNSPECIFIED);
        assertEquals(4096, w.length());
        assertArrayEquals(new byte[4096], bytes(w.segment()), "a write mapping's buffer starts zeroed");
        byte[] data = new byte[4096];
        new Random(2).nextBytes(data);
        MemorySegment.copy(data, 0, w.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
        assertEquals(MemTxResult.OK, w.unmap(3000));
        assertArrayEquals(Arrays.copyOf(data, 3000), m.model(DEV + 0x100, 3000), "only the bytes accessed");
        assertArrayEquals(Arrays.copyOfRange(m.devBytes, 0x100 + 3000, 0x100 + 4096),
                m.model(DEV + 0x100 + 3000, 4096 - 3000));

        as.setMaxBounceBufferSize(K64);
        DmaMapping big = as.map(DEV, K64, false, MemTxAttrs.UNSPECIFIED);
        assertEquals(K64, big.length());
        assertArrayEquals(m.devBytes, bytes(big.segment()));
        big.unmap(0);
    }

    @Test
    void aBounceReadRunningIntoAHoleKeepsTheDecodeError() {
        BusMachine m = new BusMachine();
        DmaMapping r = m.as.map(HOLE - 0x800, 0x1000, false, MemTxAttrs.UNSPECIFIED);
        assertTrue(r.isBounce());
        assertEquals(0x1000, r.length());
        assertEquals(MemTxResult.DECODE_ERROR, r.prefillResult());
        assertArrayEquals(m.model(HOLE - 0x800, 0x1000), bytes(r.segment()));
        r.unmap(0);
    }

    @Test
    void cachesReadInBulkWhatTheSpaceReads() {
        BusMachine m = new BusMachine();
        MemoryRegionCache ram = new MemoryRegionCache();
        assertEquals(MIB - 0x10000, ram.init(m.as, 0x10000, MIB, false), "clamped to ram0");
        assertTrue(ram.isDirect());
        byte[] b = new byte[(int) (MIB - 0x10000)];
        assertEquals(MemTxResult.OK, ram.read(0, b, 0, b.length));
        assertArrayEquals(m.model(0x10000, b.length), b);
        ram.destroy();

        MemoryRegionCache window = new MemoryRegionCache();
        assertEquals(WINDOW_SIZE, window.init(m.as, WINDOW, MIB, false), "clamped to the alias");
        b = new byte[(int) WINDOW_SIZE];
        assertEquals(MemTxResult.OK, window.read(0, b, 0, b.length));
        assertArrayEquals(m.model(WINDOW, b.length), b);
        window.destroy();

        MemoryRegionCache dev = new MemoryRegionCache();
        assertEquals(DEV_SIZE, dev.init(m.as, DEV, MIB, false), "clamped to the device");
        assertFalse(dev.isDirect());
        b = new byte[K64];
        assertEquals(MemTxResult.OK, dev.read(0, b, 0, b.length));
        assertArrayEquals(m.devBytes, b);
        dev.destroy();

        MemoryRegionCache memfd = new MemoryRegionCache();
        assertEquals(MIB, memfd.init(m.as, RAM1, MIB, true));
        byte[] data = new byte[K64];
        new Random(3).nextBytes(data);
        assertEquals(MemTxResult.OK, memfd.write(0x1000, data, 0, K64));
        memfd.invalidate(0x1000, K64);
        assertArrayEquals(data, m.model(RAM1 + 0x1000, K64));
        memfd.destroy();
    }
}
