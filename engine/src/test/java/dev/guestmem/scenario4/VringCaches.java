package dev.guestmem.scenario4;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;

/**
 * QEMU's {@code VRingMemoryRegionCaches}: one {@link MemoryRegionCache} per ring of a split
 * virtqueue (descriptor table, avail ring, used ring), and the ring-field accessors virtio.c builds
 * on them ({@code vring_avail_idx}, {@code vring_split_desc_read}, {@code vring_used_write}...).
 * A failed access is remembered ({@link #failed()}) so the device can stop, as virtio_error does.
 */
final class VringCaches {
    static final int F_NEXT = 1;
    static final int F_WRITE = 2;
    /** The attributes of the device's ring accesses (a bus master's, not a CPU's). */
    static final MemTxAttrs ATTRS = MemTxAttrs.NONE;

    final MemoryRegionCache desc = new MemoryRegionCache();
    final MemoryRegionCache avail = new MemoryRegionCache();
    final MemoryRegionCache used = new MemoryRegionCache();
    private final MemTxResultHolder res = new MemTxResultHolder();
    private int result;

    /**
     * virtio_init_region_cache: every ring must be cached whole, or the queue is unusable.
     *
     * @return whether all three rings are usable
     */
    boolean init(AddressSpace as, long descAddr, long availAddr, long usedAddr, int size) {
        result = MemTxResult.OK;
        long dl = 16L * size;
        long al = 4 + 2L * size + 2;
        long ul = 4 + 8L * size + 2;
        boolean ok = desc.init(as, descAddr, dl, false) == dl;
        ok &= avail.init(as, availAddr, al, false) == al;
        ok &= used.init(as, usedAddr, ul, true) == ul;
        if (!ok) {
            destroy();
        }
        return ok;
    }

    void destroy() {
        desc.destroy();
        avail.destroy();
        used.destroy();
    }

    boolean failed() {
        return result != MemTxResult.OK;
    }

    private int check(int v) {
        result |= res.get();
        return v;
    }

    int availIdx() {
        if (avail.length() == 0) {
            result |= MemTxResult.ERROR;
            return 0;
        }
        return check(avail.lduwLe(2, ATTRS, res));
    }

    int availRing(int slot) {
        return check(avail.lduwLe(4 + 2L * slot, ATTRS, res));
    }

    /** @return addr, len, flags, next */
    long[] desc(int i) {
        long off = 16L * i;
        long addr = desc.ldqLe(off, ATTRS, res);
        result |= res.get();
        long len = check(desc.ldlLe(off + 8, ATTRS, res)) & 0xffffffffL;
        int flags = check(desc.lduwLe(off + 12, ATTRS, res));
        int next = check(desc.lduwLe(off + 14, ATTRS, res));
        return new long[] {addr, len, flags, next};
    }

    /** vring_used_write, then address_space_cache_invalidate so the store is logged. */
    void pushUsed(int slot, int id, int len) {
        long off = 4 + 8L * slot;
        result |= used.stlLe(off, id, ATTRS);
        result |= used.stlLe(off + 4, len, ATTRS);
        used.invalidate(off, 8);
    }

    void setUsedIdx(int idx) {
        result |= used.stwLe(2, idx, ATTRS);
        used.invalidate(2, 2);
    }
}
