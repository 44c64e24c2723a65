package dev.guestmem.scenario4;

import static dev.guestmem.scenario4.VirtioMachine.MSI;
import static dev.guestmem.scenario4.VirtioMachine.RAM_HI;
import static dev.guestmem.scenario4.VirtioMachine.SCRATCH;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A virtio-blk PCI function end to end, from the guide and qemu-api.md alone: config cycles through
 * a host bridge, the modern BAR's sub-regions, ioeventfd doorbells moving with the BAR, a worker
 * thread walking the split ring through region caches, and map/unmap DMA across RAM regions and
 * into MMIO.
 */
class VirtioPciBlkTest {
    static final long BAR = 0xfebf_0000L;
    static final long HDR = 0x20000;
    static final long STATUS = 0x20100;
    static final int MSI_DATA = 0x4041;

    VirtioMachine m;
    VirtioPciBlk dev;
    VirtioDriver drv;

    @BeforeEach
    void machine() {
        m = new VirtioMachine();
        dev = m.plug(m.as);
        assertEquals(VirtioPciBlk.BAR_SIZE, m.enumerate(BAR));
        drv = new VirtioDriver(m.as, BAR, 0x10000, 0x11000, 0x12000);
        drv.init(MSI, MSI_DATA);
    }

    @AfterEach
    void close() throws InterruptedException {
        m.close();
    }

