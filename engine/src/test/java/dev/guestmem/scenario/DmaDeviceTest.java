package dev.guestmem.scenario;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.iommu.IommuException;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuRam;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** Program 2: a DMA device with a descriptor ring, without and then behind an IOMMU. */
class DmaDeviceTest {
    static final long DEV_BASE = 0x1000_1000L;
    static final long IOMMU_REGS = 0x1000_2000L;

    /** The guest driver's side: put a descriptor in slot {@code i}. */
    static void putDesc(AddressSpace as, long ringPhys, int i, long addr, int len, int op) {
        long d = ringPhys + 0x10 + (long) i * DmaDevice.DESC;
        as.stqLe(d, addr);
        as.stlLe(d + 8, len);
        as.stb(d + 12, op);
        as.stb(d + 13, 0);
    }

    static long expectedSum(long len) {
        long s = 0;
        for (long i = 0; i < len; i++) {
            s += DmaDevice.pattern(i) & 0xff;
        }
        return s;
    }

    @Test
    void ringDmaWithoutIommu() {
        ToyMachine m = new ToyMachine(false);
        DmaDevice dev = new DmaDevice(m.sys, m.as);
        m.system.addSubregion(DEV_BASE, dev.regs);
        long ring = 0x30_0000L, buf = 0x40_0800L;      // buffer crosses pages
        m.sys.globalDirtyLogStart();
        DirtyMemory dirty = m.sys.dirtyMemory();
        long base = m.ram.ramBlock().offset();
        dirty.snapshotAndClearDirty(base, m.ram.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION);

        putDesc(m.as, ring, 0, buf, 10000, DmaDevice.OP_FILL);
        putDesc(m.as, ring, 1, buf, 10000, DmaDevice.OP_SUM);
        putDesc(m.as, ring, 2, 0x8000_0000L, 64, DmaDevice.OP_SUM);       // nothing there
        putDesc(m.as, ring, 3, ToyMachine.UART_BASE, 1, DmaDevice.OP_FILL); // DMA into the UART: bounce
        m.as.stwLe(ring, 4);                                                // avail idx
        m.as.stlLe(DEV_BASE + DmaDevice.REG_RING_LO, (int) ring);
        m.as.stlLe(DEV_BASE + DmaDevice.REG_RING_HI, 0);
        m.as.stlLe(DEV_BASE + DmaDevice.REG_KICK, 1);

        assertEquals(4, m.as.lduwLe(ring + 2), "used idx");
        assertEquals(DmaDevice.ST_OK, m.as.ldub(ring + 0x10 + 13));
        assertEquals(10000, m.as.ldqLe(ring + 0x10 + 16));
        assertEquals(DmaDevice.ST_OK, m.as.ldub(ring + 0x30 + 13));
        assertEquals(expectedSum(10000), m.as.ldqLe(ring + 0x30 + 16));
        assertEquals(DmaDevice.ST_ERR, m.as.ldub(ring + 0x50 + 13));
        assertEquals(DmaDevice.ST_OK, m.as.ldub(ring + 0x70 + 13));
        assertEquals(String.valueOf((char) (DmaDevice.pattern(0) & 0xff)), m.uartOut.toString());
        assertEquals(DmaDevice.pattern(9999), (byte) m.as.ldub(buf + 9999));
        assertEquals(1, dev.bounced);

        DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(base, m.ram.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        List<Long> pages = new ArrayList<>();
        snap.forEachDirtyPage(a -> pages.add((a - base) >>> 12));
        // ring page (driver stores + cache invalidate) and the three buffer pages
        assertEquals(List.of(0x300L, 0x400L, 0x401L, 0x402L), pages);
        m.sys.globalDirtyLogStop();
    }

    /** The machine with the device behind a page-table IOMMU. */
    static final class IommuRig {
        final ToyMachine m = new ToyMachine(false);
        final long ptBase = 0x50_0000L;
        final PtIommu iommu = new PtIommu(m.sys, m.as, ptBase, 1L << 32);
        final ContainerRegion pciRoot = new ContainerRegion(m.sys, null, "pci-dma-root", MemoryRegion.SIZE_2_64);
        final AddressSpace dmaAs;
        final DmaDevice dev;

        IommuRig() {
            pciRoot.addSubregion(0, iommu.attach(m.sys, 1L << 32));
            dmaAs = m.sys.addressSpace(pciRoot, "dmadev-dma");
            dev = new DmaDevice(m.sys, dmaAs);
            m.system.addSubregion(DEV_BASE, dev.regs);
            m.system.addSubregion(IOMMU_REGS, iommu.regs);
        }

        /** Driver: map iova page -> phys page with perm, then invalidate. */
        void map(long iova, long phys, int perm) {
            m.as.stqLe(ptBase + (iova >>> 12) * 8, phys | perm);
            m.as.stqLe(IOMMU_REGS, iova >>> 12);
        }

        void unmap(long iova) {
            m.as.stqLe(ptBase + (iova >>> 12) * 8, 0);
            m.as.stqLe(IOMMU_REGS, iova >>> 12);
        }
    }

    @Test
    void ringDmaBehindIommuWithShadowMap() {
        IommuRig rig = new IommuRig();
        ToyMachine m = rig.m;
        // a vfio-like shadow map: iova page -> host memory of the page, kept by a notifier
        TreeMap<Long, MemorySegment> shadow = new TreeMap<>();
        List<String> refused = new ArrayList<>();
        IommuNotifier n = new IommuNotifier((x, e) -> {
            if (e.perm == IommuTlbEntry.NONE) {
                shadow.remove(e.iova);
            } else {
                try {
                    IommuRam r = IommuRam.of(e);
                    shadow.put(e.iova, r.segment());
                } catch (IommuException ex) {
                    refused.add(Long.toHexString(e.iova) + ": " + ex.getMessage());
                }
            }
        }, IommuNotifier.IOTLB_EVENTS, 0, (1L << 32) - 1, 0);

        // mappings present before the notifier: learnt by replay
        rig.map(0x1000, 0x30_0000, IommuTlbEntry.RW);             // ring
        rig.iommu.region.notifiers().register(n);
        rig.iommu.region.notifiers().replay(n);
        assertEquals(List.of(0x1000L), List.copyOf(shadow.keySet()));

        // two buffer pages, not contiguous in guest-physical memory
        rig.map(0x10000, 0x48_0000, IommuTlbEntry.RW);
        rig.map(0x11000, 0x40_0000, IommuTlbEntry.RW);
        rig.map(0x12000, ToyMachine.UART_BASE, IommuTlbEntry.RW);  // a page onto MMIO
        assertEquals(List.of(0x1000L, 0x10000L, 0x11000L), List.copyOf(shadow.keySet()));
        assertEquals(1, refused.size(), refused.toString());

        long ringIova = 0x1000;
        putDesc(m.as, 0x30_0000, 0, 0x10800, 6000, DmaDevice.OP_FILL);
        putDesc(m.as, 0x30_0000, 1, 0x10800, 6000, DmaDevice.OP_SUM);
        putDesc(m.as, 0x30_0000, 2, 0x20000, 16, DmaDevice.OP_FILL);     // unmapped iova
        m.as.stwLe(0x30_0000, 3);
        m.as.stlLe(DEV_BASE + DmaDevice.REG_RING_LO, (int) ringIova);
        m.as.stlLe(DEV_BASE + DmaDevice.REG_KICK, 1);

        assertEquals(3, m.as.lduwLe(0x30_0002), "used idx through the IOMMU");
        assertEquals(DmaDevice.ST_OK, m.as.ldub(0x30_0000 + 0x10 + 13));
        assertEquals(DmaDevice.ST_OK, m.as.ldub(0x30_0000 + 0x30 + 13));
        assertEquals(expectedSum(6000), m.as.ldqLe(0x30_0000 + 0x30 + 16));
        assertEquals(DmaDevice.ST_ERR, m.as.ldub(0x30_0000 + 0x50 + 13));
        // bytes landed at the translated physical pages
        assertEquals(DmaDevice.pattern(0), (byte) m.as.ldub(0x48_0800));
        assertEquals(DmaDevice.pattern(0x800), (byte) m.as.ldub(0x40_0000));
        // and the shadow map sees the same host memory
        assertEquals(DmaDevice.pattern(0x800), shadow.get(0x11000L).get(ValueLayout.JAVA_BYTE, 0));
        assertTrue(rig.dev.mapCalls >= 3, "the mapping crossed an IOMMU page: several map calls " + rig.dev.mapCalls);

        // vhost-style IOTLB query
        IommuTlbEntry io = rig.dmaAs.iotlbEntry(0x11234, true, MemTxAttrs.UNSPECIFIED);
        assertEquals(0x11000, io.iova);
        assertEquals(0x40_0000, io.translatedAddr & ~0xfffL);
        assertEquals(0xfff, io.addrMask);

        // the driver takes a page away: UNMAP reaches the shadow map
        rig.unmap(0x11000);
        assertFalse(shadow.containsKey(0x11000L));
        assertFalse(rig.dmaAs.accessValid(0x11000, 4, false, MemTxAttrs.UNSPECIFIED));
    }

    @Test
    void regionCacheAndMapThroughIommu() {
        IommuRig rig = new IommuRig();
        rig.map(0x1000, 0x30_0000, IommuTlbEntry.RW);
        MemoryRegionCache c = new MemoryRegionCache();
        long len = c.init(rig.dmaAs, 0x1000, 0x100, true);
        // what does a cache over an IOMMU give? (the javadoc: "IOMMUs not followed" / "redone through the address space")
        assertEquals(0x100, len);
        assertFalse(c.isDirect(), "init does not follow the IOMMU: accesses are translated each time");
        assertEquals(0, c.stlLe(0, 0xabcd));
        assertEquals(0xabcd, rig.m.as.ldlLe(0x30_0000));
        c.destroy();
        var dm = rig.dmaAs.map(0x1000, 4096, true, MemTxAttrs.UNSPECIFIED);
        assertNotNull(dm);
        assertFalse(dm.isBounce(), "RAM behind an IOMMU maps directly");
        dm.unmap(0);
    }

    @Test
    void defaultReplayWalkWithoutModelReplay() {
        // an IOMMU without its own replay: QEMU's generic walk over the whole region (here 1 MiB)
        ToyMachine m = new ToyMachine(false);
        PtIommu model = new PtIommu(m.sys, m.as, 0x50_0000L, 1L << 20);
        dev.guestmem.iommu.IommuOps noReplay = model::translate;
        var region = new dev.guestmem.region.IommuRegion(m.sys, null, "walk", 1L << 20, noReplay);
        ContainerRegion root = new ContainerRegion(m.sys, null, "r", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, region);
        m.sys.addressSpace(root, "dma");
        m.as.stqLe(0x50_0000L + 3 * 8, 0x30_0000L | 3);
        List<Long> seen = new ArrayList<>();
        IommuNotifier n = new IommuNotifier((x, e) -> seen.add(e.iova), IommuNotifier.MAP, 0, (1L << 20) - 1, 0);
        region.notifiers().register(n);
        region.notifiers().replay(n);
        assertEquals(List.of(0x3000L), seen);
    }

    @Test
    void softTlbThroughIommuIsInvalidatedByModelUnmap() {
        IommuRig rig = new IommuRig();
        rig.map(0x1000, 0x30_0000, IommuTlbEntry.RO);
        dev.guestmem.tlb.TlbEntry e = new dev.guestmem.tlb.TlbEntry();
        assertTrue(dev.guestmem.tlb.GuestTlb.fill(rig.dmaAs, 0x1000, e));
        assertFalse(e.writeDirect(), "IOMMU grants reads only");
        boolean[] kicked = {false};
        rig.dmaAs.addInvalidationListener(() -> kicked[0] = true);
        long g = rig.dmaAs.generation();
        rig.unmap(0x1000);
        assertNotEquals(g, rig.dmaAs.generation());
        assertTrue(kicked[0]);
    }
}
