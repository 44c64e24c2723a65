package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Dispatch and access internals checked against QEMU's physmem.c / memory.c (from a conformance
 * audit): buffer and write_rom chunk sizes from the translated length and address_space_access_valid
 * were fixed to match (their tests failed before); the rest confirmed QEMU's behaviour.
 */
class AccessConformanceTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static RamRegion ram(MemorySystem sys, String name, long size) {
        return new RamRegion(sys, null, name, RamBlock.anonymous(name, size), false, false);
    }

    private static RamRegion rom(MemorySystem sys, String name, long size) {
        return new RamRegion(sys, null, name, RamBlock.anonymous(name, size), true, false);
    }

    private static RamRegion ramDevice(MemorySystem sys, String name, long size) {
        return new RamRegion(sys, null, name, RamBlock.anonymous(name, size), false, true);
    }

    // -------------------------------------------------------------------------------------------
    // Fixed: flatview_read/write_continue_step clamp the MMIO chunk with the *translated* length
    // (*l = memory_access_size(mr, *l, mr_addr), *l = plen from address_space_translate_internal,
    // which for memory_region_is_ram() regions -- RAM device and ROM included -- is clamped to the
    // section). FlatViewAccess.rw used the remaining length, so a chunk could run past the section.

    /**
     * QEMU: RAM device [0, 0x1000) then RAM [0x1000, 0x2000). An 8-byte read at 0xffc: translate
     * clamps plen to 4 (RAM device is RAM), memory_access_size(ram_device_mem_ops, 4, 0xffc) = 4,
     * then 4 direct RAM bytes; MEMTX_OK.
     */
    @Test
    void ramDeviceBufferReadIsClampedToItsSection() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion bar = ramDevice(sys, "bar", 0x1000);
        RamRegion r = ram(sys, "ram", 0x1000);
        root.addSubregion(0, bar);
        root.addSubregion(0x1000, r);
        AddressSpace as = sys.addressSpace(root, "memory");
        bar.ramBlock().segment().set(LE32, 0xffc, 0x44332211);
        r.ramBlock().segment().set(LE32, 0, 0x88776655);
        byte[] buf = new byte[8];
        int res = as.read(0xffc, U, buf, 0, 8);
        assertArrayEquals(new byte[] {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, (byte) 0x88}, buf,
                "result was " + res);
        assertEquals(MemTxResult.OK, res);
    }

    /**
     * QEMU: ROM [0, 0x1002) then RAM [0x1002, ...). A 4-byte buffer write at 0x1000: translate
     * clamps plen to 2 (ROM is RAM), the ROM chunk is 2 bytes (unassigned ops: DECODE_ERROR), then
     * the 2 RAM bytes at 0x1002 are written directly.
     */
    @Test
    void romBufferWriteCrossingIntoRamStillWritesTheRamBytes() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion bios = rom(sys, "bios", 0x1002);
        RamRegion r = ram(sys, "ram", 0x2000);
        root.addSubregion(0, bios);
        root.addSubregion(0x1002, r);
        AddressSpace as = sys.addressSpace(root, "memory");
        int res = as.write(0x1000, U, new byte[] {1, 2, 3, 4}, 0, 4);
        assertEquals(MemTxResult.DECODE_ERROR, res, "the ROM part is refused");
        assertEquals(3, r.ramBlock().segment().get(ValueLayout.JAVA_BYTE, 0), "RAM byte 0x1002 written");
        assertEquals(4, r.ramBlock().segment().get(ValueLayout.JAVA_BYTE, 1), "RAM byte 0x1003 written");
    }

    /**
     * QEMU address_space_write_rom: l = plen from address_space_translate (clamped to the RAM device
     * section), then l = memory_access_size(mr, l, addr1) = 4 skipped; the next 4 bytes are RAM and
     * are written.
     */
    @Test
    void writeRomSkipsOnlyTheRamDevicePart() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion bar = ramDevice(sys, "bar", 0x1000);
        RamRegion r = ram(sys, "ram", 0x1000);
        root.addSubregion(0, bar);
        root.addSubregion(0x1000, r);
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(MemTxResult.OK, as.writeRom(0xffc, U, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 0, 8));
        assertEquals(0, bar.ramBlock().segment().get(LE32, 0xffc), "RAM device bytes are skipped");
        assertEquals(0x08070605, r.ramBlock().segment().get(LE32, 0), "RAM bytes are written");
    }

    // -------------------------------------------------------------------------------------------
    // address_space_access_valid / flatview_access_valid (was missing).

    /**
     * flatview_access_valid: RAM is always valid; a device is asked chunk by chunk with
     * memory_access_size (sized from the address-space address) and memory_region_access_valid;
     * unassigned addresses never are (unassigned_mem_accepts). Nothing is accessed.
     */
    @Test
    void accessValidAsksEachChunkAndTouchesNothing() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        List<String> calls = new ArrayList<>();
        root.addSubregion(0, ram(sys, "ram", 0x1000));
        root.addSubregion(0x1000, new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((a, sz) -> { calls.add("read"); return 0; })
                .write((a, d, sz) -> calls.add("write"))
                .valid(4, 4, false)
                .accepts((a, sz, w, at) -> !w || a < 0x80)
                .build(), "dev", 0x100));
        AddressSpace as = sys.addressSpace(root, "as");
        MemTxAttrs u = MemTxAttrs.UNSPECIFIED;
        assertTrue(as.accessValid(0x10, 0x100, true, u), "RAM");
        assertTrue(as.accessValid(0x1000, 8, false, u), "two aligned 4-byte chunks");
        assertTrue(as.accessValid(0xffc, 8, true, u), "RAM then one device chunk at 0x1000");
        assertFalse(as.accessValid(0x1002, 4, false, u), "memory_access_size gives 2 (alignment): below valid.min");
        assertFalse(as.accessValid(0x1080, 4, true, u), "the device's accepts hook refuses writes there");
        assertTrue(as.accessValid(0x1080, 4, false, u), "but not reads");
        assertFalse(as.accessValid(0x2000, 4, false, u), "unassigned");
        assertFalse(as.accessValid(0xfffe, 0x10, false, u), "runs into unassigned space");
        assertFalse(as.accessValid(-2L, 4, false, u), "wraps past 2^64");
        assertTrue(as.accessValid(0x2000, 0, false, u), "nothing to check");
        assertEquals(List.of(), calls, "no device was called");
    }

    // -------------------------------------------------------------------------------------------
    // memory_access_is_direct reads mr->readonly at access time.

    /**
     * QEMU: RAM inside a read-only container renders as fr->readonly, yet memory_access_is_direct
     * only looks at mr->readonly, so guest writes reach it (QEMU-SEMANTICS §1 quirk). Setting the
     * RAM's own readonly flag afterwards leaves the FlatRange equal (readonly was already inherited)
     * but memory_access_is_direct now refuses the write: DECODE_ERROR, memory unchanged.
     */
    @Test
    void readonlyFlagOfRegionUnderReadonlyContainerIsSeenByWrites() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        ContainerRegion c = new ContainerRegion(sys, null, "ro-container", 0x10000);
        RamRegion r = ram(sys, "ram", 0x1000);
        c.addSubregion(0, r);
        root.addSubregion(0x100000, c);
        c.setReadonly(true);
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(MemTxResult.OK, as.write(0x100000, U, new byte[] {1}, 0, 1), "QEMU quirk: still direct");
        assertEquals(MemTxResult.OK, as.stl(0x100004, 7));
        r.setReadonly(true);
        int res = as.write(0x100000, U, new byte[] {2}, 0, 1);
        assertEquals(MemTxResult.DECODE_ERROR, res, "mr->readonly now set: not direct");
        assertEquals(1, r.ramBlock().segment().get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(MemTxResult.DECODE_ERROR, as.stl(0x100004, 9));
        assertEquals(7, r.ramBlock().segment().get(LE32, 4));
    }

    // -------------------------------------------------------------------------------------------
    // MET confirmations.

    /** attrs (secure, user, requester id) reach read_with_attrs / write_with_attrs unchanged. */
    @Test
    void attrsReachWithAttrsCallbacks() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        List<MemTxAttrs> seen = new ArrayList<>();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .readWithAttrs((addr, size, attrs, out) -> {
                    seen.add(attrs);
                    out.value = 0x5A;
                    return attrs.secure() ? MemTxResult.OK : MemTxResult.ACCESS_ERROR;
                })
                .writeWithAttrs((addr, data, size, attrs) -> {
                    seen.add(attrs);
                    return MemTxResult.OK;
                })
                .build();
        root.addSubregion(0x1000, new IoRegion(sys, null, ops, "dev", 0x100));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemTxAttrs a = new MemTxAttrs(false, true, true, false, false, 0x1234);
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0x5A, as.ldub(0x1000, a, res));
        assertEquals(MemTxResult.OK, res.get());
        assertEquals(MemTxResult.OK, as.stlLe(0x1004, 1, a));
        byte[] b = new byte[2];
        assertEquals(MemTxResult.OK, as.read(0x1008, a, b, 0, 2));
        assertEquals(MemTxResult.OK, as.write(0x1008, a, b, 0, 2));
        for (MemTxAttrs s : seen) {
            assertEquals(a, s);
        }
        assertTrue(seen.size() >= 4);
        MemTxAttrs ns = new MemTxAttrs(false, false, false, false, false, 7);
        as.ldub(0x1000, ns, res);
        assertEquals(MemTxResult.ACCESS_ERROR, res.get(), "the callback's result comes back");
    }

    /**
     * MMIO load/store crossing into the next section goes whole to the first region
     * (address_space_ldl_internal: l not clamped for MMIO).
     */
    @Test
    void mmioLoadCrossingSectionsGoesWholeToFirstRegion() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        List<String> log = new ArrayList<>();
        MemoryRegionOps a = MemoryRegionOps.builder().read((addr, size) -> {
            log.add("a" + addr + "/" + size);
            return 0xA1A2A3A4L;
        }).write((addr, d, size) -> log.add("aw" + addr + "/" + size)).valid(1, 4, true).impl(1, 4, true).build();
        MemoryRegionOps b = MemoryRegionOps.builder().read((addr, size) -> {
            log.add("b" + addr + "/" + size);
            return 0;
        }).build();
        root.addSubregion(0x1000, new IoRegion(sys, null, a, "a", 0x10));
        root.addSubregion(0x1010, new IoRegion(sys, null, b, "b", 0x10));
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(0xA1A2A3A4L, Integer.toUnsignedLong(as.ldlLe(0x100e)));
        assertEquals(MemTxResult.OK, as.stlLe(0x100e, 0));
        assertEquals(List.of("a14/4", "aw14/4"), log);
    }

    /** Subpage: an MMIO region inside a RAM page, xlat relative to each piece's region. */
    @Test
    void subpagePiecesResolveWithTheirOwnOffsets() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion r = ram(sys, "ram", 0x2000);
        List<Long> addrs = new ArrayList<>();
        MemoryRegionOps ops = MemoryRegionOps.builder().read((addr, size) -> {
            addrs.add(addr);
            return addr;
        }).build();
        root.addSubregion(0, r);
        root.addSubregionOverlap(0x1008, new IoRegion(sys, null, ops, "dev", 0x10), 1);
        AddressSpace as = sys.addressSpace(root, "memory");
        r.ramBlock().segment().set(LE32, 0x1018, 0xCAFEBABE);
        r.ramBlock().segment().set(LE32, 0x1004, 0x01020304);
        assertEquals(0x01020304, as.ldlLe(0x1004));
        assertEquals(4, as.ldlLe(0x100c));
        assertEquals(0xCAFEBABE, as.ldlLe(0x1018), "RAM after the hole, offset within RAM region");
        assertEquals(0, as.ldlLe(0x1008));
        assertEquals(List.of(4L, 0L), addrs);
    }

    /** attrs.memory: ROM device (not memory_region_is_ram) refused, RAM device allowed. */
    @Test
    void memoryAttrRefusesRomDeviceButNotRamDevice() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        MemoryRegionOps ops = MemoryRegionOps.builder().read((x, s) -> 0).write((x, d, s) -> { }).build();
        root.addSubregion(0x1000, new RomDeviceRegion(sys, null, ops, "flash", RamBlock.anonymous("flash", 0x1000)));
        root.addSubregion(0x2000, ramDevice(sys, "bar", 0x1000));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemTxAttrs mem = new MemTxAttrs(false, false, false, true, false, 0);
        byte[] b = new byte[4];
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(0x1000, mem, b, 0, 4));
        assertEquals(MemTxResult.OK, as.read(0x2000, mem, b, 0, 4));
    }

    /**
     * attrs.memory on a later chunk: ACCESS_ERROR ORed in, the rest of the (unclamped MMIO) length
     * consumed, the buffer not touched there, the RAM part copied.
     */
    @Test
    void memoryAttrOnLaterChunk() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion r = ram(sys, "ram", 0x1000);
        root.addSubregion(0, r);
        root.addSubregion(0x1000, new IoRegion(sys, null, MemoryRegionOps.builder().read((x, s) -> 0x11).build(),
                "dev", 0x1000));
        AddressSpace as = sys.addressSpace(root, "memory");
        r.ramBlock().segment().set(LE32, 0xffc, 0x04030201);
        MemTxAttrs mem = new MemTxAttrs(false, false, false, true, false, 0);
        byte[] b = {9, 9, 9, 9, 9, 9, 9, 9};
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(0xffc, mem, b, 0, 8));
        assertArrayEquals(new byte[] {1, 2, 3, 4, 9, 9, 9, 9}, b);
    }
}
