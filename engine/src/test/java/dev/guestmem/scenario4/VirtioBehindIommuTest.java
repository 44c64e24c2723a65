package dev.guestmem.scenario4;

import static dev.guestmem.scenario4.VirtioMachine.MSI;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The same virtio-blk function with its DMA behind a page-table IOMMU (guide section 6, IOMMUs):
 * rings and buffers are IOVAs, a buffer spanning two IOVA pages maps in two pieces, a read-only
 * page refuses the device's write, and an UNMAP of the used ring's page makes the device stop
 * instead of writing the page it no longer owns.
 */
class VirtioBehindIommuTest {
    static final long TABLE = 0x80000;
    static final long IOVA_SPACE = 2 * VirtioMachine.MIB;
    static final long RING_DELTA = 0x100000;
    static final long R = 1;
    static final long W = 2;

    VirtioMachine m;
    VirtioPciBlk dev;
    VirtioDriver drv;
    IommuRegion iommu;
    final Set<MemTxAttrs> attrsSeen = ConcurrentHashMap.newKeySet();

    /** The model: one 8-byte entry per 4 KiB IOVA page in guest RAM (phys | W | R), as a simple IOMMU. */
    final class PageTable implements IommuOps {
        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            if (Long.compareUnsigned(addr, IOVA_SPACE) >= 0) {
                return;
            }
            long pte = m.as.ldqLe(TABLE + (addr >>> 12) * 8);
            if ((pte & (R | W)) != 0) {
                out.targetAs = m.as;
                out.translatedAddr = pte & ~0xfffL;
                out.perm = (int) (pte & (R | W)); // RO = 1, WO = 2, RW = 3
            }
        }

