package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** address_space_map/unmap: direct RAM, bounded bounce buffers, map clients; MemoryRegionCache. */
class DmaMappingTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final int MIG = DirtyMemory.DIRTY_MEMORY_MIGRATION;

    @Test
    void ramMapsDirectlyAcrossSectionsAndClampsToTheRegion() {
        TestViews tv = new TestViews();
        RamBlock blk = RamBlock.anonymous("ram", 0x3000);
        RamRegion r = new RamRegion(tv.system, null, "ram", blk, false, false);
        // unaligned start: subpage [0x1800,0x1fff], whole pages, trailing subpage: three sections
        AddressSpace as = tv.map(0x1800, r).space();
        DmaMapping m = as.map(0x1800, 0x3000, true, U);
        assertNotNull(m);
        assertFalse(m.isBounce());
        assertEquals(0x3000, m.length(), "extended across the region's sections");
        assertEquals(blk.segment().address(), m.segment().address());
        assertEquals(3, blk.refCount(), "creator, region and mapping each hold a block reference");
        m.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x55AA55AA);
        assertEquals(0x55AA55AA, as.ldl(0x1810));
        assertEquals(1, as.liveMappings());
        assertEquals(MemTxResult.OK, m.unmap(0x20));
        assertEquals(2, blk.refCount(), "creator and region");
        assertEquals(0, as.liveMappings());
        assertThrows(IllegalStateException.class, () -> m.unmap(0), "double unmap");

        DmaMapping big = as.map(0x2000, 1L << 40, false, U);
        assertEquals(0x2800, big.length(), "clamped to the end of the region");
        big.unmap(0);
        assertNull(as.map(0x1800, 0, false, U), "length 0 maps nothing");
    }

    @Test
    void directWritesAreMarkedDirtyOnUnmap() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamBlock blk = RamBlock.anonymous("ram", 0x4000);
        root.addSubregion(0, new RamRegion(sys, null, "ram", blk, false, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        sys.globalDirtyLogStart();
        DirtyMemory dm = sys.dirtyMemory();
        long base = blk.offset(); // the block's ram_addr in its system
        dm.snapshotAndClearDirty(base, 0x4000, MIG);
        DmaMapping m = as.map(0x2000, 0x100, true, U);
        assertFalse(dm.getDirty(base + 0x2000, 1, MIG));
        m.unmap(0x10);
        assertTrue(dm.getDirty(base + 0x2000, 1, MIG));
        assertFalse(dm.getDirty(base + 0x1000, 1, MIG));
        // the ordinary store path logs too, the slow first store and the fast ones after it
        assertEquals(MemTxResult.OK, as.stl(0x3000, 1));
        assertEquals(MemTxResult.OK, as.stl(0x1ff0, 1));
        assertTrue(dm.getDirty(base + 0x3000, 4, MIG));
        assertTrue(dm.getDirty(base + 0x1ff0, 4, MIG));
        sys.globalDirtyLogStop();
    }

    /**
     * QEMU's {@code address_space_unmap} marks with the region's mask at unmap time: a DMA write
     * mapped before migration's logging started and unmapped after it is logged (else migration
     * would miss it); one unmapped after logging stopped is not.
     */
    @Test
    void unmapLogsWithTheMaskOfUnmapTime() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamBlock blk = RamBlock.anonymous("ram", 0x4000);
        root.addSubregion(0, new RamRegion(sys, null, "ram", blk, false, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping inFlight = as.map(0x1000, 0x100, true, U);
        assertFalse(inFlight.isBounce());
        sys.globalDirtyLogStart(); // migration starts while the DMA is in flight
        DirtyMemory dm = sys.dirtyMemory();
        dm.snapshotAndClearDirty(blk.offset(), 0x4000, MIG); // the first pass sent every page
        inFlight.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x11223344);
        assertEquals(MemTxResult.OK, inFlight.unmap(4));
        assertTrue(dm.getDirty(blk.offset() + 0x1000, 4, MIG), "logged although mapped before logging started");

        DmaMapping late = as.map(0x2000, 0x100, true, U);
        dm.snapshotAndClearDirty(blk.offset(), 0x4000, MIG);
        sys.globalDirtyLogStop();
        late.unmap(4);
        assertFalse(dm.getDirty(blk.offset() + 0x2000, 4, MIG), "logging is off at unmap time");
    }

    /** The same rule for {@link MemoryRegionCache#invalidate} ({@code address_space_cache_invalidate}). */
    @Test
    void cacheInvalidateLogsWithTheCurrentMask() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamBlock blk = RamBlock.anonymous("ring", 0x2000);
        root.addSubregion(0x10000, new RamRegion(sys, null, "ring", blk, false, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x1000, c.init(as, 0x10000, 0x1000, true));
        assertTrue(c.isDirect());
        sys.globalDirtyLogStart();
        DirtyMemory dm = sys.dirtyMemory();
        dm.snapshotAndClearDirty(blk.offset(), 0x2000, MIG);
        assertEquals(MemTxResult.OK, c.stlLe(8, 0xCAFE));
        assertFalse(dm.getDirty(blk.offset() + 8, 4, MIG), "the cache's direct store does not log by itself");
        c.invalidate(8, 4);
        assertTrue(dm.getDirty(blk.offset() + 8, 4, MIG));
        c.destroy();
        sys.globalDirtyLogStop();
    }

    /**
     * QEMU's {@code address_space_read/write_cached_slow} dispatch on the cached region at
     * consecutive offsets: after a higher-priority device covers the cached one, the cache's buffer
     * accesses reach the cached device, as its ld/st do, not the one the address now decodes to.
     */
    @Test
    void cachedMmioBufferAccessesReachTheCachedRegionAfterTheMapChanges() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        List<String> calls = new ArrayList<>();
        IoRegion a = new IoRegion(sys, null, MemoryRegionOps.builder().read((addr, sz) -> {
            calls.add("a" + addr + "/" + sz);
            return 0xA0 + addr;
        }).write((addr, d, sz) -> calls.add("a-w" + addr + "/" + sz + "=" + Long.toHexString(d))).build(), "dev-a", 0x100);
        IoRegion b = new IoRegion(sys, null, MemoryRegionOps.builder().read((addr, sz) -> {
            calls.add("b" + addr);
            return 0xB0;
        }).write((addr, d, sz) -> calls.add("b-w" + addr)).build(), "dev-b", 0x100);
        root.addSubregion(0x20000, a);
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x10, c.init(as, 0x20000, 0x10, true));
        assertFalse(c.isDirect());
        root.addSubregionOverlap(0x20000, b, 1); // the map changes after init: the cache is a snapshot
        assertEquals(0xA0, c.ldub(0, null));
        byte[] buf = new byte[1];
        assertEquals(MemTxResult.OK, c.read(0, buf, 0, 1));
        assertEquals(0xA0, buf[0] & 0xFF);
        // 6 bytes at offset 2: memory_access_size splits into 2 (alignment) and 4, host byte order
        assertEquals(MemTxResult.OK, c.write(2, new byte[] {1, 2, 3, 4, 5, 6}, 0, 6));
        String second = java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN ? "6050403" : "3040506";
        String first = java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.LITTLE_ENDIAN ? "201" : "102";
        assertEquals(List.of("a0/1", "a0/1", "a-w2/2=" + first, "a-w4/4=" + second), calls);
        assertEquals(0xB0, as.ldub(0x20000), "the address space itself decodes to the new device");
        c.destroy();
    }

    @Test
    void mmioGoesThroughABoundedBounceBuffer() {
        TestViews tv = new TestViews();
        byte[] regs = new byte[0x10000];
        List<String> writes = new ArrayList<>();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((a, s) -> regs[(int) a] & 0xFF)
                .write((a, d, s) -> {
                    writes.add(a + "=" + d);
                    regs[(int) a] = (byte) d;
                })
                .impl(1, 1, false)
                .valid(1, 8, true)
                .build();
        IoRegion dev = new IoRegion(tv.system, null, ops, "dev", 0x10000);
        AddressSpace as = tv.map(0x100000, dev).space();
        regs[3] = 0x33;
        DmaMapping rd = as.map(0x100000, 10_000_000, false, U);
        assertTrue(rd.isBounce());
        assertEquals(AddressSpace.DEFAULT_MAX_BOUNCE_BUFFER_SIZE, rd.length(), "a guest length never over-allocates");
        assertEquals(0x33, rd.segment().get(ValueLayout.JAVA_BYTE, 3), "pre-filled from the device");
        assertEquals(4096, as.bounceBufferSize());
        assertNull(as.map(0x100000, 16, true, U), "no bounce space left");
        AtomicInteger notified = new AtomicInteger();
        as.registerMapClient(notified::incrementAndGet);
        assertEquals(0, notified.get());
        rd.unmap(0);
        assertEquals(1, notified.get(), "space freed: clients run once");
        assertEquals(0, as.bounceBufferSize());
        as.registerMapClient(notified::incrementAndGet);
        assertEquals(2, notified.get(), "space available: runs at once");

        DmaMapping a = as.map(0x100010, 3000, true, U);
        DmaMapping b = as.map(0x100010, 3000, true, U);
        assertEquals(3000, a.length());
        assertEquals(1096, b.length(), "partial grant of what is left");
        a.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 0x7E);
        a.segment().set(ValueLayout.JAVA_BYTE, 1, (byte) 0x7F);
        assertEquals(MemTxResult.OK, a.unmap(1));
        assertEquals(List.of("16=126"), writes, "only access_len bytes are written back");
        b.unmap(0);
        assertEquals(0, as.bounceBufferSize());
        assertEquals(0, as.liveMappings());
    }

    /**
     * A read mapping's bounce buffer is filled from the device when it is mapped; QEMU ignores that
     * read's result, so a device model could not tell a failed DMA read from zeros (asked for by
     * the virtio user). {@link DmaMapping#prefillResult()} keeps it: the device's error, the
     * unassigned hole's DECODE_ERROR, and OK for RAM and for write mappings, which read nothing.
     */
    @Test
    void aReadMappingKeepsTheResultOfItsBouncePrefill() {
        TestViews tv = new TestViews();
        MemoryRegionOps failing = MemoryRegionOps.builder()
                .readWithAttrs((a, size, attrs, data) -> a < 8 ? MemTxResult.OK : MemTxResult.ERROR)
                .writeWithAttrs((a, d, size, attrs) -> MemTxResult.OK)
                .build();
        IoRegion dev = new IoRegion(tv.system, null, failing, "dev", 0x1000);
        RamBlock blk = RamBlock.anonymous("ram", 0x1000);
        RamRegion ram = new RamRegion(tv.system, null, "ram", blk, false, false);
        AddressSpace as = tv.map(0x10000, dev).map(0x20000, ram).space();

        DmaMapping good = as.map(0x10000, 8, false, U);
        assertTrue(good.isBounce());
        assertEquals(MemTxResult.OK, good.prefillResult());
        good.unmap(0);
        DmaMapping bad = as.map(0x10000, 16, false, U);
        assertEquals(MemTxResult.ERROR, bad.prefillResult(), "bytes 8-15 failed on the device");
        bad.unmap(0);
        DmaMapping hole = as.map(0x30000, 16, false, U);
        assertTrue(hole.isBounce());
        assertEquals(MemTxResult.DECODE_ERROR, hole.prefillResult(), "nothing mapped there");
        hole.unmap(0);
        DmaMapping write = as.map(0x10000, 16, true, U);
        assertEquals(MemTxResult.OK, write.prefillResult(), "a write mapping reads nothing");
        write.unmap(0);
        DmaMapping direct = as.map(0x20000, 16, false, U);
        assertFalse(direct.isBounce());
        assertEquals(MemTxResult.OK, direct.prefillResult());
        direct.unmap(0);
    }

    @Test
    void cacheReadsRamDirectlyAndMmioWithoutRelookup() {
        TestViews tv = new TestViews();
        RamBlock blk = RamBlock.anonymous("ring", 0x2000);
        RamRegion r = new RamRegion(tv.system, null, "ring", blk, false, false);
        List<Long> reads = new ArrayList<>();
        IoRegion dev = new IoRegion(tv.system, null, MemoryRegionOps.builder().read((a, s) -> {
            reads.add(a);
            return 0x100 + a;
        }).build(), "dev", 0x100);
        AddressSpace as = tv.map(0x10000, r).map(0x20000, dev).space();
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x1000, c.init(as, 0x11000, 0x1000, true));
        assertTrue(c.isDirect());
        assertEquals(MemTxResult.OK, c.stwLe(4, 0xBEEF));
        assertEquals(0xBEEF, as.lduwLe(0x11004));
        assertEquals(0xBEEF, c.lduwLe(4, null));
        byte[] buf = {1, 2, 3};
        c.write(8, buf, 0, 3);
        byte[] back = new byte[3];
        c.read(8, back, 0, 3);
        assertArrayEquals(buf, back);
        assertThrows(IndexOutOfBoundsException.class, () -> c.ldlLe(0xFFE, null));
        c.invalidate(0, 16);
        c.destroy();
        assertEquals(2, blk.refCount(), "creator and region");

        assertEquals(0x80, c.init(as, 0x20080, 0x1000, false), "clamped to the MMIO section (CVE-2020-27821)");
        assertFalse(c.isDirect());
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0x184, c.ldlLe(4, res), "dispatched at the cached region offset 0x84");
        assertEquals(List.of(0x84L), reads);
        c.destroy();
        c.destroy();
    }

    /**
     * QEMU's {@code address_space_map} prefills a read bounce buffer with {@code flatview_read(fv, ...)}
     * on the view it translated with, so the bytes come from the region the mapping was decided
     * on. Here the IOMMU's translate publishes a new view (RAM mapped over the IOMMU) between the
     * translation and the prefill: the buffer must still hold the device's bytes, not the new RAM's.
     */
    @Test
    void aBouncePrefillReadsTheViewTheMapTranslatedWith() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        ContainerRegion tgtRoot = new ContainerRegion(sys, null, "target-root", -1L);
        tgtRoot.addSubregion(0, new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((a, sz) -> 0xA5A5A5A5A5A5A5A5L >>> (8 * (8 - sz)))
                .write((a, d, sz) -> { })
                .build(), "dev", 0x1000));
        AddressSpace tgt = sys.addressSpace(tgtRoot, "target");
        RamBlock over = RamBlock.anonymous("over", 0x1000);
        over.segment().fill((byte) 0x5A);
        AtomicInteger translations = new AtomicInteger();
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x1000);
        iommu.setIommuOps((addr, flag, idx, out) -> {
            if (translations.getAndIncrement() == 0) { // the topology changes during the map
                root.addSubregionOverlap(0x100000, new RamRegion(sys, null, "over", over, false, false), 1);
            }
            out.targetAs = tgt;
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        });
        root.addSubregion(0x100000, iommu);
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping m = as.map(0x100000, 0x10, false, U);
        assertNotNull(m);
        assertTrue(m.isBounce());
        assertEquals(0x5A, as.ldub(0x100000), "the space now decodes to the RAM mapped over the IOMMU");
        for (int i = 0; i < 0x10; i++) {
            assertEquals((byte) 0xA5, m.segment().get(ValueLayout.JAVA_BYTE, i), "byte " + i + " from the mapped device");
        }
        assertEquals(MemTxResult.OK, m.unmap(0));
    }
}
