package dev.guestmem.scenario11;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuTlbEntry;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A PASID-capable PCIe device with an ATS device IOTLB. Each DMA is one of: a translated write
 * (device IOTLB, filled on a miss by {@code iotlbEntry}, then a store to the translated address), an
 * untranslated store through the IOMMU, a buffer write across two IOVA pages, a {@code map}ped
 * page (direct, or a bounce buffer where the target is MMIO or nothing), a store and a load through
 * a {@link MemoryRegionCache} over the whole IOMMU window.
 *
 * <p>Invalidation: a DEVIOTLB_UNMAP notifier per PASID. Its callback takes the drain lock for
 * writing, so it returns only once no DMA that began before it is still running, and drops the
 * IOTLB entries under that lock (a DMA that filled an entry from a translation older than the
 * invalidation has finished by then, so nothing stale survives). That is ATS's invalidation
 * completion; every DMA holds the drain lock for reading from translation to last byte.
 */
final class AtsDevice {
    /** The device IOTLB: key {@code ctx << 40 | pfn << 1 | write}. */
    private final Map<Long, IommuTlbEntry> devTlb = new ConcurrentHashMap<>();
    private final ReentrantReadWriteLock drain = new ReentrantReadWriteLock();
    private final IommuMachine m;
    private final int requesterId;
    private final List<IommuNotifier> notifiers = new ArrayList<>();
    final Queue<String> errors;
    final AtomicLong okWrites = new AtomicLong();
    final AtomicLong faults = new AtomicLong();
    final AtomicLong devInvalidations = new AtomicLong();
    final AtomicLong bounces = new AtomicLong();

    AtsDevice(IommuMachine m, int requesterId, Queue<String> errors) {
        this.m = m;
        this.requesterId = requesterId;
        this.errors = errors;
        for (int pid = 0; pid < PasidIommu.PASIDS; pid++) {
            int ctx = PasidIommu.context(requesterId, pid);
            IommuNotifier n = new IommuNotifier((x, e) -> invalidate(ctx, e), IommuNotifier.DEVIOTLB_UNMAP, 0,
                    PasidIommu.IOVA_SPACE - 1, ctx);
            m.iommuRegion.notifiers().register(n);
            notifiers.add(n);
        }
    }

    void detach() {
        for (IommuNotifier n : notifiers) {
            m.iommuRegion.notifiers().unregister(n);
        }
    }

    MemTxAttrs attrs(int pid) {
        return MemTxAttrs.dma(requesterId, pid);
    }

    private void invalidate(int ctx, IommuTlbEntry e) {
        devInvalidations.incrementAndGet();
        drain.writeLock().lock(); // every DMA that may use an older translation has finished
        try {
            long first = e.iova >>> 12;
            long last = e.iovaLast() >>> 12;
            devTlb.keySet().removeIf(k -> (k >>> 40) == ctx && (k >>> 1 & 0x7FFFFFFFFL) >= first
                    && (k >>> 1 & 0x7FFFFFFFFL) <= last);
        } finally {
            drain.writeLock().unlock();
        }
    }

    /** The device IOTLB's entries now, for the check that none outlives its mapping. */
    Map<Long, IommuTlbEntry> deviceTlb() {
        return devTlb;
    }

    /** One worker's DMA loop state. */
    final class Worker {
        private final Random rnd;
        private final MemoryRegionCache window = new MemoryRegionCache();
        private final MemTxResultHolder res = new MemTxResultHolder();
        private final byte[] buf = new byte[32];
        private long seq;

        Worker(long seed) {
            this.rnd = new Random(seed);
            window.init(m.dma, 0, PasidIommu.IOVA_SPACE, true);
            if (window.isDirect() || window.length() != PasidIommu.IOVA_SPACE) {
                errors.add("a cache over the IOMMU window must be indirect and whole: " + window.length());
            }
        }

        /** One DMA to IOVA page {@code pfn} of PASID {@code pid}. */
        void dma(int pid, long pfn) {
            int ctx = PasidIommu.context(requesterId, pid);
            MemTxAttrs attrs = attrs(pid);
            long page = pfn << 12;
            long off = (rnd.nextInt(512 - 4)) * 8L;
            drain.readLock().lock();
            try {
                switch (rnd.nextInt(6)) {
                    case 0 -> translated(ctx, attrs, pfn, off);
                    case 1 -> count(m.dma.stqLe(page + off, Stamps.stamp(ctx, pfn, ++seq), attrs));
                    case 2 -> acrossPages(ctx, attrs, pfn);
                    case 3 -> mapped(ctx, attrs, pfn);
                    case 4 -> count(window.stqLe(page + off, Stamps.stamp(ctx, pfn, ++seq), attrs));
                    default -> {
                        long w = window.ldqLe(page + off, attrs, res);
                        if (res.get() == MemTxResult.OK && !Stamps.fits(w, ctx, pfn, true)) {
                            errors.add(String.format("ctx %d iova page 0x%x read 0x%x", ctx, pfn, w));
                        }
                    }
                }
            } finally {
                drain.readLock().unlock();
            }
        }

        private void count(int r) {
            (r == MemTxResult.OK ? okWrites : faults).incrementAndGet();
        }

        private void translated(int ctx, MemTxAttrs attrs, long pfn, long off) {
            long key = (long) ctx << 40 | pfn << 1 | 1;
            IommuTlbEntry e = devTlb.get(key);
            if (e == null) {
                e = m.dma.iotlbEntry(pfn << 12, true, attrs); // ATS translation request
                if (e.targetAs == null) {
                    faults.incrementAndGet();
                    return;
                }
                devTlb.put(key, e);
            }
            AddressSpace to = e.targetAs;
            count(to.stqLe(e.translatedAddr + off, Stamps.stamp(ctx, pfn, ++seq), MemTxAttrs.NONE));
        }

        private void acrossPages(int ctx, MemTxAttrs attrs, long pfn) {
            java.lang.foreign.MemorySegment s = java.lang.foreign.MemorySegment.ofArray(buf);
            for (int i = 0; i < 4; i++) {
                s.set(ValueLayout.JAVA_LONG_UNALIGNED, i * 8L, Stamps.stamp(ctx, i < 2 ? pfn : pfn + 1, ++seq));
            }
            count(m.dma.write((pfn << 12) + PasidIommu.PAGE - 16, attrs, buf, 0, buf.length));
        }

        private void mapped(int ctx, MemTxAttrs attrs, long pfn) {
            DmaMapping map = m.dma.map(pfn << 12, PasidIommu.PAGE, true, attrs);
            if (map == null) {
                faults.incrementAndGet(); // no bounce space left: a device would wait for a map client
                return;
            }
            if (map.isBounce()) {
                bounces.incrementAndGet();
            }
            int words = (int) (map.length() / 8);
            int n = 1 + rnd.nextInt(Math.min(words, 8));
            for (int i = 0; i < n; i++) {
                map.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, i * 8L, Stamps.stamp(ctx, pfn, ++seq));
            }
            count(map.unmap(n * 8L));
        }
    }
}
