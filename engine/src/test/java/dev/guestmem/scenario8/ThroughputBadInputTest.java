package dev.guestmem.scenario8;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Bad lengths and closed blocks on the throughput paths: each gives the documented answer and
 * leaves guest memory as it was. RAM sits at both ends of the 64-bit space so that a range
 * wrapping past 2^64 has something to (wrongly) reach on either side.
 */
class ThroughputBadInputTest {
    static final long TOP = -0x1000L;         // the last page of the space
    static final long MMIO = 0x10_0000L;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion low = RamRegion.allocate(sys, null, "low", 0x10_0000);
    final RamRegion high = RamRegion.allocate(sys, null, "high", 0x1000);
    final AddressSpace as;

    ThroughputBadInputTest() {
        low.ramBlock().segment().fill((byte) 0x11);
        high.ramBlock().segment().fill((byte) 0x22);
        root.addSubregion(0, low);
        root.addSubregion(TOP, high);
        root.addSubregion(MMIO, new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((a, s) -> 0x33).write((a, d, s) -> { }).build(), "dev", 0x10000));
        as = sys.addressSpace(root, "memory");
    }

    private void assertUntouched() {
        byte[] l = new byte[0x10_0000];
        Arrays.fill(l, (byte) 0x11);
        assertArrayEquals(l, low.ramBlock().segment().toArray(ValueLayout.JAVA_BYTE));
        byte[] h = new byte[0x1000];
        Arrays.fill(h, (byte) 0x22);
        assertArrayEquals(h, high.ramBlock().segment().toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void bulkAccessesWrappingPast2To64AreRefusedWhole() {
        byte[] data = new byte[0x20];
        Arrays.fill(data, (byte) 0x77);
        assertEquals(MemTxResult.DECODE_ERROR, as.write(-0x10L, MemTxAttrs.UNSPECIFIED, data, 0, 0x20));
        assertEquals(MemTxResult.DECODE_ERROR, as.writeRom(-0x10L, MemTxAttrs.UNSPECIFIED, data, 0, 0x20));
        assertEquals(MemTxResult.DECODE_ERROR, as.set(-0x10L, (byte) 0x77, 0x20, MemTxAttrs.UNSPECIFIED));
        assertEquals(MemTxResult.DECODE_ERROR, as.set(0x10, (byte) 0x77, -1L, MemTxAttrs.UNSPECIFIED));
        assertUntouched();
        byte[] back = new byte[0x20];
        assertEquals(MemTxResult.DECODE_ERROR, as.read(-0x10L, MemTxAttrs.UNSPECIFIED, back, 0, 0x20));
        assertFalse(as.accessValid(-0x10L, 0x20, false, MemTxAttrs.UNSPECIFIED));
        // a range that ends exactly at 2^64 does not wrap
        assertEquals(MemTxResult.OK, as.read(-0x20L, MemTxAttrs.UNSPECIFIED, back, 0, 0x20));
        byte[] h = new byte[0x20];
        Arrays.fill(h, (byte) 0x22);
        assertArrayEquals(h, back);
    }

    @Test
    void zeroLengthsDoNothingAndSucceed() {
        byte[] none = new byte[0];
        assertEquals(MemTxResult.OK, as.read(0x100, MemTxAttrs.UNSPECIFIED, none, 0, 0));
        assertEquals(MemTxResult.OK, as.write(0x100, MemTxAttrs.UNSPECIFIED, none, 0, 0));
        assertEquals(MemTxResult.OK, as.write(-1L, MemTxAttrs.UNSPECIFIED, none, 0, 0));
        assertEquals(MemTxResult.OK, as.set(0x100, (byte) 0x77, 0, MemTxAttrs.UNSPECIFIED));
        assertTrue(as.accessValid(0x100, 0, true, MemTxAttrs.UNSPECIFIED));
        assertNull(as.map(0x100, 0, true, MemTxAttrs.UNSPECIFIED), "map of 0 bytes: null, as documented");
        assertThrows(IllegalArgumentException.class, () -> new MemoryRegionCache().init(as, 0x100, 0, false));
        assertEquals(MemTxResult.OK, low.ramBlock().read(0, MemorySegment.ofArray(none), 0, 0));
        assertEquals(0, as.liveMappings());
        assertUntouched();
    }

    @Test
    void negativeSegmentLengthsAreTheCallersBugAndThrow() {
        MemorySegment buf = MemorySegment.ofArray(new byte[0x100]);
        assertThrows(IndexOutOfBoundsException.class, () -> as.read(0, MemTxAttrs.UNSPECIFIED, buf, 0, -1L));
        assertThrows(IndexOutOfBoundsException.class, () -> as.write(0, MemTxAttrs.UNSPECIFIED, buf, 0, -1L));
        assertUntouched();
    }

    @Test
    void hugeDmaLengthsAreClampedToTheBlockOrTheBounceLimit() {
        DmaMapping ram = as.map(0x1000, -1L, true, MemTxAttrs.UNSPECIFIED);
        assertNotNull(ram);
        assertFalse(ram.isBounce());
        assertEquals(0x10_0000 - 0x1000, ram.length(), "clamped to the block");
        ram.unmap(0);
        DmaMapping top = as.map(TOP + 0x800, -1L, false, MemTxAttrs.UNSPECIFIED);
        assertEquals(0x800, top.length(), "mapped up to 2^64 only");
        top.unmap(0);
        DmaMapping dev = as.map(MMIO, -1L, false, MemTxAttrs.UNSPECIFIED);
        assertTrue(dev.isBounce());
        assertEquals(AddressSpace.DEFAULT_MAX_BOUNCE_BUFFER_SIZE, dev.length());
        dev.unmap(0);
        assertEquals(0, as.bounceBufferSize());
        assertEquals(0, as.liveMappings());
        assertUntouched();
    }

    @Test
    void hugeCacheLengthsAreClampedToTheSection() {
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x10_0000 - 0x1000, c.init(as, 0x1000, -1L, false));
        assertTrue(c.isDirect());
        assertThrows(IndexOutOfBoundsException.class, () -> c.read(0x10_0000 - 0x1000, new byte[1], 0, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> c.read(-1L, new byte[2], 0, 2), "offset wraps");
        c.destroy();
        MemoryRegionCache top = new MemoryRegionCache();
        assertEquals(0x1000, top.init(as, TOP, -1L, false), "ends at 2^64");
        top.destroy();
        assertUntouched();
    }

    @Test
    void blockAccessesOutsideTheUsedLengthAreDecodeErrors() {
        RamBlock b = low.ramBlock();
        MemorySegment buf = MemorySegment.ofArray(new byte[0x100]);
        assertEquals(MemTxResult.DECODE_ERROR, b.read(-1L, buf, 0, 2));
        assertEquals(MemTxResult.DECODE_ERROR, b.read(0x10_0000 - 1, buf, 0, 2));
        assertEquals(MemTxResult.DECODE_ERROR, b.write(-1L, buf, 0, 2));
        assertEquals(MemTxResult.DECODE_ERROR, b.write(0x10, buf, 0, -1L), "length wrapping 2^64");
        assertUntouched();
    }

    @Test
    void aReleasedBlockAnswersErrorAndItsRangeIsUnassigned() {
        RamRegion dimm = RamRegion.allocate(sys, null, "dimm", 0x10000);
        root.addSubregion(0x200_0000L, dimm);
        RamBlock block = dimm.ramBlock();
        MemorySegment old = block.segment();
        root.delSubregion(dimm);
        dimm.destroy();
        assertTrue(block.isReleased());
        MemorySegment buf = MemorySegment.ofArray(new byte[0x10]);
        assertEquals(MemTxResult.ERROR, block.read(0, buf, 0, 0x10));
        assertEquals(MemTxResult.ERROR, block.write(0, buf, 0, 0x10));
        assertThrows(IllegalStateException.class, () -> old.get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(MemTxResult.DECODE_ERROR, as.read(0x200_0000L, MemTxAttrs.UNSPECIFIED, buf, 0, 0x10));
        DmaMapping m = as.map(0x200_0000L, 0x10, false, MemTxAttrs.UNSPECIFIED);
        assertTrue(m.isBounce(), "a hole bounces: no mapping of the released block");
        assertEquals(MemTxResult.DECODE_ERROR, m.prefillResult());
        m.unmap(0);
        assertUntouched();
    }

    @Test
    void aClosedCreatorReferenceLeavesTheRegionsBlockInService() {
        RamBlock block = RamBlock.builder("mem", 0x10000).memfd().build();
        root.addSubregion(0x300_0000L, new RamRegion(sys, null, "mem", block, false, false));
        block.close();
        block.close(); // idempotent
        assertFalse(block.isReleased());
        byte[] data = {1, 2, 3, 4};
        assertEquals(MemTxResult.OK, as.write(0x300_0000L, MemTxAttrs.UNSPECIFIED, data, 0, 4));
        assertEquals(0x04030201, block.ldlHe(0));
    }
}
