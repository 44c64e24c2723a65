package dev.guestmem.scenario3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A throughput user's programs: bulk reads, writes and fills of hundreds of MiB through the address
 * space and through DMA maps, across RAM boundaries, into MMIO and into unassigned holes, checking
 * the results guide sections 3 and 6 promise (the ORed result, failed chunks reading as zeros, the
 * rest of the range still copied).
 */
class BulkAccessTest {
    static final long KIB = 1024;
    static final long MIB = 1L << 20;
    /**
     * Two adjacent 64 MiB RAM regions, then a 4 KiB device, a 64 MiB hole, and a third RAM region
     * (sizes kept so that faulting the memory in stays well under a second per test).
     */
    static final long RAM0 = 0;
    static final long RAM1 = 64 * MIB;
    static final long DEV = 128 * MIB;
    static final long HOLE = DEV + 0x1000;
    static final long RAM2 = 192 * MIB;

    MemorySystem sys;
    AddressSpace as;
    Arena arena;
    final AtomicLong deviceWrites = new AtomicLong();
    final AtomicLong deviceBytes = new AtomicLong();

    @BeforeEach
    void machine() {
        sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(RAM0, RamRegion.allocate(sys, null, "ram0", 64 * MIB));
        system.addSubregion(RAM1, RamRegion.allocate(sys, null, "ram1", 64 * MIB));
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> 0xa5a5a5a5L)
                .write((addr, data, size) -> {
                    deviceWrites.incrementAndGet();
                    deviceBytes.addAndGet(size);
                })
                .valid(4, 4, false)
                .endianness(Endianness.LITTLE)
                .build();
        system.addSubregion(DEV, new IoRegion(sys, "dev", ops, "dev", 0x1000));
        system.addSubregion(RAM2, RamRegion.allocate(sys, null, "ram2", 16 * MIB));
        as = sys.addressSpace(system, "memory");
        arena = Arena.ofConfined();
    }

    @AfterEach
    void close() {
        arena.close();
    }

    static MemorySegment pattern(Arena arena, long size) {
        MemorySegment s = arena.allocate(size, 8);
        s.fill((byte) 0x3c);
        for (long i = 0; i < size; i += 4096) { // a different word on every page
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, i + (i >>> 12) % 4088, i * 0x9e3779b97f4a7c15L);
        }
        return s;
    }

    @Test
    void sixtyFourMibAcrossTwoRamRegionsRoundTrip() {
        long start = RAM1 - 32 * MIB;
        MemorySegment src = pattern(arena, 64 * MIB);
        assertEquals(MemTxResult.OK, as.write(start, MemTxAttrs.UNSPECIFIED, src, 0, src.byteSize()));
        MemorySegment dst = arena.allocate(64 * MIB, 8);
        assertEquals(MemTxResult.OK, as.read(start, MemTxAttrs.UNSPECIFIED, dst, 0, dst.byteSize()));
        assertEquals(-1, src.mismatch(dst));
        // the boundary bytes landed in the right region
        assertEquals(src.get(ValueLayout.JAVA_LONG_UNALIGNED, RAM1 - start), as.ldq(RAM1));
        assertEquals(src.get(ValueLayout.JAVA_LONG_UNALIGNED, RAM1 - start - 8), as.ldq(RAM1 - 8));
        assertEquals(0, as.ldq(start - 8), "nothing before the range");
    }

    @Test
    void aWriteThroughRamDeviceHoleAndRamReportsDecodeErrorAndStillWritesBothRamParts() {
        long start = DEV - 64 * KIB;
        long len = RAM2 + 64 * KIB - start; // 64 MiB, most of it unassigned
        MemorySegment src = arena.allocate(len, 8);
        src.fill((byte) 0x5c);
        int r = as.write(start, MemTxAttrs.UNSPECIFIED, src, 0, len);
        assertEquals(MemTxResult.DECODE_ERROR, r, MemTxResult.toString(r));
        assertEquals(0x5c5c5c5c, as.ldl(DEV - 4), "RAM before the device is written");
        assertEquals(0x5c5c5c5c, as.ldl(RAM2), "RAM after the hole is written too");
        assertEquals(0x5c5c5c5c, as.ldl(RAM2 + 64 * KIB - 4));
        assertEquals(0, as.ldl(RAM2 + 64 * KIB), "nothing beyond the range");
        // the device got its 4 KiB in accesses it accepts (valid 4..4)
        assertEquals(0x1000, deviceBytes.get());
        assertEquals(0x1000 / 4, deviceWrites.get());
    }

    @Test
    void aReadThroughDeviceAndHoleGivesDeviceDataZerosAndRam() {
        as.set(DEV - 0x1000, (byte) 0x11, 0x1000, MemTxAttrs.UNSPECIFIED);
        as.set(RAM2, (byte) 0x22, 0x1000, MemTxAttrs.UNSPECIFIED);
        long start = DEV - 0x1000;
        long len = RAM2 + 0x1000 - start;
        MemorySegment dst = arena.allocate(len, 8);
        dst.fill((byte) 0xee); // stale bytes must not survive
        int r = as.read(start, MemTxAttrs.UNSPECIFIED, dst, 0, len);
        assertEquals(MemTxResult.DECODE_ERROR, r, MemTxResult.toString(r));
        assertEquals(0x11111111, dst.get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        assertEquals(0xa5a5a5a5, dst.get(ValueLayout.JAVA_INT_UNALIGNED, 0x1000));
        assertEquals(0xa5a5a5a5, dst.get(ValueLayout.JAVA_INT_UNALIGNED, 0x1ffc));
        assertEquals(0, dst.get(ValueLayout.JAVA_INT_UNALIGNED, 0x2000), "unassigned reads as 0");
        assertEquals(0, dst.get(ValueLayout.JAVA_INT_UNALIGNED, RAM2 - start - 4));
        assertEquals(0x22222222, dst.get(ValueLayout.JAVA_INT_UNALIGNED, RAM2 - start));
    }

    @Test
    void setFillsHundredsOfMibAndReportsTheHole() {
        int r = as.set(RAM1 - MIB, (byte) 0x7f, 66 * MIB + 0x1000 + MIB, MemTxAttrs.UNSPECIFIED);
        assertEquals(MemTxResult.DECODE_ERROR, r, MemTxResult.toString(r));
        assertEquals(0x7f7f7f7f, as.ldl(RAM1 - MIB));
        assertEquals(0x7f7f7f7f, as.ldl(DEV - 4));
        assertEquals(0x1000, deviceBytes.get(), "the device got its page");
        assertEquals(MemTxResult.OK, as.set(RAM0, (byte) 0, 128 * MIB, MemTxAttrs.UNSPECIFIED));
        assertEquals(0, as.ldq(RAM1 + 7 * MIB));
    }

    @Test
    void memoryAttributeRefusesBulkAccessToTheDeviceOnly() {
        MemTxAttrs dmaOnly = new MemTxAttrs(false, false, false, true, false, 0);
        byte[] b = new byte[0x2000];
        assertEquals(MemTxResult.OK, as.write(RAM0, dmaOnly, b, 0, b.length));
        int r = as.write(DEV - 0x1000, dmaOnly, b, 0, b.length);
        assertTrue((r & MemTxResult.ACCESS_ERROR) != 0, MemTxResult.toString(r));
        assertEquals(0, deviceWrites.get(), "a memory-only access never reaches the device");
        // QEMU's flatview_access_allowed refuses the hole too (it is not RAM): ACCESS_ERROR, not DECODE_ERROR
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(HOLE, dmaOnly, b, 0, b.length));
        assertEquals(MemTxResult.ACCESS_ERROR, as.set(HOLE, (byte) 0, 0x10000, dmaOnly));
    }

    @Test
    void aBulkWriteOverRomDropsTheRomPartOnly() {
        // a 64 KiB ROM over the middle of ram1 (priority 1), as a shadowed BIOS would be
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 64 * KIB);
        sys.transactionBegin();
        try {
            ((ContainerRegion) as.root()).addSubregionOverlap(RAM1 + MIB, rom, 1);
        } finally {
            sys.transactionCommit();
        }
        byte[] image = new byte[(int) (64 * KIB)];
        java.util.Arrays.fill(image, (byte) 0xf0);
        assertEquals(MemTxResult.OK, as.writeRom(RAM1 + MIB, MemTxAttrs.UNSPECIFIED, image, 0, image.length));
        int r = as.set(RAM1, (byte) 0x0d, 3 * MIB, MemTxAttrs.UNSPECIFIED);
        assertEquals(MemTxResult.DECODE_ERROR, r, MemTxResult.toString(r));
        assertEquals(0x0d0d0d0d, as.ldl(RAM1 + MIB - 4));
        assertEquals(0xf0f0f0f0, as.ldl(RAM1 + MIB), "ROM keeps its image");
        assertEquals(0xf0f0f0f0, as.ldl(RAM1 + MIB + 64 * KIB - 4));
        assertEquals(0x0d0d0d0d, as.ldl(RAM1 + MIB + 64 * KIB), "RAM after the ROM is written");
        assertEquals(0x0d0d0d0d, as.ldl(RAM1 + 3 * MIB - 4));
        assertTrue(as.accessValid(RAM0, DEV + 0x1000, false, MemTxAttrs.UNSPECIFIED), "RAM, ROM and the device read");
        assertFalse(as.accessValid(RAM0, DEV + 0x1000, true, MemTxAttrs.UNSPECIFIED), "the ROM refuses writes");
        assertFalse(as.accessValid(DEV, 0x2000, false, MemTxAttrs.UNSPECIFIED), "the hole refuses everything");
    }

    /** Dirty pages of a region (by page index within it) for the MIGRATION client, cleared. */
    private java.util.List<Long> dirtyPages(RamRegion r) {
        long base = r.ramBlock().offset();
        java.util.List<Long> pages = new java.util.ArrayList<>();
        sys.dirtyMemory().snapshotAndClearDirty(base, r.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION)
                .forEachDirtyPage(ramAddr -> pages.add((ramAddr - base) / 4096));
        return pages;
    }

    @Test
    void bulkWritesSetsAndDmaUnmapsAreLoggedToTheBytePagesTheyTouch() {
        RamRegion ram0 = (RamRegion) as.root().subregions().stream().filter(r -> r.name().equals("ram0")).findFirst().orElseThrow();
        RamRegion ram1 = (RamRegion) as.root().subregions().stream().filter(r -> r.name().equals("ram1")).findFirst().orElseThrow();
        sys.globalDirtyLogStart();
        dirtyPages(ram0);
        dirtyPages(ram1);
        long last0 = 64 * MIB / 4096 - 1;
        // unaligned, across the boundary: the last two pages of ram0 and the first two of ram1
        byte[] b = new byte[0x3002];
        assertEquals(MemTxResult.OK, as.write(RAM1 - 0x1801, MemTxAttrs.UNSPECIFIED, b, 0, b.length));
        assertEquals(java.util.List.of(last0 - 1, last0), dirtyPages(ram0));
        assertEquals(java.util.List.of(0L, 1L), dirtyPages(ram1));
        // a fill of 32 MiB + 1 byte from a page boundary
        assertEquals(MemTxResult.OK, as.set(RAM1 + 8 * MIB, (byte) 1, 32 * MIB + 1, MemTxAttrs.UNSPECIFIED));
        java.util.List<Long> filled = dirtyPages(ram1);
        assertEquals(32 * MIB / 4096 + 1, filled.size());
        assertEquals(8 * MIB / 4096, filled.getFirst());
        assertEquals(40 * MIB / 4096, filled.getLast());
        // a device writes 10 MiB through a DMA map but says it wrote 5 MiB + 1
        DmaMapping m = as.map(RAM0 + 4096, 10 * MIB, true, MemTxAttrs.UNSPECIFIED);
        m.segment().fill((byte) 2);
        m.unmap(5 * MIB + 1);
        java.util.List<Long> dma = dirtyPages(ram0);
        assertEquals(5 * MIB / 4096 + 1, dma.size());
        assertEquals(1L, dma.getFirst());
        assertEquals(5 * MIB / 4096 + 1, dma.getLast());
        sys.globalDirtyLogStop();
    }

    @Test
    void dmaMapOfAHugeRangeIsClampedToTheFirstRegion() {
        DmaMapping m = as.map(RAM0, 300 * MIB, true, MemTxAttrs.UNSPECIFIED);
        assertNotNull(m);
        assertFalse(m.isBounce());
        assertEquals(64 * MIB, m.length(), "clamped to the block");
        m.segment().fill((byte) 0x33);
        assertEquals(MemTxResult.OK, m.unmap(m.length()));
        assertEquals(0x33333333, as.ldl(RAM1 - 4));
        assertEquals(0, as.ldl(RAM1));
        DmaMapping next = as.map(RAM0 + m.length(), 300 * MIB - m.length(), false, MemTxAttrs.UNSPECIFIED);
        assertEquals(64 * MIB, next.length(), "the device continues with the next region");
        next.unmap(0);
        assertEquals(0, as.liveMappings());
    }

    @Test
    void dmaMapIntoTheDeviceAndTheHoleBounces() {
        DmaMapping dev = as.map(DEV, 64 * MIB, false, MemTxAttrs.UNSPECIFIED);
        assertNotNull(dev);
        assertTrue(dev.isBounce());
        assertEquals(AddressSpace.DEFAULT_MAX_BOUNCE_BUFFER_SIZE, dev.length());
        assertEquals(0xa5a5a5a5, dev.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0), "prefilled from the device");
        assertNull(as.map(HOLE, 4096, false, MemTxAttrs.UNSPECIFIED), "bounce space is used up");
        dev.unmap(0);

        DmaMapping hole = as.map(HOLE, 64 * MIB, true, MemTxAttrs.UNSPECIFIED);
        assertNotNull(hole, "unassigned maps through a bounce buffer as MMIO does");
        assertTrue(hole.isBounce());
        hole.segment().fill((byte) 1);
        int r = hole.unmap(hole.length());
        assertEquals(MemTxResult.DECODE_ERROR, r, "the write-back to nothing says so");
        assertEquals(0, as.bounceBufferSize());
    }

}
