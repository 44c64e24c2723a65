package dev.guestmem.scenario9;

import dev.guestmem.ioeventfd.Ioeventfd;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Map.Entry;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A fake KVM: a memslot table with the kernel's rules, dirty logs, ioeventfds and coalesced-MMIO
 * zones, and a vCPU store path that writes guest RAM straight into a slot's host memory (bypassing
 * guestmem, as a real guest does) or exits to the VMM.
 *
 * <p>The read-write lock plays KVM's SRCU over the slot table: a vCPU store holds it for reading
 * while it finds its slot and stores, and {@link #update} holds it for writing, so no store lands
 * through a slot once the update that removed it has returned (and no vCPU sees a batch half done,
 * which QEMU's {@code kvm_region_commit} gets by inhibiting the vCPUs).
 */
final class FakeKvm {
    static final int PAGE_BITS = 12;
    static final long PAGE_SIZE = 1L << PAGE_BITS;

    /** Any breach of the kernel's rules (KVM answers -EINVAL, -EEXIST, -ENOSPC and QEMU aborts). */
    static final class KvmError extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        KvmError(String message) {
            super(message);
        }
    }

    private final int maxSlots;
    private final ReentrantReadWriteLock srcu = new ReentrantReadWriteLock();
    private final TreeMap<Long, MemSlot> byBase = new TreeMap<>(Long::compareUnsigned);
    private final Map<Integer, MemSlot> byId = new HashMap<>();
    private final List<Ioeventfd> ioeventfds = new ArrayList<>();
    private final Map<List<Long>, Integer> coalesced = new HashMap<>();
    private int setCalls;

    FakeKvm(int maxSlots) {
        this.maxSlots = maxSlots;
    }

    /** Runs {@code batch} with the vCPUs kept out of the slot table. */
    void update(Runnable batch) {
        srcu.writeLock().lock();
        try {
            batch.run();
        } finally {
            srcu.writeLock().unlock();
        }
    }

    /**
     * KVM_SET_USER_MEMORY_REGION for a new slot.
     *
     * @return the slot
     */
    MemSlot createSlot(long guestBase, long size, MemorySegment host, boolean readonly, boolean logDirty) {
        srcu.writeLock().lock();
        try {
            setCalls++;
            checkAligned("guest address", guestBase);
            checkAligned("size", size);
            checkAligned("host address", host.address());
            if (size == 0 || host.byteSize() != size) {
                throw new KvmError("bad slot size 0x" + Long.toHexString(size));
            }
            if (Long.compareUnsigned(guestBase + size - 1, guestBase) < 0) {
                throw new KvmError("slot wraps");
            }
            if (byId.size() >= maxSlots) {
                throw new KvmError("no free slot (" + maxSlots + " in use)");
            }
            for (MemSlot s : byBase.values()) {
                if (Long.compareUnsigned(guestBase, s.end()) < 0
                        && Long.compareUnsigned(s.guestBase, guestBase + size) < 0) {
                    throw new KvmError(String.format("slot 0x%x+0x%x overlaps %s", guestBase, size, s));
                }
            }
            int id = 0;
            while (byId.containsKey(id)) {
                id++;
            }
            MemSlot slot = new MemSlot(id, guestBase, size, host, readonly);
            slot.setLogDirty(logDirty);
            byId.put(id, slot);
            byBase.put(guestBase, slot);
            return slot;
        } finally {
            srcu.writeLock().unlock();
        }
    }

    /** KVM_SET_USER_MEMORY_REGION with size 0. */
    void deleteSlot(int id) {
        srcu.writeLock().lock();
        try {
            setCalls++;
            MemSlot s = byId.remove(id);
            if (s == null) {
                throw new KvmError("no slot " + id);
            }
            byBase.remove(s.guestBase);
        } finally {
            srcu.writeLock().unlock();
        }
    }

    /** KVM_SET_USER_MEMORY_REGION on an existing slot, same geometry: only the log flag may change. */
    void setSlotLogging(int id, boolean logDirty) {
        srcu.writeLock().lock();
        try {
            setCalls++;
            MemSlot s = byId.get(id);
            if (s == null) {
                throw new KvmError("no slot " + id);
            }
            s.setLogDirty(logDirty);
        } finally {
            srcu.writeLock().unlock();
        }
    }

    /** The slot at {@code guestBase} of exactly {@code size} bytes, or null. */
    MemSlot slotAt(long guestBase, long size) {
        srcu.readLock().lock();
        try {
            MemSlot s = byBase.get(guestBase);
            return s != null && s.size == size ? s : null;
        } finally {
            srcu.readLock().unlock();
        }
    }

    /** The slots, in address order (a copy). */
    List<MemSlot> slots() {
        srcu.readLock().lock();
        try {
            return List.copyOf(byBase.values());
        } finally {
            srcu.readLock().unlock();
        }
    }

    int setCalls() {
        srcu.readLock().lock();
        try {
            return setCalls;
        } finally {
            srcu.readLock().unlock();
        }
    }

    /**
     * A vCPU's 8-byte store at an 8-aligned guest address: through a writable slot straight into host
     * memory (marking the slot's dirty log), or not at all (an MMIO exit: the caller hands it to the
     * VMM).
     *
     * @return the slot stored through, or null for an exit
     */
    MemSlot vcpuStore(long addr, long value) {
        srcu.readLock().lock();
        try {
            Entry<Long, MemSlot> e = byBase.floorEntry(addr);
            if (e == null || !e.getValue().contains(addr) || e.getValue().readonly) {
                return null;
            }
            MemSlot s = e.getValue();
            long off = addr - s.guestBase;
            s.host.set(ValueLayout.JAVA_LONG_UNALIGNED, off, value);
            s.markDirty(off >>> PAGE_BITS);
            return s;
        } finally {
            srcu.readLock().unlock();
        }
    }

    /** KVM_IOEVENTFD assign; KVM refuses a duplicate. */
    synchronized void assignIoeventfd(Ioeventfd fd) {
        if (ioeventfds.contains(fd)) {
            throw new KvmError("ioeventfd already assigned: " + fd);
        }
        ioeventfds.add(fd);
    }

    /** KVM_IOEVENTFD deassign; KVM refuses one it does not hold. */
    synchronized void deassignIoeventfd(Ioeventfd fd) {
        if (!ioeventfds.remove(fd)) {
            throw new KvmError("ioeventfd not assigned: " + fd);
        }
    }

    synchronized List<Ioeventfd> ioeventfds() {
        return List.copyOf(ioeventfds);
    }

    /** KVM_REGISTER_COALESCED_MMIO. */
    synchronized void registerCoalesced(long addr, long size) {
        coalesced.merge(List.of(addr, size), 1, Integer::sum);
    }

    /** KVM_UNREGISTER_COALESCED_MMIO; refuses a zone it does not hold. */
    synchronized void unregisterCoalesced(long addr, long size) {
        List<Long> key = List.of(addr, size);
        Integer n = coalesced.get(key);
        if (n == null) {
            throw new KvmError(String.format("no coalesced zone 0x%x+0x%x", addr, size));
        }
        if (n == 1) {
            coalesced.remove(key);
        } else {
            coalesced.put(key, n - 1);
        }
    }

    synchronized Map<List<Long>, Integer> coalescedZones() {
        return Map.copyOf(coalesced);
    }

    private static void checkAligned(String what, long value) {
        if ((value & (PAGE_SIZE - 1)) != 0) {
            throw new KvmError(what + " 0x" + Long.toHexString(value) + " is not page aligned");
        }
    }
}