    void awaitInterrupt() throws InterruptedException {
        assertTrue(dev.interruptRaised.tryAcquire(5, TimeUnit.SECONDS), "no interrupt; device status " + dev.status());
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + seed);
        }
        return b;
    }

    @Test
    void writeThenReadBackThroughTheRingWithScatterGatherAndABounce() throws InterruptedException {
        // OUT: 1 KiB that straddles ram-lo and ram-hi, to sectors 2-3
        byte[] data = pattern(1024, 3);
        long straddle = RAM_HI - 0x200;
        m.as.write(straddle, MemTxAttrs.UNSPECIFIED, data, 0, data.length);
        drv.header(HDR, BlkBackend.T_OUT, 2);
        int head = drv.post(HDR, 16, 0, straddle, 1024, 0, STATUS, 1, 1);
        assertEquals(MemTxResult.OK, drv.kick());
        awaitInterrupt();
        assertEquals(1, drv.usedIdx());
        assertArrayEquals(new int[] {head, 1}, drv.usedElem(0));
        assertEquals(BlkBackend.S_OK, m.as.ldub(STATUS));
        byte[] onDisk = new byte[1024];
        System.arraycopy(m.backend.disk, 2 * 512, onDisk, 0, 1024);
        assertArrayEquals(data, onDisk);
        assertTrue(dev.maps.get() >= 3, "the header, then the two RAM regions one map each: " + dev.maps);

        // IN: the same sectors into RAM (512) and into the MMIO scratch device (512, bounced)
        int bouncesBefore = dev.bounces.get();
        drv.header(HDR, BlkBackend.T_IN, 2);
        head = drv.post(HDR, 16, 0, 0x30000, 512, 1, SCRATCH, 512, 1, STATUS, 1, 1);
        m.as.stb(STATUS, 0xff);
        drv.kick();
        awaitInterrupt();
        assertEquals(2, drv.usedIdx());
        assertArrayEquals(new int[] {head, 1024 + 1}, drv.usedElem(1));
        assertEquals(BlkBackend.S_OK, m.as.ldub(STATUS));
        byte[] back = new byte[512];
        m.as.read(0x30000, MemTxAttrs.UNSPECIFIED, back, 0, 512);
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 0, 512), back);
        assertArrayEquals(java.util.Arrays.copyOfRange(data, 512, 1024), java.util.Arrays.copyOfRange(m.scratch, 0, 512));
        assertEquals(bouncesBefore + 1, dev.bounces.get());

        // interrupts: two MSI-X messages, the ISR read-to-clear, and no doorbell reached the callback
        assertEquals(List.of(MSI_DATA, MSI_DATA), m.msiData);
        assertEquals(1, m.as.ldub(BAR + VirtioPciBlk.ISR));
        assertEquals(0, m.as.ldub(BAR + VirtioPciBlk.ISR));
        assertEquals(0, dev.slowNotifies.get());
        assertEquals(0, m.as.liveMappings());
    }

    @Test
    void aMaskedVectorSetsThePendingBitAndUnmaskingDeliversIt() throws InterruptedException {
        m.as.stlLe(BAR + VirtioPciBlk.MSIX_TABLE + 12, 1); // mask vector 0
        drv.header(HDR, BlkBackend.T_IN, 0);
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        drv.kick();
        awaitInterrupt();
        assertEquals(List.of(), m.msiData);
        assertEquals(1, m.as.ldlLe(BAR + VirtioPciBlk.MSIX_PBA));
        m.as.stlLe(BAR + VirtioPciBlk.MSIX_TABLE + 12, 0);
        assertEquals(List.of(MSI_DATA), m.msiData);
        assertEquals(0, m.as.ldlLe(BAR + VirtioPciBlk.MSIX_PBA));
        MemTxResultHolder res = new MemTxResultHolder();
        m.as.lduwLe(BAR + VirtioPciBlk.MSIX_TABLE, MemTxAttrs.UNSPECIFIED, res); // table: 32-bit only
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
    }

    @Test
    void commonConfigTakesEachRegisterAtItsOwnWidthOnly() {
        MemTxResultHolder res = new MemTxResultHolder();
        long common = BAR + VirtioPciBlk.COMMON;
        // queue_select is 16 bits: a 32-bit write is refused and changes nothing
        assertEquals(MemTxResult.DECODE_ERROR, m.as.stlLe(common + VirtioPciBlk.Q_SELECT, 1));
        assertEquals(0, m.as.lduwLe(common + VirtioPciBlk.Q_SELECT));
        assertEquals(MemTxResult.OK, m.as.stwLe(common + VirtioPciBlk.Q_SELECT, 1));
        assertEquals(1, m.as.lduwLe(common + VirtioPciBlk.Q_SELECT));
        // device_status is 8 bits: a 16-bit read is refused
        m.as.lduwLe(common + VirtioPciBlk.STATUS, MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        // queue_desc is two 32-bit halves: a 64-bit access is refused (valid max 4), the halves work
        assertEquals(MemTxResult.DECODE_ERROR, m.as.stqLe(common + VirtioPciBlk.Q_DESCLO, 0x1_2345_6000L));
        m.as.stlLe(common + VirtioPciBlk.Q_DESCLO, 0x2345_6000);
        m.as.stlLe(common + VirtioPciBlk.Q_DESCHI, 1);
        assertEquals(0x2345_6000, m.as.ldlLe(common + VirtioPciBlk.Q_DESCLO));
        assertEquals(1, m.as.ldlLe(common + VirtioPciBlk.Q_DESCHI));
        assertEquals(VirtioPciBlk.QUEUES, m.as.lduwLe(common + VirtioPciBlk.NUM_QUEUES));
    }

    @Test
    void deviceConfigIsForwardedToTheBackendsRegion() {
        MemTxResultHolder res = new MemTxResultHolder();
        long cfg = BAR + VirtioPciBlk.DEVICE_CFG;
        assertEquals(64, m.as.ldqLe(cfg, MemTxAttrs.UNSPECIFIED, res)); // capacity, one 8-byte forward
        assertEquals(MemTxResult.OK, res.get());
        assertEquals(512, m.as.ldlLe(cfg + 0x14));
        assertEquals(MemTxResult.OK, m.as.stb(cfg + 0x20, 1)); // writeback cache enable
        assertEquals(1, m.backend.wce);
        assertEquals(1, m.as.ldub(cfg + 0x20));
        // past the backend's 0x24 bytes the forward fails: its DECODE_ERROR reaches the guest
        m.as.ldlLe(cfg + 0x24, MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, m.as.stlLe(cfg + 0x22, 5)); // straddles the end
    }

    /** Records what a KVM-like listener is told about the BAR and its doorbells. */
    static final class BarWatcher implements MemoryListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void regionAdd(MemoryRegionSection s) {
            if (s.region().name().startsWith("virtio-pci-notify")) {
                events.add("add notify @" + Long.toHexString(s.offsetWithinAddressSpace()));
            }
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            if (s.region().name().startsWith("virtio-pci-notify")) {
                events.add("del notify @" + Long.toHexString(s.offsetWithinAddressSpace()));
            }
        }

        @Override
        public void eventfdAdd(Ioeventfd fd) {
            events.add("eventfd+ @" + Long.toHexString(fd.addr()) + " data " + fd.data());
        }

        @Override
        public void eventfdDel(Ioeventfd fd) {
            events.add("eventfd- @" + Long.toHexString(fd.addr()) + " data " + fd.data());
        }
    }

    @Test
    void theGuestMovesAndDisablesTheBarAndTheDoorbellFollows() throws InterruptedException {
        long notify = BAR + VirtioPciBlk.NOTIFY;
        assertEquals(List.of(notify), m.sys.ioeventfds(m.as).stream().map(Ioeventfd::addr).toList());
        BarWatcher w = new BarWatcher();
        m.sys.registerListener(w, m.as);
        w.events.clear(); // the replay on registration

        long moved = 0xfe00_0000L;
        m.configWritel(VirtioPciBlk.PCI_BAR0, (int) moved);
        long newNotify = moved + VirtioPciBlk.NOTIFY;
        // the eventfd changes come in address order, as address_space_update_ioeventfds merges them:
        // the new (lower) address is added before the old one is deleted
        assertEquals(List.of("del notify @" + Long.toHexString(notify), "add notify @" + Long.toHexString(newNotify),
                "eventfd+ @" + Long.toHexString(newNotify) + " data 0", "eventfd- @" + Long.toHexString(notify) + " data 0"),
                w.events);
        assertEquals(List.of(newNotify), m.sys.ioeventfds(m.as).stream().map(Ioeventfd::addr).toList());

        // the old doorbell is a hole now; the new one kicks the worker without the callback
        assertEquals(MemTxResult.DECODE_ERROR, m.as.stwLe(notify, 0));
        drv.bar = moved;
        drv.header(HDR, BlkBackend.T_IN, 1);
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        assertEquals(MemTxResult.OK, drv.kick());
        awaitInterrupt();
        assertEquals(1, drv.usedIdx());
        assertEquals(0, dev.slowNotifies.get());

        // memory decode off: the BAR and its eventfd leave the space; the guest's kick goes nowhere
        w.events.clear();
        m.configWritew(VirtioPciBlk.PCI_COMMAND, VirtioPciBlk.CMD_MASTER);
        assertEquals(List.of("del notify @" + Long.toHexString(newNotify), "eventfd- @" + Long.toHexString(newNotify) + " data 0"),
                w.events);
        assertEquals(List.of(), m.sys.ioeventfds(m.as));
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        assertEquals(MemTxResult.DECODE_ERROR, drv.kick());
        assertEquals(1, drv.usedIdx());

        // and back on: the pending request is taken on the next kick
        m.configWritew(VirtioPciBlk.PCI_COMMAND, VirtioPciBlk.CMD_MEMORY | VirtioPciBlk.CMD_MASTER);
        drv.kick();
        awaitInterrupt();
        assertEquals(2, drv.usedIdx());
        assertEquals(0, dev.slowNotifies.get());
        m.sys.unregisterListener(w);
    }

    @Test
    void aWrongValueAtTheDoorbellReachesTheCallbackAndStillKicks() throws InterruptedException {
        drv.header(HDR, BlkBackend.T_IN, 1);
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        m.as.stlLe(BAR + VirtioPciBlk.NOTIFY, 0); // 4 bytes: the 2-byte eventfd does not match
        awaitInterrupt();
        assertEquals(1, dev.slowNotifies.get());
        assertEquals(1, drv.usedIdx());
    }

    @Test
    void newRingAddressesAndANewRamRegionUnderTheRingsAreFollowed() throws InterruptedException {
        drv.header(HDR, BlkBackend.T_IN, 0);
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        drv.kick();
        awaitInterrupt();

        // the driver resets the device and puts the rings in ram-hi
        drv.desc = RAM_HI + 0x1000;
        drv.avail = RAM_HI + 0x2000;
        drv.used = RAM_HI + 0x3000;
        drv.init(MSI, MSI_DATA);
        drv.header(HDR, BlkBackend.T_IN, 0);
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        drv.kick();
        awaitInterrupt();
        assertEquals(1, drv.usedIdx());
        assertEquals(1, m.as.lduwLe(0x12000 + 2), "the old used ring is left alone");

        // hot-replace the RAM under the rings (a memory backend swapped under a running guest):
        // the caches pinned the old block; the listener's commit must re-init them
        RamRegion old = m.ramHi;
        byte[] copy = new byte[(int) VirtioMachine.MIB];
        m.as.read(RAM_HI, MemTxAttrs.UNSPECIFIED, copy, 0, copy.length);
        RamRegion fresh = RamRegion.allocate(m.sys, null, "ram-hi-2", VirtioMachine.MIB);
        int inits = dev.cacheInits.get();
        m.sys.transactionBegin();
        try {
            m.system.delSubregion(old);
            m.system.addSubregion(RAM_HI, fresh);
        } finally {
            m.sys.transactionCommit();
        }
        m.ramHi = fresh;
        m.as.write(RAM_HI, MemTxAttrs.UNSPECIFIED, copy, 0, copy.length);
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        drv.kick();
        awaitInterrupt();
        assertTrue(dev.cacheInits.get() > inits, "the commit made the worker re-init the ring caches");
        assertEquals(2, drv.usedIdx());
        assertEquals(1, old.ramSegment().get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0x3002),
                "nothing was written to the RAM that left the machine");
    }

    @Test
    void theUsedRingWrittenThroughItsCacheIsDirtyOnceInvalidated() throws InterruptedException {
        m.sys.globalDirtyLogStart();
        m.ramLo.snapshotAndClearDirty(0, VirtioMachine.MIB, MemoryRegion.DIRTY_MEMORY_MIGRATION);
        drv.header(HDR, BlkBackend.T_IN, 0);
        drv.post(HDR, 16, 0, 0x30000, 512, 1, STATUS, 1, 1);
        drv.kick();
        awaitInterrupt();
        DirtyBitmapSnapshot snap = m.ramLo.snapshotAndClearDirty(0, VirtioMachine.MIB, MemoryRegion.DIRTY_MEMORY_MIGRATION);
        assertTrue(dev.queues[0].caches.used.isDirect());
        assertTrue(m.ramLo.snapshotGetDirty(snap, 0x12000, 0x1000), "the used ring (cache_invalidate)");
        assertTrue(m.ramLo.snapshotGetDirty(snap, 0x30000, 0x1000), "the data buffer (unmap)");
        assertFalse(m.ramLo.snapshotGetDirty(snap, 0x70000, 0x1000), "a page nobody wrote");
        m.sys.globalDirtyLogStop();
    }
}
