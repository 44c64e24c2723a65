package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * {@code address_space_map/unmap}, the bounce buffer and {@code MemoryRegionCache} case by case
 * against QEMU's {@code system/physmem.c} (from the DMA audit).
 */
class DmaQemuConformanceTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final int MIG = DirtyMemory.DIRTY_MEMORY_MIGRATION;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final List<String> calls = new ArrayList<>();

    private IoRegion device(String name, long size, int fill) {
        return new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((a, s) -> {
                    calls.add(name + " r" + Long.toHexString(a) + "/" + s);
                    return fill;
                })
                .write((a, d, s) -> calls.add(name + " w" + Long.toHexString(a) + "/" + s + "=" + Long.toHexString(d)))
                .impl(1, 1, false)
                .build(), name, size);
    }

    private RamBlock ram(String name, long addr, long size) {
        RamBlock b = RamBlock.anonymous(name, size);
        root.addSubregion(addr, new RamRegion(sys, null, name, b, false, false));
        return b;
    }

    /** QEMU extends a direct map only across the same region: RAM followed by MMIO stops at the RAM. */
    @Test
    void aRamMapStopsWhereTheRamMeetsMmio() {
        ram("ram", 0, 0x2000);
        root.addSubregion(0x2000, device("dev", 0x1000, 0));
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping m = as.map(0x1F00, 0x1000, true, U);
        assertFalse(m.isBounce());
        assertEquals(0x100, m.length());
        m.unmap(0);
        assertEquals(List.of(), calls, "the device is never touched");
    }

    /**
     * A map starting in MMIO bounces {@code min(len, limit)} bytes (MMIO lengths are not clamped to
     * the section) and the read prefill is a whole {@code flatview_read}, RAM after the device included.
     */
    @Test
    void aMapStartingInMmioBouncesAcrossTheFollowingRam() {
        root.addSubregion(0x1000, device("dev", 0x10, 0x5A));
        RamBlock b = ram("ram", 0x1010, 0x1000);
        b.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 0x77);
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping m = as.map(0x1000, 0x20, false, U);
        assertTrue(m.isBounce());
        assertEquals(0x20, m.length());
        assertEquals(0x5A, m.segment().get(ValueLayout.JAVA_BYTE, 0xF));
        assertEquals(0x77, m.segment().get(ValueLayout.JAVA_BYTE, 0x10));
        assertEquals(16, calls.size(), "one byte-wide read per device byte");
        m.unmap(0x20);
        assertEquals(16, calls.size(), "a read mapping writes nothing back");
    }

    /** ROM: reads map directly, writes bounce and the write-back at unmap is dropped (DECODE_ERROR). */
    @Test
    void romReadsMapDirectlyAndWritesBounceToNothing() {
        RamBlock b = RamBlock.anonymous("rom", 0x1000);
        b.segment().set(ValueLayout.JAVA_BYTE, 4, (byte) 0x44);
        root.addSubregion(0x10000, new RamRegion(sys, null, "rom", b, true, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping rd = as.map(0x10000, 0x1000, false, U);
        assertFalse(rd.isBounce());
        assertEquals(0x1000, rd.length());
        rd.unmap(0x1000);
        DmaMapping wr = as.map(0x10000, 0x1000, true, U);
        assertTrue(wr.isBounce());
        assertEquals(0, wr.segment().get(ValueLayout.JAVA_BYTE, 4), "a write bounce is zero-filled, not prefilled");
        wr.segment().set(ValueLayout.JAVA_BYTE, 4, (byte) 0x99);
        assertEquals(MemTxResult.DECODE_ERROR, wr.unmap(8));
        assertEquals(0x44, b.segment().get(ValueLayout.JAVA_BYTE, 4), "ROM unchanged");
        assertEquals(0, as.bounceBufferSize());
    }

    /** A ROM device: direct for reads only in ROMD mode; writes always go to its ops, at unmap. */
    @Test
    void aRomDeviceMapsByItsMode() {
        RamBlock b = RamBlock.anonymous("flash", 0x1000);
        b.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 0x11);
        List<String> ops = new ArrayList<>();
        RomDeviceRegion flash = new RomDeviceRegion(sys, null, MemoryRegionOps.builder()
                .read((a, s) -> 0xEE)
                .write((a, d, s) -> ops.add("w" + a + "=" + d))
                .impl(1, 1, false).build(), "flash", b);
        root.addSubregion(0, flash);
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping rd = as.map(0, 0x10, false, U);
        assertFalse(rd.isBounce(), "ROMD mode: reads are direct");
        rd.unmap(0);
        DmaMapping wr = as.map(0, 2, true, U);
        assertTrue(wr.isBounce());
        wr.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 3);
        assertEquals(MemTxResult.OK, wr.unmap(1));
        assertEquals(List.of("w0=3"), ops);
        flash.setRomd(false);
        DmaMapping io = as.map(0, 0x10, false, U);
        assertTrue(io.isBounce(), "out of ROMD mode every access is MMIO");
        assertEquals((byte) 0xEE, io.segment().get(ValueLayout.JAVA_BYTE, 0));
        io.unmap(0);
    }

    /** Lengths near 2^64: RAM clamps to the region, a bounce to the limit and to the end of the space. */
    @Test
    void lengthsNear2To64AreClamped() {
        ram("ram", 0x1000, 0x1000);
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping m = as.map(0x1800, -1L, true, U);
        assertEquals(0x800, m.length());
        m.unmap(0);
        DmaMapping top = as.map(-0x10L, 0x100, true, U);
        assertTrue(top.isBounce());
        assertEquals(0x10, top.length(), "never past 2^64");
        assertEquals(MemTxResult.DECODE_ERROR, top.unmap(0x10));
        DmaMapping hole = as.map(0x100000, -1L, false, U);
        assertEquals(AddressSpace.DEFAULT_MAX_BOUNCE_BUFFER_SIZE, hole.length());
        hole.unmap(0);
        assertEquals(0, as.bounceBufferSize());
    }

    /** {@code invalidate_and_set_dirty(mr, addr1, access_len)}: access_len, not the mapped length. */
    @Test
    void aDirectUnmapMarksOnlyTheAccessedBytesDirty() {
        RamBlock b = ram("ram", 0, 0x4000);
        AddressSpace as = sys.addressSpace(root, "memory");
        sys.globalDirtyLogStart();
        DirtyMemory dm = sys.dirtyMemory();
        dm.snapshotAndClearDirty(b.offset(), 0x4000, MIG);
        DmaMapping m = as.map(0, 0x4000, true, U);
        assertEquals(0x4000, m.length());
        m.unmap(0x1001);
        assertTrue(dm.getDirty(b.offset(), 1, MIG));
        assertTrue(dm.getDirty(b.offset() + 0x1000, 1, MIG));
        assertFalse(dm.getDirty(b.offset() + 0x2000, 0x2000, MIG));
        DmaMapping r = as.map(0x2000, 0x1000, false, U);
        r.unmap(0x1000);
        assertFalse(dm.getDirty(b.offset() + 0x2000, 0x1000, MIG), "a read mapping marks nothing");
        sys.globalDirtyLogStop();
    }

    /**
     * Map clients: only a bounce unmap notifies (a direct unmap does not); every client runs once
     * and is then gone; an unregistered client never runs.
     */
    @Test
    void mapClientsRunOnceAndOnlyWhenBounceSpaceIsFreed() {
        ram("ram", 0, 0x1000);
        root.addSubregion(0x10000, device("dev", 0x2000, 0));
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping full = as.map(0x10000, 0x2000, false, U);
        assertEquals(4096, full.length());
        assertNull(as.map(0x10000, 1, false, U));
        AtomicInteger a = new AtomicInteger();
        AtomicInteger gone = new AtomicInteger();
        Runnable unregistered = gone::incrementAndGet;
        as.registerMapClient(a::incrementAndGet);
        as.registerMapClient(unregistered);
        as.unregisterMapClient(unregistered);
        as.map(0, 0x100, true, U).unmap(0x100);
        assertEquals(0, a.get(), "a direct unmap frees no bounce space");
        full.unmap(0);
        assertEquals(1, a.get());
        as.map(0x10000, 8, false, U).unmap(0);
        assertEquals(1, a.get(), "one-shot");
        assertEquals(0, gone.get());
    }

    /** A limit lowered below what is in use grants nothing (QEMU's size_t would wrap here). */
    @Test
    void aLimitLoweredBelowTheUseGrantsNothing() {
        root.addSubregion(0x10000, device("dev", 0x2000, 0));
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping m = as.map(0x10000, 0x800, false, U);
        as.setMaxBounceBufferSize(0x400);
        assertNull(as.map(0x10000, 1, false, U));
        m.unmap(0);
        assertEquals(0x400, as.map(0x10000, 0x800, false, U).length());
    }

    /**
     * The CAS reservation of {@code address_space_map} under contention: threads mapping and
     * unmapping at once never hold more than the limit together, and every byte comes back.
     * Rounds per thread: {@code -Dguestmem.dma.rounds} (short by default).
     */
    @Test
    void concurrentBounceMapsNeverExceedTheLimit() throws Exception {
        root.addSubregion(0x10000, device("dev", 0x10000, 0));
        AddressSpace as = sys.addressSpace(root, "memory");
        int rounds = Integer.getInteger("guestmem.dma.rounds", 2_000);
        java.util.concurrent.atomic.AtomicLong held = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<String> bad = new java.util.concurrent.atomic.AtomicReference<>();
        Thread[] ts = new Thread[3];
        for (int t = 0; t < ts.length; t++) {
            long want = 1000 + 700L * t;
            ts[t] = new Thread(() -> {
                for (int i = 0; i < rounds; i++) {
                    DmaMapping m = as.map(0x10000, want, true, U);
                    if (m == null) {
                        continue;
                    }
                    long now = held.addAndGet(m.length());
                    if (now > AddressSpace.DEFAULT_MAX_BOUNCE_BUFFER_SIZE || m.length() > want || m.length() == 0) {
                        bad.compareAndSet(null, "held " + now + ", granted " + m.length());
                    }
                    held.addAndGet(-m.length());
                    m.unmap(0);
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        assertNull(bad.get());
        assertEquals(0, as.bounceBufferSize());
        assertEquals(0, as.liveMappings());
    }

    /** A refused unmap (bad access length, or a second unmap) changes nothing. */
    @Test
    void aRefusedUnmapChangesNothing() {
        root.addSubregion(0x10000, device("dev", 0x100, 0));
        AddressSpace as = sys.addressSpace(root, "memory");
        DmaMapping m = as.map(0x10000, 0x10, true, U);
        assertThrows(IllegalArgumentException.class, () -> m.unmap(0x11));
        assertThrows(IllegalArgumentException.class, () -> m.unmap(-1));
        assertEquals(0x10, as.bounceBufferSize());
        assertEquals(1, as.liveMappings());
        assertEquals(List.of(), calls);
        assertEquals(MemTxResult.OK, m.unmap(1));
        assertEquals(List.of("dev w0/1=0"), calls);
        assertThrows(IllegalStateException.class, () -> m.unmap(1));
        assertEquals(0, as.bounceBufferSize());
        assertEquals(0, as.liveMappings());
        assertEquals(1, calls.size());
    }

    /**
     * The mapping's attributes reach the device both ways: the prefill ({@code flatview_read} with
     * attrs, as QEMU) and the write-back at unmap (QEMU writes back with MEMTXATTRS_UNSPECIFIED; a
     * deliberate difference, documented on {@link DmaMapping#unmap}).
     */
    @Test
    void aBounceCarriesTheMappingsAttributesBothWays() {
        MemTxAttrs secure = new MemTxAttrs(false, true, false, false, false, 7);
        List<MemTxAttrs> seen = new ArrayList<>();
        root.addSubregion(0x10000, new IoRegion(sys, null, MemoryRegionOps.builder()
                .readWithAttrs((a, sz, at, out) -> {
                    seen.add(at);
                    out.value = 0;
                    return MemTxResult.OK;
                })
                .writeWithAttrs((a, d, sz, at) -> {
                    seen.add(at);
                    return MemTxResult.OK;
                })
                .impl(4, 4, false).build(), "dev", 0x100));
        AddressSpace as = sys.addressSpace(root, "memory");
        as.map(0x10000, 4, false, secure).unmap(4);
        DmaMapping w = as.map(0x10000, 4, true, secure);
        assertEquals(MemTxResult.OK, w.unmap(4));
        assertEquals(List.of(secure, secure), seen);
    }

    private AddressSpace iommuFixture(RamBlock target) {
        ContainerRegion tgtRoot = new ContainerRegion(sys, null, "tgt-root", -1L);
        tgtRoot.addSubregion(0, new RamRegion(sys, null, "target", target, false, false));
        AddressSpace tgt = sys.addressSpace(tgtRoot, "target");
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x10000);
        iommu.setIommuOps((addr, flag, idx, out) -> {
            out.targetAs = tgt;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        });
        root.addSubregion(0x100000, iommu);
        return sys.addressSpace(root, "memory");
    }

    /**
     * A cache over an IOMMU pins its view like any other: QEMU's {@code address_space_translate_cached}
     * starts from the cached IOMMU region, so a region mapped over it later does not capture the
     * cache's accesses.
     */
    @Test
    void aCacheOverAnIommuKeepsTranslatingThroughTheCachedIommu() {
        RamBlock target = RamBlock.anonymous("target", 0x10000);
        target.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x1111);
        AddressSpace as = iommuFixture(target);
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x100, c.init(as, 0x100000, 0x100, true));
        assertFalse(c.isDirect());
        RamBlock over = RamBlock.anonymous("over", 0x1000);
        over.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x2222);
        root.addSubregionOverlap(0x100000, new RamRegion(sys, null, "over", over, false, false), 1);
        assertEquals(0x2222, as.ldlLe(0x100010), "the space itself now decodes to the new RAM");
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0x1111, c.ldlLe(0x10, r));
        assertEquals(MemTxResult.OK, r.get());
        byte[] buf = new byte[4];
        assertEquals(MemTxResult.OK, c.read(0x10, buf, 0, 4));
        assertEquals(0x11, buf[0]);
        assertEquals(MemTxResult.OK, c.stlLe(0x20, 0x3333));
        assertEquals(MemTxResult.OK, c.write(0x24, new byte[] {0x44}, 0, 1));
        assertEquals(0x3333, target.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x20));
        assertEquals(0x44, target.segment().get(ValueLayout.JAVA_BYTE, 0x24));
        assertEquals(0, over.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x20), "the new RAM is not written");
        c.destroy();
    }

    /**
     * QEMU's cached stores write through {@code cache->ptr} whenever it is set, also for a cache made
     * for reading: a store through a read cache over RAM reaches the cached RAM, never whatever the
     * address decodes to after a topology change.
     */
    @Test
    void aStoreThroughAReadCacheReachesTheCachedRam() {
        RamBlock b = ram("ring", 0x10000, 0x1000);
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x100, c.init(as, 0x10000, 0x100, false));
        assertTrue(c.isDirect());
        root.addSubregionOverlap(0x10000, device("dev", 0x100, 0), 1);
        sys.globalDirtyLogStart();
        DirtyMemory dm = sys.dirtyMemory();
        dm.snapshotAndClearDirty(b.offset(), 0x1000, MIG);
        assertEquals(MemTxResult.OK, c.stlLe(0, 0x12345678));
        assertEquals(MemTxResult.OK, c.write(8, new byte[] {9}, 0, 1));
        assertEquals(List.of(), calls, "the device mapped over the ring is not written");
        assertEquals(0x12345678, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        assertEquals(9, b.segment().get(ValueLayout.JAVA_BYTE, 8));
        assertTrue(dm.getDirty(b.offset(), 1, MIG), "a read cache has no invalidate: its stores are logged");
        assertThrows(IllegalStateException.class, () -> c.invalidate(0, 4));
        sys.globalDirtyLogStop();
        c.destroy();
    }

    /** A read cache over ROM reads directly; a store through it is refused as a ROM store is. */
    @Test
    void aStoreThroughAReadCacheOverRomIsRefused() {
        RamBlock b = RamBlock.anonymous("rom", 0x1000);
        b.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x5555);
        root.addSubregion(0x10000, new RamRegion(sys, null, "rom", b, true, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x100, c.init(as, 0x10000, 0x100, false));
        assertTrue(c.isDirect());
        assertEquals(0x5555, c.ldlLe(0, null));
        assertEquals(MemTxResult.DECODE_ERROR, c.stlLe(0, 1));
        assertEquals(MemTxResult.DECODE_ERROR, c.write(0, new byte[] {1}, 0, 1));
        assertEquals(0x5555, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        c.destroy();
    }

    /** A cache over a hole: the whole length (the unassigned section has no end), decode errors. */
    @Test
    void aCacheOverUnassignedAnswersDecodeErrors() {
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x2000, c.init(as, 0x5000, 0x2000, false));
        assertFalse(c.isDirect());
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0, c.ldlLe(0x1FFC, r));
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        assertThrows(IndexOutOfBoundsException.class, () -> c.ldub(0x2000, null), "past the cached length");
        c.destroy();
        assertThrows(IndexOutOfBoundsException.class, () -> c.ldub(0, null), "a destroyed cache has no length");
    }

    /**
     * {@code cache->len} is an unsigned hwaddr and QEMU's bound asserts compare unsigned: a cache of
     * 2^63 bytes or more over a hole is usable at offset 0 and refuses only what is really past it.
     */
    @Test
    void aCacheLongerThan2To63IsBoundedUnsigned() {
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        long huge = 1L << 63;
        assertEquals(huge, c.init(as, 0x1000, huge, false));
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0, c.ldub(0, r));
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        assertEquals(0, c.ldqLe(huge - 8, r));
        assertEquals(MemTxResult.DECODE_ERROR, c.read(huge - 4, new byte[4], 0, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> c.ldqLe(huge - 7, null), "crosses the end");
        assertThrows(IndexOutOfBoundsException.class, () -> c.ldub(huge, null));
        assertThrows(IndexOutOfBoundsException.class, () -> c.ldub(-1, null));
        c.destroy();
    }

    /** A cache over RAM is clamped to the RAM region, however far the caller asked. */
    @Test
    void aRamCacheIsClampedToItsRegion() {
        RamBlock b = ram("ram", 0x10000, 0x2000);
        root.addSubregion(0x12000, device("dev", 0x100, 0));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x100, c.init(as, 0x11F00, 0x1000, true));
        assertTrue(c.isDirect());
        assertThrows(IndexOutOfBoundsException.class, () -> c.stb(0x100, 1));
        assertNotNull(b);
        c.destroy();
    }
}
