package dev.guestmem.scenario8;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code map} and {@code MemoryRegionCache.init} extend a RAM grant across following ranges of the
 * same region: only while the guest addresses keep mapping to consecutive bytes of the block. Two
 * aliases of one block side by side, contiguous in the block or not, and a higher-priority region
 * splitting the block, tell the cases apart.
 */
class ContiguityTest {
    static final long K = 1024;
    static final long HALF = 512 * K;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ram", 2 * HALF);

    ContiguityTest() {
        byte[] b = new byte[(int) (2 * HALF)];
        new Random(5).nextBytes(b);
        ram.ramBlock().segment().copyFrom(java.lang.foreign.MemorySegment.ofArray(b));
    }

    private byte[] guest(AddressSpace as, long addr, long len) {
        byte[] b = new byte[(int) len];
        assertEquals(MemTxResult.OK, as.read(addr, MemTxAttrs.UNSPECIFIED, b, 0, b.length));
        return b;
    }

    /** @return the space with two aliases of the block side by side, the second from {@code secondFrom} */
    private AddressSpace twoAliases(long secondFrom) {
        root.addSubregion(0, new AliasRegion(sys, null, "lo", ram, 0, HALF));
        root.addSubregion(HALF, new AliasRegion(sys, null, "hi", ram, secondFrom, HALF));
        return sys.addressSpace(root, "memory");
    }

    @ParameterizedTest
    @ValueSource(longs = {HALF, HALF - 0x1000, 0})
    void aDmaGrantCoversOnlyBytesTheGuestSeesThere(long secondFrom) {
        AddressSpace as = twoAliases(secondFrom);
        DmaMapping d = as.map(0x1000, 2 * HALF, false, MemTxAttrs.UNSPECIFIED);
        assertFalse(d.isBounce());
        long expect = secondFrom == HALF ? 2 * HALF - 0x1000 : HALF - 0x1000;
        assertEquals(expect, d.length());
        assertArrayEquals(guest(as, 0x1000, d.length()), d.segment().toArray(ValueLayout.JAVA_BYTE));
        d.unmap(0);
    }

    @ParameterizedTest
    @ValueSource(longs = {HALF, HALF - 0x1000, 0})
    void aCacheCoversOnlyBytesTheGuestSeesThere(long secondFrom) {
        AddressSpace as = twoAliases(secondFrom);
        MemoryRegionCache c = new MemoryRegionCache();
        long len = c.init(as, 0x1000, 2 * HALF, false);
        long expect = secondFrom == HALF ? 2 * HALF - 0x1000 : HALF - 0x1000;
        assertEquals(expect, len);
        byte[] b = new byte[(int) len];
        assertEquals(MemTxResult.OK, c.read(0, b, 0, b.length));
        assertArrayEquals(guest(as, 0x1000, len), b);
        c.destroy();
    }

    @Test
    void aRegionOverlappingTheBlockEndsTheGrant() {
        RamRegion vram = RamRegion.allocate(sys, null, "vram", 0x1000);
        root.addSubregion(0, ram);
        root.addSubregionOverlap(0x8000, vram, 1);
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping d = as.map(0, 2 * HALF, true, MemTxAttrs.UNSPECIFIED);
        assertEquals(0x8000, d.length());
        d.unmap(0);
        DmaMapping after = as.map(0x9000, 2 * HALF, true, MemTxAttrs.UNSPECIFIED);
        assertEquals(2 * HALF - 0x9000, after.length());
        assertEquals(ram.ramBlock().hostAddress() + 0x9000, after.segment().address());
        after.unmap(0);
    }
}