        @Override
        public int attrsToIndex(MemTxAttrs attrs) {
            attrsSeen.add(attrs);
            return 0;
        }
    }

    void map(long iova, long phys, long perm) {
        m.as.stqLe(TABLE + (iova >>> 12) * 8, phys | perm);
    }

    /** The guest's invalidation: clear the entry, then the model tells the notifiers. */
    void unmap(long iova) {
        m.as.stqLe(TABLE + (iova >>> 12) * 8, 0);
        iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(m.as, iova, 0, 0xfff, IommuTlbEntry.NONE));
    }

    @BeforeEach
    void machine() {
        m = new VirtioMachine();
        iommu = new IommuRegion(m.sys, null, "viommu", 1L << 32, new PageTable());
        ContainerRegion dmaRoot = new ContainerRegion(m.sys, null, "virtio-dma-root", MemoryRegion.SIZE_2_64);
        dmaRoot.addSubregion(0, iommu);
        AddressSpace dma = m.sys.addressSpace(dmaRoot, "virtio-dma");
        for (long p = 0x10000; p <= 0x12000; p += 0x1000) {
            map(p + RING_DELTA, p, R | W);
        }
        map(0x20000, 0x20000, R);        // request headers: the device only reads them
        map(0x21000, 0x21000, R | W);    // status bytes
        map(0x40000, 0x50000, R | W);    // a data buffer whose two IOVA pages are apart in RAM
        map(0x41000, 0x33000, R | W);
        map(0x42000, 0x60000, R);        // read-only to the device
        dev = m.plug(dma);
        iommu.notifiers().register(new IommuNotifier((n, e) -> dev.iommuUnmapped(), IommuNotifier.UNMAP, 0,
                (1L << 32) - 1, 0));
        m.enumerate(0xfebf_0000L);
        drv = new VirtioDriver(m.as, 0xfebf_0000L, 0x10000, 0x11000, 0x12000);
        drv.ringIovaDelta = RING_DELTA;
        drv.init(MSI, 1);
        byte[] disk = m.backend.disk;
        for (int i = 0; i < disk.length; i++) {
            disk[i] = (byte) (i * 13 + 1);
        }
    }

    @AfterEach
    void close() throws InterruptedException {
        m.close();
    }

    void awaitInterrupt() throws InterruptedException {
        assertTrue(dev.interruptRaised.tryAcquire(5, TimeUnit.SECONDS), "no interrupt; device status " + dev.status());
    }

    @Test
    void aReadIntoABufferSpanningTwoIovaPagesLandsInBothPhysicalPages() throws InterruptedException {
        assertFalse(dev.queues[0].caches.used.isDirect(), "a cache over an IOMMU is not direct");
        drv.header(0x20000, BlkBackend.T_IN, 1);
        int maps = dev.maps.get();
        drv.post(0x20000, 16, 0, 0x40800, 0x1000, 1, 0x21000, 1, 1);
        drv.kick();
        awaitInterrupt();
        assertEquals(1, drv.usedIdx());
        assertEquals(BlkBackend.S_OK, m.as.ldub(0x21000));
        byte[] expect = Arrays.copyOfRange(m.backend.disk, 512, 512 + 0x1000);
        byte[] lo = new byte[0x800];
        byte[] hi = new byte[0x800];
        m.as.read(0x50800, MemTxAttrs.UNSPECIFIED, lo, 0, lo.length);
        m.as.read(0x33000, MemTxAttrs.UNSPECIFIED, hi, 0, hi.length);
        assertArrayEquals(Arrays.copyOfRange(expect, 0, 0x800), lo);
        assertArrayEquals(Arrays.copyOfRange(expect, 0x800, 0x1000), hi);
        assertEquals(maps + 4, dev.maps.get(), "header, two pieces of the data buffer, status");
        assertTrue(attrsSeen.contains(VringCaches.ATTRS), "the ring accesses' attributes reach the IOMMU: " + attrsSeen);
    }

    @Test
    void aWriteIntoAReadOnlyPageIsAnIoErrorAndLeavesThePageAlone() throws InterruptedException {
        drv.header(0x20000, BlkBackend.T_IN, 0);
        drv.post(0x20000, 16, 0, 0x42000, 512, 1, 0x21000, 1, 1);
        drv.kick();
        awaitInterrupt();
        assertEquals(BlkBackend.S_IOERR, m.as.ldub(0x21000));
        assertEquals(0, m.as.ldqLe(0x60000));
    }

    @Test
    void anUnmapOfTheUsedRingStopsTheDeviceInsteadOfWritingTheOldPage() throws InterruptedException {
        drv.header(0x20000, BlkBackend.T_IN, 0);
        drv.post(0x20000, 16, 0, 0x40000, 512, 1, 0x21000, 1, 1);
        drv.kick();
        awaitInterrupt();
        assertEquals(1, drv.usedIdx());

        int inits = dev.cacheInits.get();
        unmap(0x12000 + RING_DELTA);
        drv.post(0x20000, 16, 0, 0x40000, 512, 1, 0x21000, 1, 1);
        drv.kick();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while ((dev.status() & VirtioPciBlk.STATUS_NEEDS_RESET) == 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(VirtioPciBlk.STATUS_NEEDS_RESET, dev.status() & VirtioPciBlk.STATUS_NEEDS_RESET);
        assertEquals(1, drv.usedIdx(), "the used ring's old page was not written");
        assertEquals(1, dev.interrupts.get());
        assertTrue(dev.cacheInits.get() > inits, "the UNMAP made the worker re-init the ring caches");
    }

    @Test
    void whatTheDeviceWritesThroughTheIommuIsDirtyForMigration() throws InterruptedException {
        m.sys.globalDirtyLogStart();
        m.ramLo.snapshotAndClearDirty(0, VirtioMachine.MIB, MemoryRegion.DIRTY_MEMORY_MIGRATION);
        drv.header(0x20000, BlkBackend.T_IN, 0);
        drv.post(0x20000, 16, 0, 0x40000, 512, 1, 0x21000, 1, 1);
        drv.kick();
        awaitInterrupt();
        DirtyBitmapSnapshot snap = m.ramLo.snapshotAndClearDirty(0, VirtioMachine.MIB, MemoryRegion.DIRTY_MEMORY_MIGRATION);
        assertTrue(m.ramLo.snapshotGetDirty(snap, 0x12000, 0x1000), "the used ring");
        assertTrue(m.ramLo.snapshotGetDirty(snap, 0x50000, 0x1000), "the data buffer");
        assertTrue(m.ramLo.snapshotGetDirty(snap, 0x21000, 0x1000), "the status byte");
        assertFalse(m.ramLo.snapshotGetDirty(snap, 0x70000, 0x1000), "a page nobody wrote");
        m.sys.globalDirtyLogStop();
    }
}
