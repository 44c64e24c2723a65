package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.IoRegion;
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
        TestViews tv = new TestViews();
        RamBlock blk = RamBlock.anonymous("ram", 0x4000);
        RamRegion r = new RamRegion(tv.system, null, "ram", blk, false, false);
        AddressSpace as = tv.map(0, 0x3FFF, r, 0, false, 1 << DirtyMemory.DIRTY_MEMORY_MIGRATION).space();
        DirtyMemory dm = tv.system.dirtyMemory();
        long base = blk.offset(); // the block's ram_addr in its system
        dm.snapshotAndClearDirty(base, 0x4000, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        DmaMapping m = as.map(0x2000, 0x100, true, U);
        assertFalse(dm.getDirty(base + 0x2000, 1, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        m.unmap(0x10);
        assertTrue(dm.getDirty(base + 0x2000, 1, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        assertFalse(dm.getDirty(base + 0x1000, 1, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        // the ordinary store path logs too, the slow first store and the fast ones after it
        assertEquals(MemTxResult.OK, as.stl(0x3000, 1));
        assertEquals(MemTxResult.OK, as.stl(0x1ff0, 1));
        assertTrue(dm.getDirty(base + 0x3000, 4, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        assertTrue(dm.getDirty(base + 0x1ff0, 4, DirtyMemory.DIRTY_MEMORY_MIGRATION));
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
}
