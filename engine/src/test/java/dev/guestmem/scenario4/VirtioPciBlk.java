package dev.guestmem.scenario4;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A virtio-blk PCI function written the way QEMU's virtio-pci + virtio-blk are: a 32 KiB memory BAR
 * (a container) with the common config, ISR, device config, notify, MSI-X table and PBA regions;
 * a config space the guest programs through a host bridge (BAR address, memory decode, bus master);
 * one worker thread per queue that waits on the queue's {@link EventNotifier}, walks the split
 * virtqueue through {@link VringCaches} and does the buffers' DMA with {@link AddressSpace#map}.
 */
final class VirtioPciBlk {
    // BAR layout (offsets of the sub-regions, as QEMU's virtio_pci_modern_regions_init places them)
    static final long COMMON = 0x0;
    static final long ISR = 0x1000;
    static final long DEVICE_CFG = 0x2000;
    static final long NOTIFY = 0x3000;
    static final long MSIX_TABLE = 0x4000;
    static final long MSIX_PBA = 0x4800;
    static final long BAR_SIZE = 0x8000;
    /** queue_notify_off * multiplier: each queue has its own doorbell address. */
    static final int NOTIFY_MULTIPLIER = 4;

    // virtio_pci_common_cfg
    static final int DFSELECT = 0x00;
    static final int DF = 0x04;
    static final int GFSELECT = 0x08;
    static final int GF = 0x0c;
    static final int MSIX_CONFIG = 0x10;
    static final int NUM_QUEUES = 0x12;
    static final int STATUS = 0x14;
    static final int CFG_GENERATION = 0x15;
    static final int Q_SELECT = 0x16;
    static final int Q_SIZE = 0x18;
    static final int Q_MSIX = 0x1a;
    static final int Q_ENABLE = 0x1c;
    static final int Q_NOFF = 0x1e;
    static final int Q_DESCLO = 0x20;
    static final int Q_DESCHI = 0x24;
    static final int Q_AVAILLO = 0x28;
    static final int Q_AVAILHI = 0x2c;
    static final int Q_USEDLO = 0x30;
    static final int Q_USEDHI = 0x34;
    static final int COMMON_SIZE = 0x38;

    static final int STATUS_DRIVER_OK = 4;
    static final int STATUS_NEEDS_RESET = 0x40;
    static final int NO_VECTOR = 0xffff;
    static final int QUEUES = 2;
    static final int QUEUE_MAX = 16;

    // PCI config space
    static final int PCI_COMMAND = 0x04;
    static final int CMD_MEMORY = 0x2;
    static final int CMD_MASTER = 0x4;
    static final int PCI_BAR0 = 0x10;

    final MemorySystem sys;
    /** Where the BAR is mapped (QEMU's pci_address_space): the machine's memory here. */
    final MemoryRegion pciMemory;
    /** The space the MSI-X messages are written to. */
    final AddressSpace msiSpace;
    final ContainerRegion bar;
    final IoRegion config;
    final IoRegion common;
    final IoRegion isr;
    final IoRegion notify;
    final IoRegion msixTable;
    final IoRegion msixPba;
    final IoRegion deviceCfg;
    final BlkBackend backend;
    final Queue[] queues = new Queue[QUEUES];

    /** The DMA space (QEMU's {@code vdev->dma_as}); its ring caches follow its topology. */
    private final AddressSpace dma;
    /** The topology changed or the IOMMU unmapped something since the ring caches were made. */
    private volatile boolean cachesStale;
    private final MemoryListener ringCacheRefresher = new MemoryListener() {
        @Override
        public void commit() {
            // virtio_memory_listener_commit, without QEMU's RCU: the worker re-inits before its next
            // run. Taking the device lock here would deadlock with a vCPU that holds it and moves
            // the BAR or adds an eventfd (both need the topology lock, held around this call).
            cachesStale = true;
        }
    };

    // guest-visible state, guarded by `this`
    private int status;
    private int queueSelect;
    private int configVector = NO_VECTOR;
    private long driverFeatures;
    private int pciCommand;
    private int barValue;
    private long mappedAt = -1;
    private final int[] msixTableWords = new int[QUEUES * 4];
    private int pendingBits;
    private final AtomicInteger isrBits = new AtomicInteger();

