package dev.guestmem.scenario9;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One memory slot of the {@link FakeKvm} kernel (KVM's {@code kvm_memory_slot}): guest pages
 * {@code [guestBase, guestBase + size)} backed by {@code host}, with the slot's dirty bitmap while it
 * logs. The geometry and the read-only flag are fixed for the slot's life, as in KVM; only dirty
 * logging may be switched in place.
 */
final class MemSlot {
    final int id;
    final long guestBase;
    final long size;
    final MemorySegment host;
    final boolean readonly;
    /** One bit per page, set by vCPU stores; null while the slot does not log. */
    private volatile AtomicLongArray dirty;

    MemSlot(int id, long guestBase, long size, MemorySegment host, boolean readonly) {
        this.id = id;
        this.guestBase = guestBase;
        this.size = size;
        this.host = host;
        this.readonly = readonly;
    }

    long pages() {
        return size >>> FakeKvm.PAGE_BITS;
    }

    boolean logsDirty() {
        return dirty != null;
    }

    /** KVM_MEM_LOG_DIRTY_PAGES on or off; a new log starts clean, as KVM allocates a zeroed bitmap. */
    void setLogDirty(boolean on) {
        if (on && dirty == null) {
            dirty = new AtomicLongArray((int) ((pages() + 63) >>> 6));
        } else if (!on) {
            dirty = null;
        }
    }

    void markDirty(long page) {
        AtomicLongArray d = dirty;
        if (d != null) {
            long bit = 1L << (page & 63);
            d.getAndUpdate((int) (page >>> 6), w -> w | bit);
        }
    }

    /** KVM_GET_DIRTY_LOG under manual protection: a copy, nothing cleared. */
    long[] dirtyLog() {
        AtomicLongArray d = dirty;
        if (d == null) {
            throw new FakeKvm.KvmError("slot " + id + " does not log dirty pages");
        }
        long[] copy = new long[d.length()];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = d.get(i);
        }
        return copy;
    }

    /** KVM_CLEAR_DIRTY_LOG: clears exactly the bits given (bit i is page i of the slot). */
    void clearDirtyLog(long[] bits) {
        AtomicLongArray d = dirty;
        if (d == null) {
            return;
        }
        for (int i = 0; i < bits.length && i < d.length(); i++) {
            if (bits[i] != 0) {
                long keep = ~bits[i];
                d.getAndUpdate(i, w -> w & keep);
            }
        }
    }

    boolean contains(long addr) {
        return Long.compareUnsigned(addr - guestBase, size) < 0;
    }

    long end() {
        return guestBase + size;
    }

    @Override
    public String toString() {
        return String.format("slot%d[0x%x+0x%x%s%s host=0x%x]", id, guestBase, size, readonly ? " ro" : "",
                logsDirty() ? " log" : "", host.address());
    }
}
