package dev.guestmem.scenario8;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
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
 * {@code AddressSpace.read} with {@code attrs.memory}: as QEMU's {@code flatview_read} and
 * {@code flatview_read_continue}, a chunk the attribute refuses (MMIO, not RAM) is skipped, not
 * read: its bytes keep what the caller's buffer held ({@code ACCESS_ERROR} says so), a refusal at the
 * first chunk ends the access before anything is read, and a refused MMIO chunk, whose length is not
 * clamped to the device, ends it too. A hole or an MMIO error reads as 0 instead (the unassigned
 * value QEMU stores).
 */
class RefusedReadKeepsBufferTest {
    static final MemTxAttrs MEMORY_ONLY = new MemTxAttrs(false, false, false, true, false, 0);

    private static AddressSpace ramThenMmio(MemorySystem sys) {
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        ram.ramBlock().segment().fill((byte) 0x11);
        root.addSubregion(0, ram);
        root.addSubregion(0x1000, new IoRegion(sys, null,
                MemoryRegionOps.builder().read((a, s) -> 0x2222_2222_2222_2222L).build(), "dev", 0x1000));
        RamRegion after = RamRegion.allocate(sys, null, "after", 0x1000);
        after.ramBlock().segment().fill((byte) 0x33);
        root.addSubregion(0x2000, after);
        return sys.addressSpace(root, "memory");
    }

    @Test
    void aRefusedMmioChunkAfterRamKeepsTheBuffersBytes() {
        AddressSpace as = ramThenMmio(new MemorySystem());
        byte[] buf = new byte[0x20];
        Arrays.fill(buf, (byte) 0x55);
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(0xff0, MEMORY_ONLY, buf, 0, buf.length));
        byte[] expected = new byte[0x20];
        Arrays.fill(expected, (byte) 0x55);
        Arrays.fill(expected, 0, 0x10, (byte) 0x11);
        assertArrayEquals(expected, buf);
    }

    @Test
    void aReadRefusedAtItsFirstChunkLeavesTheBufferAsItWas() {
        AddressSpace as = ramThenMmio(new MemorySystem());
        MemorySegment buf = MemorySegment.ofArray(new byte[0x20]);
        buf.fill((byte) 0x55);
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(0x1ff0, MEMORY_ONLY, buf, 0, buf.byteSize()));
        byte[] expected = new byte[0x20];
        Arrays.fill(expected, (byte) 0x55);
        assertArrayEquals(expected, buf.toArray(ValueLayout.JAVA_BYTE));
    }

    /** Control: the same read without {@code attrs.memory} reads the device and the RAM after it. */
    @Test
    void withoutTheAttributeTheDeviceAndTheRamAfterItAreRead() {
        AddressSpace as = ramThenMmio(new MemorySystem());
        byte[] buf = new byte[0x2000];
        assertEquals(MemTxResult.OK, as.read(0xff0, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length));
        assertEquals(0x11, buf[0xf]);
        assertEquals(0x22, buf[0x10]);
        assertEquals(0x33, buf[0x1010]);
    }

    @Test
    void aRefusedMmioChunkEndsTheAccessEvenWithRamAfterIt() {
        AddressSpace as = ramThenMmio(new MemorySystem());
        byte[] buf = new byte[0x2000];
        Arrays.fill(buf, (byte) 0x55);
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(0xff0, MEMORY_ONLY, buf, 0, buf.length));
        byte[] expected = new byte[0x2000];
        Arrays.fill(expected, (byte) 0x55);            // the RAM after the device is not read either
        Arrays.fill(expected, 0, 0x10, (byte) 0x11);
        assertArrayEquals(expected, buf);
    }
}