    // what a test checks
    final AtomicInteger interrupts = new AtomicInteger();
    final Semaphore interruptRaised = new Semaphore(0);
    final AtomicInteger slowNotifies = new AtomicInteger();
    final AtomicInteger cacheInits = new AtomicInteger();
    final AtomicInteger maps = new AtomicInteger();
    final AtomicInteger bounces = new AtomicInteger();

    VirtioPciBlk(MemorySystem sys, MemoryRegion pciMemory, AddressSpace dma, AddressSpace msiSpace, BlkBackend backend) {
        this.sys = sys;
        this.pciMemory = pciMemory;
        this.dma = dma;
        this.msiSpace = msiSpace;
        this.backend = backend;
        Object owner = this;
        bar = new ContainerRegion(sys, owner, "virtio-pci-bar0", BAR_SIZE);
        common = new IoRegion(sys, owner, MemoryRegionOps.builder()
                .read((a, s) -> commonRead((int) a))
                .write((a, d, s) -> commonWrite((int) a, d))
                .impl(1, 4, false).valid(1, 4, false)
                .accepts((a, s, w, at) -> s == CommonWidths.of(a)) // the spec's natural widths
                .endianness(Endianness.LITTLE).build(), "virtio-pci-common", COMMON_SIZE);
        isr = new IoRegion(sys, owner, MemoryRegionOps.builder()
                .read((a, s) -> isrBits.getAndSet(0)) // read-to-clear, virtio_pci_isr_read
                .write((a, d, s) -> { })
                .impl(1, 4, false).endianness(Endianness.LITTLE).build(), "virtio-pci-isr", 4);
        deviceCfg = new IoRegion(sys, owner, MemoryRegionOps.builder()
                .readWithAttrs((a, s, at, out) -> backend.config.dispatchRead(a, s, false, at, out))
                .writeWithAttrs((a, d, s, at) -> backend.config.dispatchWrite(a, d, s, false, at))
                .impl(1, 8, false).endianness(Endianness.LITTLE).build(), "virtio-pci-device", 0x100);
        notify = new IoRegion(sys, owner, MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, d, s) -> notifySlow((int) (a / NOTIFY_MULTIPLIER)))
                .impl(1, 4, false).endianness(Endianness.LITTLE).build(), "virtio-pci-notify", 0x1000);
        msixTable = new IoRegion(sys, owner, MemoryRegionOps.builder()
                .read((a, s) -> msixRead((int) a))
                .write((a, d, s) -> msixWrite((int) a, (int) d))
                .valid(4, 4, false).impl(4, 4, false).endianness(Endianness.LITTLE).build(), "msix-table", QUEUES * 16);
        msixPba = new IoRegion(sys, owner, MemoryRegionOps.builder()
                .read((a, s) -> pba())
                .write((a, d, s) -> { })
                .valid(4, 8, false).endianness(Endianness.LITTLE).build(), "msix-pba", 8);
        bar.addSubregion(COMMON, common);
        bar.addSubregion(ISR, isr);
        bar.addSubregion(DEVICE_CFG, deviceCfg);
        bar.addSubregion(NOTIFY, notify);
        bar.addSubregion(MSIX_TABLE, msixTable);
        bar.addSubregion(MSIX_PBA, msixPba);
        config = new IoRegion(sys, owner, MemoryRegionOps.builder()
                .read((a, s) -> configRead((int) a, s))
                .write((a, d, s) -> configWrite((int) a, (int) d, s))
                .valid(1, 4, false).impl(1, 4, false).endianness(Endianness.LITTLE).build(), "virtio-pci-config", 256);
        for (int i = 0; i < QUEUES; i++) {
            queues[i] = new Queue(i);
            msixTableWords[i * 4 + 3] = 1; // vector control: masked after reset
        }
        sys.registerListener(ringCacheRefresher, dma);
    }

    /** One virtqueue: its registers, its doorbell, its worker and its ring caches. */
    final class Queue {
        final int index;
        final EventNotifier host = EventNotifier.create();
        final VringCaches caches = new VringCaches();
        final Thread worker;
        int size = QUEUE_MAX;
        int vector = NO_VECTOR;
        boolean enabled;
        long desc;
        long avail;
        long used;
        int lastAvail;
        int usedIdx;
        boolean ioeventfd;
        volatile boolean stopped;

        Queue(int index) {
            this.index = index;
            worker = Thread.ofPlatform().name("virtio-blk-q" + index).daemon().start(this::run);
        }

        /** The IOThread: wait for a kick, take it, run the queue (virtio_queue_host_notifier_read). */
        private void run() {
            while (!stopped) {
                if (host.await(Duration.ofSeconds(10)) && host.testAndClear()) {
                    synchronized (VirtioPciBlk.this) {
                        handleOutput(this);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ config space

    private synchronized long configRead(int a, int size) {
        long v = switch (a & ~3) {
            case 0 -> 0x1042_1af4L; // virtio-blk (modern), Red Hat
            case PCI_COMMAND -> pciCommand;
            case PCI_BAR0 -> barValue & 0xffffffffL;
            default -> 0;
        };
        return (v >>> ((a & 3) * 8)) & (size == 4 ? 0xffffffffL : (1L << (size * 8)) - 1);
    }

    private synchronized void configWrite(int a, int d, int size) {
        if (a == PCI_COMMAND && size >= 2) {
            pciCommand = d & 0xffff;
        } else if (a == PCI_BAR0 && size == 4) {
            barValue = (int) (d & ~(BAR_SIZE - 1)); // sizing: all ones reads back ~(size - 1)
        } else {
            return;
        }
        updateMappings();
    }

    /** pci_update_mappings: the BAR is where the config says, or nowhere without memory decode. */
    private void updateMappings() {
        long want = (pciCommand & CMD_MEMORY) != 0 && barValue != (int) ~(BAR_SIZE - 1) ? barValue & 0xffffffffL : -1;
        if (want == mappedAt) {
            return;
        }
        sys.transactionBegin();
        try {
            if (mappedAt != -1) {
                pciMemory.delSubregion(bar);
            }
            if (want != -1) {
                pciMemory.addSubregionOverlap(want, bar, 1);
            }
        } finally {
            sys.transactionCommit();
        }
        mappedAt = want;
    }

    // ------------------------------------------------------------------ common config

    private synchronized long commonRead(int a) {
        Queue q = queues[queueSelect];
        return switch (a) {
            case DF -> 1L; // feature bit 0 of the selected word: an arbitrary blk feature
            case MSIX_CONFIG -> configVector;
            case NUM_QUEUES -> QUEUES;
            case STATUS -> status;
            case Q_SELECT -> queueSelect;
            case Q_SIZE -> q.size;
            case Q_MSIX -> q.vector;
            case Q_ENABLE -> q.enabled ? 1 : 0;
            case Q_NOFF -> q.index;
            case Q_DESCLO -> q.desc & 0xffffffffL;
            case Q_DESCHI -> q.desc >>> 32;
            case Q_AVAILLO -> q.avail & 0xffffffffL;
            case Q_AVAILHI -> q.avail >>> 32;
            case Q_USEDLO -> q.used & 0xffffffffL;
            case Q_USEDHI -> q.used >>> 32;
            default -> 0;
        };
    }

    private synchronized void commonWrite(int a, long d) {
        Queue q = queues[queueSelect];
        switch (a) {
            case GF -> driverFeatures = d;
            case MSIX_CONFIG -> configVector = (int) d;
            case STATUS -> setStatus((int) d);
            case Q_SELECT -> {
                if (d < QUEUES) {
                    queueSelect = (int) d;
                }
            }
            case Q_SIZE -> q.size = (int) Math.min(d, QUEUE_MAX);
            case Q_MSIX -> q.vector = (int) d;
            case Q_ENABLE -> {
                if (d == 1) {
                    q.enabled = true;
                    initCaches(q); // virtio_queue_enable -> virtio_init_region_cache
                }
            }
            case Q_DESCLO -> q.desc = (q.desc & ~0xffffffffL) | d;
            case Q_DESCHI -> q.desc = (q.desc & 0xffffffffL) | (d << 32);
            case Q_AVAILLO -> q.avail = (q.avail & ~0xffffffffL) | d;
            case Q_AVAILHI -> q.avail = (q.avail & 0xffffffffL) | (d << 32);
            case Q_USEDLO -> q.used = (q.used & ~0xffffffffL) | d;
            case Q_USEDHI -> q.used = (q.used & 0xffffffffL) | (d << 32);
            default -> { }
        }
        if (q.enabled && a >= Q_DESCLO) {
            initCaches(q); // the driver moved a ring of a live queue: the old caches are stale
        }
    }

    private void setStatus(int s) {
        if (s == 0) {
            reset();
            return;
        }
        if ((s & STATUS_DRIVER_OK) != 0 && (status & STATUS_DRIVER_OK) == 0) {
            for (Queue q : queues) {
                if (q.enabled) {
                    assignIoeventfd(q);
                }
            }
        }
        status = s;
    }

    /** virtio_pci_ioeventfd_assign: the doorbell write signals the queue's notifier directly. */
    private void assignIoeventfd(Queue q) {
        notify.addEventfd((long) q.index * NOTIFY_MULTIPLIER, 2, true, q.index, q.host);
        q.ioeventfd = true;
    }

    /** virtio_pci_stop_ioeventfd: deassign, then take the kicks that came before (lose none). */
    private void deassignIoeventfd(Queue q) {
        if (q.ioeventfd) {
            notify.delEventfd((long) q.index * NOTIFY_MULTIPLIER, 2, true, q.index, q.host);
            q.ioeventfd = false;
            if (q.host.testAndClear()) {
                handleOutput(q);
            }
        }
    }

    private void reset() {
        for (Queue q : queues) {
            deassignIoeventfd(q);
            q.caches.destroy();
            q.enabled = false;
            q.lastAvail = 0;
            q.usedIdx = 0;
            q.vector = NO_VECTOR;
            q.desc = q.avail = q.used = 0;
        }
        status = 0;
        queueSelect = 0;
        isrBits.set(0);
    }

    /** virtio_queue_notify without an ioeventfd: the vCPU thread's write wakes the worker. */
    private void notifySlow(int queue) {
        if (queue < QUEUES) {
            slowNotifies.incrementAndGet();
            queues[queue].host.set();
        }
    }

    // ------------------------------------------------------------------ ring caches

    private void initCaches(Queue q) {
        cacheInits.incrementAndGet();
        if (!q.caches.init(dma, q.desc, q.avail, q.used, q.size)) {
            fail();
        }
    }

    private void refreshAllCaches() {
        for (Queue q : queues) {
            if (q.enabled) {
                initCaches(q);
            }
        }
    }

    /** The IOMMU unmapped a page: rebuild the ring caches before the next run (what vhost's IOTLB does). */
    void iommuUnmapped() {
        cachesStale = true;
    }

    /** The machine's reset (not the guest's status write): works with the BAR mapped or not. */
    synchronized void resetFromMachine() {
        reset();
    }

    /** virtio_error: the device stops and asks the driver for a reset. */
    private void fail() {
        status |= STATUS_NEEDS_RESET;
    }

    synchronized int status() {
        return status;
    }

    // ------------------------------------------------------------------ the queue

    /** virtqueue_pop + virtio_blk_handle_request + virtqueue_push + virtio_notify, for every request. */
    private void handleOutput(Queue q) {
        if (!q.enabled || (status & STATUS_NEEDS_RESET) != 0) {
            return;
        }
        if (cachesStale) {
            cachesStale = false;
            refreshAllCaches();
        }
        VringCaches c = q.caches;
        boolean any = false;
        while (true) {
            int availIdx = c.availIdx();
            if (c.failed()) {
                fail();
                return;
            }
            if (availIdx == q.lastAvail) {
                break;
            }
            int head = c.availRing(q.lastAvail % q.size);
            List<long[]> out = new ArrayList<>();
            List<long[]> in = new ArrayList<>();
            int i = head;
            for (int n = 0; n < q.size; n++) { // a loop in the chain ends at the ring size
                long[] d = c.desc(i);
                if (c.failed()) {
                    fail();
                    return;
                }
                (((d[2] & VringCaches.F_WRITE) != 0) ? in : out).add(d);
                if ((d[2] & VringCaches.F_NEXT) == 0) {
                    break;
                }
                i = (int) d[3];
            }
            int written = backend.handle(this, out, in);
            c.pushUsed(q.usedIdx % q.size, head, written);
            q.usedIdx = (q.usedIdx + 1) & 0xffff;
            c.setUsedIdx(q.usedIdx);
            if (c.failed()) {
                fail();
                return;
            }
            q.lastAvail = (q.lastAvail + 1) & 0xffff;
            any = true;
        }
        if (any) {
            raise(q);
        }
    }

    /** virtio_notify: the ISR bit, then the queue's MSI-X vector (or its pending bit if masked). */
    private void raise(Queue q) {
        isrBits.getAndUpdate(v -> v | 1);
        if (q.vector != NO_VECTOR && q.vector < QUEUES) {
            int v = q.vector;
            if ((msixTableWords[v * 4 + 3] & 1) != 0) {
                pendingBits |= 1 << v;
            } else {
                sendMsi(v);
            }
        }
        interrupts.incrementAndGet();
        interruptRaised.release();
    }

    private void sendMsi(int v) {
        long addr = (msixTableWords[v * 4] & 0xffffffffL) | ((long) msixTableWords[v * 4 + 1] << 32);
        msiSpace.stlLe(addr, msixTableWords[v * 4 + 2], MemTxAttrs.UNSPECIFIED);
    }

    private synchronized long msixRead(int a) {
        return msixTableWords[a / 4] & 0xffffffffL;
    }

    private synchronized void msixWrite(int a, int d) {
        msixTableWords[a / 4] = d;
        int v = a / 16;
        if (a % 16 == 12 && (d & 1) == 0 && (pendingBits & (1 << v)) != 0) {
            pendingBits &= ~(1 << v); // msix_handle_mask_update: unmasking delivers the pending message
            sendMsi(v);
        }
    }

    private synchronized long pba() {
        return pendingBits;
    }

    // ------------------------------------------------------------------ DMA

    /**
     * Copies {@code len} guest bytes at {@code addr} into {@code dst} with map/unmap, as
     * virtqueue_map_desc (a mapping may be shorter than asked: map again for the rest).
     *
     * @return whether every byte could be mapped
     */
    boolean dmaRead(long addr, byte[] dst, int off, int len) {
        if (!dma.accessValid(addr, len, false, MemTxAttrs.UNSPECIFIED)) {
            return false; // dma_memory_valid: a bounce would read zeros without telling
        }
        int done = 0;
        while (done < len) {
            DmaMapping m = dma.map(addr + done, len - done, false, MemTxAttrs.UNSPECIFIED);
            if (m == null) {
                return false;
            }
            count(m);
            int n = (int) m.length();
            MemorySegment.copy(m.segment(), 0, MemorySegment.ofArray(dst), off + done, n);
            m.unmap(n);
            done += n;
        }
        return true;
    }

    /** The device writes {@code len} bytes of {@code src} to guest {@code addr}. */
    boolean dmaWrite(long addr, byte[] src, int off, int len) {
        if (!dma.accessValid(addr, len, true, MemTxAttrs.UNSPECIFIED)) {
            return false;
        }
        boolean ok = true;
        int done = 0;
        while (done < len) {
            DmaMapping m = dma.map(addr + done, len - done, true, MemTxAttrs.UNSPECIFIED);
            if (m == null) {
                return false;
            }
            count(m);
            int n = (int) m.length();
            MemorySegment.copy(MemorySegment.ofArray(src), off + done, m.segment(), 0, n);
            ok &= m.unmap(n) == MemTxResult.OK; // a bounce is written back here
            done += n;
        }
        return ok;
    }

    private void count(DmaMapping m) {
        maps.incrementAndGet();
        if (m.isBounce()) {
            bounces.incrementAndGet();
        }
    }

    /** Stops the workers, deletes the doorbells, then closes the notifiers. */
    void close() throws InterruptedException {
        synchronized (this) {
            for (Queue q : queues) {
                deassignIoeventfd(q);
                q.stopped = true;
            }
        }
        sys.unregisterListener(ringCacheRefresher);
        for (Queue q : queues) {
            q.host.close(); // wakes the worker's await
            q.worker.join();
            q.caches.destroy();
        }
    }

    /** The natural width of each common-config register (the spec's access rule). */
    static final class CommonWidths {
        private CommonWidths() {
        }

        static int of(long a) {
            if (a < MSIX_CONFIG || a >= Q_DESCLO) {
                return (a & 3) == 0 ? 4 : -1;
            }
            if (a == STATUS || a == CFG_GENERATION) {
                return 1;
            }
            return (a & 1) == 0 ? 2 : -1;
        }
    }
}
