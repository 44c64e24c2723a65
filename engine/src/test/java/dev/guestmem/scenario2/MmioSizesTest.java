package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A device author's check of access-size adjustment against values worked out by hand from QEMU's
 * {@code access_with_adjusted_size} and {@code adjust_endianness}: splitting into 2-byte calls,
 * widening to 4-byte calls, both byte orders, and one region accepting two sizes through
 * {@code accepts}.
 */
class MmioSizesTest {
    static final long BASE = 0x1000_0000L;
    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final List<String> calls = new ArrayList<>();

    AddressSpace device(Endianness e, int implMin, int implMax, MemoryRegionOps.Read read) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read(read)
                .write((addr, data, size) -> calls.add("w@" + addr + "/" + size + "=0x" + Long.toHexString(data)))
                .impl(implMin, implMax, false)
                .endianness(e)
                .build();
        system.addSubregion(BASE, new IoRegion(sys, "dev", ops, "dev", 0x100));
        return sys.addressSpace(system, "memory");
    }

    @Test
    void splitIntoHalfWordsBigEndian() {
        AddressSpace as = device(Endianness.BIG, 2, 2, (addr, size) -> 0x1000 + addr);
        assertEquals(0x10001002, as.ldlBe(BASE));
        assertEquals(0x02100010, as.ldlLe(BASE));
        as.stlBe(BASE, 0xaabbccdd);
        assertEquals(List.of("w@0/2=0xaabb", "w@2/2=0xccdd"), calls);
    }

    @Test
    void splitIntoHalfWordsLittleEndian() {
        AddressSpace as = device(Endianness.LITTLE, 2, 2, (addr, size) -> 0x1000 + addr);
        assertEquals(0x10021000, as.ldlLe(BASE));
        assertEquals(0x00100210, as.ldlBe(BASE));
        as.stlLe(BASE, 0xaabbccdd);
        assertEquals(List.of("w@0/2=0xccdd", "w@2/2=0xaabb"), calls);
    }

    @Test
    void eightBytesIntoWordsBigEndian() {
        AddressSpace as = device(Endianness.BIG, 4, 4, (addr, size) -> 0x1000_0000L + addr);
        assertEquals(0x1000_0000_1000_0004L, as.ldqBe(BASE));
        assertEquals(Long.reverseBytes(0x1000_0000_1000_0004L), as.ldqLe(BASE));
    }

    @Test
    void widenedByteAndHalfWordBigEndian() {
        AddressSpace as = device(Endianness.BIG, 4, 4, (addr, size) -> 0x11223344L);
        assertEquals(0x11, as.ldub(BASE), "a byte of a big-endian word register is its first byte");
        assertEquals(0x1122, as.lduwBe(BASE));
        assertEquals(0x2211, as.lduwLe(BASE));
        as.stb(BASE, 0xab);
        assertEquals(List.of("w@0/4=0xab000000"), calls);
    }

    @Test
    void widenedByteLittleEndian() {
        AddressSpace as = device(Endianness.LITTLE, 4, 4, (addr, size) -> 0x11223344L);
        assertEquals(0x44, as.ldub(BASE));
        assertEquals(0x3344, as.lduwLe(BASE));
        as.stb(BASE, 0xab);
        assertEquals(List.of("w@0/4=0xab"), calls);
    }

    /** A UART with byte registers and a 4-byte FIFO window at 0x10 in one region, through accepts. */
    @Test
    void oneRegionTwoSizesThroughAccepts() {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> addr < 0x10 ? 0x60 : 0x11223344L)
                .write((addr, data, size) -> calls.add("w@" + addr + "/" + size))
                .accepts((addr, size, isWrite, attrs) -> addr < 0x10 ? size == 1 : addr == 0x10 && size == 4)
                .impl(1, 4, false)
                .endianness(Endianness.BIG)
                .build();
        system.addSubregion(BASE, new IoRegion(sys, "uart", ops, "uart", 0x20));
        AddressSpace as = sys.addressSpace(system, "memory");
        assertEquals(0x60, as.ldub(BASE + 5));
        assertEquals(MemTxResult.DECODE_ERROR, as.stwLe(BASE, 1));
        assertEquals(0x11223344, as.ldlBe(BASE + 0x10));
        assertEquals(MemTxResult.DECODE_ERROR, as.stb(BASE + 0x10, 1));
        assertEquals(MemTxResult.OK, as.stlBe(BASE + 0x10, 1));
        assertEquals(List.of("w@16/4"), calls);
    }

    /** A careless device returns more bits than asked: QEMU keeps only the access's bytes. */
    @Test
    void callbackValuesAreMaskedToTheAccessSize() {
        AddressSpace as = device(Endianness.LITTLE, 1, 1, (addr, size) -> 0xabcdef00L | addr);
        assertEquals(0x01, as.ldub(BASE + 1));
        assertEquals(0x0302, as.lduwLe(BASE + 2));
        assertEquals(0x07060504, as.ldlLe(BASE + 4));
    }

    /** The same with a device that implements 4 bytes and is read 8 at a time. */
    @Test
    void wideCallbackValuesAreMaskedWhenAssembled() {
        AddressSpace as = device(Endianness.LITTLE, 4, 4, (addr, size) -> 0xffff_ffff_0000_0000L | addr);
        assertEquals(0x0000_0004_0000_0000L, as.ldqLe(BASE));
        assertEquals(0, as.ldlLe(BASE));
    }

    /** A device model bug throws once; the device keeps working afterwards (the guard is let go). */
    @Test
    void aThrowingCallbackDoesNotWedgeTheDevice() {
        int[] n = {0};
        AddressSpace as = device(Endianness.LITTLE, 1, 4, (addr, size) -> {
            if (n[0]++ == 0) {
                throw new IllegalStateException("model bug");
            }
            return 7;
        });
        dev.guestmem.access.MemTxResultHolder res = new dev.guestmem.access.MemTxResultHolder();
        as.ldlLe(BASE, dev.guestmem.access.MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.ERROR, res.get());
        assertEquals(7, as.ldlLe(BASE, dev.guestmem.access.MemTxAttrs.UNSPECIFIED, res));
        assertEquals(MemTxResult.OK, res.get());
        // a split access whose second chunk throws: the result is ERROR, later accesses work
        n[0] = -1;
        AddressSpace split = as;
        split.ldqLe(BASE, dev.guestmem.access.MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.ERROR, res.get());
        assertEquals(7, split.ldlLe(BASE, dev.guestmem.access.MemTxAttrs.UNSPECIFIED, res));
    }
}
