package dev.guestmem.scenario4;

import static dev.guestmem.scenario4.VirtioPciBlk.COMMON;

import dev.guestmem.access.AddressSpace;

/**
 * The guest's virtio-pci driver (what Linux's virtio_pci_modern does), on the test thread: it
 * programs the common config through the BAR, lays out a split virtqueue in guest RAM, posts
 * descriptor chains and kicks through the notify region.
 */
final class VirtioDriver {
    final AddressSpace as;
    long bar;
    int queueSize = VirtioPciBlk.QUEUE_MAX;
    long desc;
    long avail;
    long used;
    /** What the device is told for a ring: its guest-physical address plus this (an IOVA behind an IOMMU). */
    long ringIovaDelta;
    int nextDesc;
    int availIdx;

    /** The ring layout of queue 0. */
    VirtioDriver(AddressSpace as, long bar, long desc, long avail, long used) {
        this.as = as;
        this.bar = bar;
        this.desc = desc;
        this.avail = avail;
        this.used = used;
    }

    /** Reset, set up queue 0 with MSI-X vector 0 (to {@code msiAddr}, data {@code msiData}), DRIVER_OK. */
    void init(long msiAddr, int msiData) {
        as.stb(bar + COMMON + VirtioPciBlk.STATUS, 0);
        as.stb(bar + COMMON + VirtioPciBlk.STATUS, 1 | 2); // ACKNOWLEDGE | DRIVER
        as.stlLe(bar + VirtioPciBlk.MSIX_TABLE, (int) msiAddr);
        as.stlLe(bar + VirtioPciBlk.MSIX_TABLE + 4, (int) (msiAddr >>> 32));
        as.stlLe(bar + VirtioPciBlk.MSIX_TABLE + 8, msiData);
        as.stlLe(bar + VirtioPciBlk.MSIX_TABLE + 12, 0); // unmask
        as.stwLe(bar + COMMON + VirtioPciBlk.Q_SELECT, 0);
        as.stwLe(bar + COMMON + VirtioPciBlk.Q_SIZE, queueSize);
        as.stwLe(bar + COMMON + VirtioPciBlk.Q_MSIX, 0);
        setRings();
        as.stwLe(bar + COMMON + VirtioPciBlk.Q_ENABLE, 1);
        as.stb(bar + COMMON + VirtioPciBlk.STATUS, 1 | 2 | 8 | VirtioPciBlk.STATUS_DRIVER_OK);
    }

    private void setRings() {
        as.set(desc, (byte) 0, 16L * queueSize, dev.guestmem.access.MemTxAttrs.UNSPECIFIED);
        as.set(avail, (byte) 0, 6 + 2L * queueSize, dev.guestmem.access.MemTxAttrs.UNSPECIFIED);
        as.set(used, (byte) 0, 6 + 8L * queueSize, dev.guestmem.access.MemTxAttrs.UNSPECIFIED);
        nextDesc = 0;
        availIdx = 0;
        as.stlLe(bar + COMMON + VirtioPciBlk.Q_DESCLO, (int) (desc + ringIovaDelta));
        as.stlLe(bar + COMMON + VirtioPciBlk.Q_DESCHI, (int) ((desc + ringIovaDelta) >>> 32));
        as.stlLe(bar + COMMON + VirtioPciBlk.Q_AVAILLO, (int) (avail + ringIovaDelta));
        as.stlLe(bar + COMMON + VirtioPciBlk.Q_AVAILHI, (int) ((avail + ringIovaDelta) >>> 32));
        as.stlLe(bar + COMMON + VirtioPciBlk.Q_USEDLO, (int) (used + ringIovaDelta));
        as.stlLe(bar + COMMON + VirtioPciBlk.Q_USEDHI, (int) ((used + ringIovaDelta) >>> 32));
    }

    /** A request header (virtio_blk_outhdr) at {@code at}. */
    void header(long at, int type, long sector) {
        as.stlLe(at, type);
        as.stlLe(at + 4, 0);
        as.stqLe(at + 8, sector);
    }

    /**
     * Posts a chain: {@code bufs} is addr, len, writable (0/1) triples.
     *
     * @return the head descriptor's index
     */
    int post(long... bufs) {
        int head = nextDesc;
        for (int i = 0; i < bufs.length; i += 3) {
            int d = nextDesc++ % queueSize;
            long at = desc + 16L * d;
            as.stqLe(at, bufs[i]);
            as.stlLe(at + 8, (int) bufs[i + 1]);
            boolean last = i + 3 >= bufs.length;
            as.stwLe(at + 12, (last ? 0 : VringCaches.F_NEXT) | (bufs[i + 2] != 0 ? VringCaches.F_WRITE : 0));
            as.stwLe(at + 14, last ? 0 : (d + 1) % queueSize);
        }
        as.stwLe(avail + 4 + 2L * (availIdx % queueSize), head % queueSize);
        availIdx = (availIdx + 1) & 0xffff;
        as.stwLe(avail + 2, availIdx); // the device may see it from here on
        return head % queueSize;
    }

    /** The doorbell: the queue's index written at its notify address. */
    int kick() {
        return as.stwLe(bar + VirtioPciBlk.NOTIFY, 0);
    }

    int usedIdx() {
        return as.lduwLe(used + 2);
    }

    /** @return {id, len} of used element {@code i} */
    int[] usedElem(int i) {
        long at = used + 4 + 8L * (i % queueSize);
        return new int[] {as.ldlLe(at), as.ldlLe(at + 4)};
    }
}
