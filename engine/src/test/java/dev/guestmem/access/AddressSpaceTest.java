package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** RAM, ROM, ROM device, RAM device and unassigned behaviour of the AddressSpace accessors. */
class AddressSpaceTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private static RamRegion ram(MemorySystem sys, String name, long size, boolean rom) {
        return new RamRegion(sys, null, name, RamBlock.anonymous(name, size), rom, false);
    }

    @Test
    void ramLoadsAndStoresInEveryByteOrder() {
        TestViews tv = new TestViews();
        RamRegion r = ram(tv.system, "ram", 0x10000, false);
        AddressSpace as = tv.map(0x100000, r).space();
        MemorySegment seg = r.ramBlock().segment();
        MemTxResultHolder res = new MemTxResultHolder();

        assertEquals(MemTxResult.OK, as.stlLe(0x100010, 0x11223344));
        assertEquals(0x44, Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, 0x10)), "little-endian: low byte first");
        assertEquals(0x44332211, as.ldlBe(0x100010, U, res));
        assertTrue(res.isOk());
        assertEquals(MemTxResult.OK, as.stqBe(0x100020, 0x0102030405060708L));
        assertEquals(0x0807060504030201L, as.ldqLe(0x100020));
        assertEquals(0x01, Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, 0x20)), "big-endian: high byte first");
        as.stwBe(0x100030, 0xABCD);
        assertEquals(0xCDAB, as.lduwLe(0x100030));
        assertEquals(0xABCD, as.lduwBe(0x100030));
        as.stb(0x100031, 0x1FF);
        assertEquals(0xFF, as.ldub(0x100031), "stb keeps the low 8 bits");
        // native = host order
        as.stl(0x100040, 0xCAFEBABE);
        int hostRead = seg.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder()), 0x40);
        assertEquals(0xCAFEBABE, hostRead);
        assertEquals(0xCAFEBABE, as.ldl(0x100040));
        // unaligned inside one section is fine for RAM
        as.stqLe(0x100043, -2L);
        assertEquals(-2L, as.ldqLe(0x100043));
        // lduw zero-extends
        as.stwLe(0x100050, 0xFFFF);
        assertEquals(0xFFFF, as.lduwLe(0x100050));
    }

    @Test
    void unassignedGivesDecodeErrorAndZero() {
        TestViews tv = new TestViews();
        AddressSpace as = tv.map(0x1000, ram(tv.system, "ram", 0x1000, false)).space();
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(0x5000, U, res));
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0x5000, 1));
        byte[] buf = {9, 9, 9, 9, 9, 9, 9, 9};
        // 4 bytes of RAM, then 4 unassigned: RAM bytes copied, hole zeroed, result DECODE_ERROR
        as.stlLe(0x1ffc, 0x04030201);
        assertEquals(MemTxResult.DECODE_ERROR, as.read(0x1ffc, U, buf, 0, 8));
        assertArrayEquals(new byte[] {1, 2, 3, 4, 0, 0, 0, 0}, buf);
    }

    @Test
    void crossingSectionsGoesAsMmioToTheFirstRegion() {
        TestViews tv = new TestViews();
        RamRegion a = ram(tv.system, "a", 0x1000, false);
        RamRegion b = ram(tv.system, "b", 0x1000, false);
        AddressSpace as = tv.map(0x1000, a).map(0x2000, b).space();
        MemTxResultHolder res = new MemTxResultHolder();
        // QEMU's ld/st helpers assume alignment: a 4-byte load over the boundary of two RAM
        // regions is clamped to 2 bytes, so it goes as MMIO to "a", whose ops are unassigned.
        assertEquals(0, as.ldlLe(0x1ffe, U, res));
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0x1ffe, -1));
        // the buffer path copies across
        byte[] in = {1, 2, 3, 4};
        assertEquals(MemTxResult.OK, as.write(0x1ffe, U, in, 0, 4));
        assertEquals(0x0403, as.lduwLe(0x2000));
    }

    @Test
    void wrappingAccessesAreRefused() {
        TestViews tv = new TestViews();
        RamRegion top = ram(tv.system, "top", 0x1000, false);
        AddressSpace as = tv.map(-0x1000L, top).space();
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(MemTxResult.OK, as.stqLe(-8L, 7L), "the last 8 bytes of the space are fine");
        assertEquals(7L, as.ldqLe(-8L, U, res));
        assertEquals(0, as.ldqLe(-4L, U, res));
        assertEquals(MemTxResult.DECODE_ERROR, res.get(), "an 8-byte load at 2^64-4 would wrap");
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(-2L, 1));
        byte[] buf = new byte[16];
        assertEquals(MemTxResult.DECODE_ERROR, as.read(-8L, U, buf, 0, 16));
        assertEquals(MemTxResult.OK, as.read(-8L, U, buf, 0, 8));
        assertEquals(MemTxResult.DECODE_ERROR, as.set(-4L, (byte) 1, 5, U));
        assertEquals(MemTxResult.OK, as.read(0, U, buf, 0, 0), "length 0 is a no-op");
        assertThrows(IndexOutOfBoundsException.class, () -> as.read(0, U, buf, 10, 8), "caller's buffer is checked");
    }

    @Test
    void romDropsWritesButWriteRomAndDebugReachIt() {
        TestViews tv = new TestViews();
        RamRegion rom = ram(tv.system, "bios", 0x1000, true);
        AddressSpace as = tv.map(0xF0000, rom).space();
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0xF0000, 0x12345678), "ROM has unassigned write ops");
        assertEquals(0, as.ldlLe(0xF0000));
        byte[] img = {0x55, (byte) 0xAA};
        assertEquals(MemTxResult.OK, as.writeRom(0xF0000, U, img, 0, 2));
        assertEquals(0xAA55, as.lduwLe(0xF0000));
        assertEquals(MemTxResult.OK, as.stwLe(0xF0002, 0x1234, MemTxAttrs.DEBUG), "debug writes may write ROM");
        assertEquals(0x1234, as.lduwLe(0xF0002));
        byte[] w = {1, 2, 3, 4, 5, 6, 7, 8};
        assertEquals(MemTxResult.DECODE_ERROR, as.write(0xF0000, U, w, 0, 8));
        assertEquals(0x1234AA55, as.ldlLe(0xF0000), "buffer writes to ROM are dropped");
    }

    @Test
    void romDeviceReadsDirectlyInRomdModeAndWritesGoToTheCallbacks() {
        TestViews tv = new TestViews();
        List<String> log = new ArrayList<>();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    log.add("r" + addr + "/" + size);
                    return 0x77;
                })
                .write((addr, data, size) -> log.add("w" + addr + "=" + Long.toHexString(data) + "/" + size))
                .build();
        RomDeviceRegion flash = new RomDeviceRegion(tv.system, null, ops, "flash", RamBlock.anonymous("flash", 0x1000));
        flash.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0xDEADBEEF);
        AddressSpace as = tv.map(0x10000, flash).space();
        assertEquals(0xDEADBEEF, as.ldl(0x10000), "ROMD mode: reads come from the block");
        assertEquals(MemTxResult.OK, as.stlLe(0x10004, 0xF0));
        assertEquals(List.of("w4=f0/4"), log, "writes go to the device");
        assertEquals(0, flash.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, 4));
        // out of ROMD mode (re-rendered: the flat range records the mode), reads go to the device
        AddressSpace as2 = new TestViews().map(0x10000, 0xFFF, flash, 0, false, 0).space();
        flash.setRomd(false);
        AddressSpace as3 = new TestViews().map(0x10000, 0xFFF, flash, 0, false, 0).space();
        log.clear();
        assertEquals(0x77, as3.ldub(0x10000));
        assertEquals(List.of("r0/1"), log);
        assertEquals(0xEF, as2.ldub(0x10000), "the old view still reads directly");
    }

    @Test
    void ramDeviceUsesExactAccessSizes() {
        TestViews tv = new TestViews();
        RamBlock blk = RamBlock.anonymous("bar", 0x1000);
        RamRegion bar = new RamRegion(tv.system, null, "bar", blk, false, true);
        AddressSpace as = tv.map(0xE0000000L, bar).space();
        assertEquals(MemTxResult.OK, as.stqLe(0xE0000008L, 0x1122334455667788L));
        assertEquals(0x1122334455667788L, blk.segment().get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8));
        assertEquals(0x55667788, as.ldlLe(0xE0000008L));
        byte[] buf = new byte[3];
        assertEquals(MemTxResult.OK, as.read(0xE0000009L, U, buf, 0, 3));
        assertArrayEquals(new byte[] {0x77, 0x66, 0x55}, buf);
    }

    @Test
    void memoryAttributeRefusesMmio() {
        TestViews tv = new TestViews();
        IoRegion dev = new IoRegion(tv.system, null, MemoryRegionOps.builder().read((a, s) -> 1).build(), "dev", 0x100);
        AddressSpace as = tv.map(0x1000, ram(tv.system, "ram", 0x1000, false)).map(0x3000, dev).space();
        MemTxAttrs memOnly = new MemTxAttrs(false, false, false, true, false, 0);
        byte[] buf = new byte[4];
        assertEquals(MemTxResult.OK, as.read(0x1000, memOnly, buf, 0, 4));
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(0x3000, memOnly, buf, 0, 4));
        assertEquals(MemTxResult.OK, as.read(0x3000, U, buf, 0, 4));
        assertArrayEquals(new byte[] {1, 0, 0, 0}, buf);
    }

    @Test
    void releasedRamFailsCleanly() {
        TestViews tv = new TestViews();
        RamBlock blk = RamBlock.anonymous("gone", 0x2000);
        RamRegion r = new RamRegion(tv.system, null, "gone", blk, false, false);
        AddressSpace as = tv.map(0x1000, r).space();
        assertEquals(MemTxResult.OK, as.stlLe(0x1000, 5));
        assertEquals(5, as.ldlLe(0x1000), "warms the MRU fast path");
        blk.close(); // the creator's reference
        // ...and the region's: as if the region had been finalized while this thread still used an old
        // view (the region is never touched again, so nobody gives this reference back).
        blk.unref();
        assertTrue(blk.isReleased());
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(0x1000, U, res));
        assertEquals(MemTxResult.ERROR, res.get());
        assertEquals(MemTxResult.ERROR, as.stlLe(0x1004, 1));
        assertEquals(MemTxResult.ERROR, as.ldqBe(0x1008, U, res) == 0 ? res.get() : -1);
        byte[] buf = {1, 1};
        assertEquals(MemTxResult.ERROR, as.read(0x1000, U, buf, 0, 2));
        assertArrayEquals(new byte[2], buf);
        assertEquals(MemTxResult.ERROR, as.write(0x1000, U, buf, 0, 2));
        assertEquals(null, as.map(0x1000, 16, false, U), "nothing to map once released");
    }

    @Test
    void publishBumpsGeneration() {
        TestViews tv = new TestViews();
        AddressSpace as = tv.space();
        long g = as.generation();
        as.publish(tv.view());
        assertNotEquals(g, as.generation());
    }

    @Test
    void setFillsAcrossRamAndSkipsHoles() {
        TestViews tv = new TestViews();
        RamRegion r = ram(tv.system, "ram", 0x2000, false);
        AddressSpace as = tv.map(0, r).space();
        assertEquals(MemTxResult.OK, as.set(0x10, (byte) 0x5A, 1500, U));
        assertEquals(0, as.ldub(0xF));
        assertEquals(0x5A, as.ldub(0x10));
        assertEquals(0x5A, as.ldub(0x10 + 1499));
        assertEquals(0, as.ldub(0x10 + 1500));
        assertEquals(MemTxResult.DECODE_ERROR, as.set(0x1FFE, (byte) 1, 4, U));
        assertEquals(0x0101, as.lduwLe(0x1FFE));
    }
}
