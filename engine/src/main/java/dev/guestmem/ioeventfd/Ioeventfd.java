package dev.guestmem.ioeventfd;

import java.util.Objects;

/**
 * QEMU's {@code MemoryRegionIoeventfd}: "a write of {@code size} bytes at {@code addr}, carrying
 * {@code data} if {@code matchData}, signals {@code notifier}". Held by a region (with {@code addr}
 * an offset in it) and, shifted to guest addresses, by an address space for its listeners.
 *
 * <p>{@code size} 0 is QEMU's wildcard: any write at {@code addr} matches, whatever its size or data.
 * {@code data} is in the device's byte order (the region converts it when the eventfd is added).
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param addr first byte (unsigned)
 * @param size 0 (any write at {@code addr}), 1, 2, 4 or 8
 * @param matchData whether {@code data} must match
 * @param data the value to match (ignored unless {@code matchData})
 * @param notifier what a matching write signals
 */
public record Ioeventfd(long addr, int size, boolean matchData, long data, EventNotifier notifier) {
    /**
     * Checks the fields.
     *
     * @throws IllegalArgumentException if {@code size} is not 0, 1, 2, 4 or 8
     * @throws NullPointerException if {@code notifier} is null
     */
    public Ioeventfd {
        if (size != 0 && size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("ioeventfd size must be 0, 1, 2, 4 or 8, not " + size);
        }
        Objects.requireNonNull(notifier, "notifier");
    }

    /**
     * QEMU's {@code memory_region_ioeventfd_before}: the total order regions and address spaces keep
     * their lists in. By address, size, match flag, data (only when matching, unsigned), notifier.
     *
     * @param a an eventfd
     * @param b an eventfd
     * @return whether {@code a} sorts strictly before {@code b}
     */
    public static boolean before(Ioeventfd a, Ioeventfd b) {
        int c = Long.compareUnsigned(a.addr, b.addr);
        if (c != 0) {
            return c < 0;
        }
        if (a.size != b.size) {
            return a.size < b.size;
        }
        if (a.matchData != b.matchData) {
            return !a.matchData;
        }
        if (a.matchData && a.data != b.data) {
            return Long.compareUnsigned(a.data, b.data) < 0;
        }
        return a.notifier.id() < b.notifier.id();
    }

    /**
     * QEMU's {@code memory_region_ioeventfd_equal}: same address and, unless either size is the
     * wildcard 0, same size, match flag, data (when matching) and notifier. Not an equivalence: a
     * wildcard equals everything at its address.
     *
     * @param a an eventfd
     * @param b an eventfd
     * @return whether QEMU takes them as the same eventfd
     */
    public static boolean sameAs(Ioeventfd a, Ioeventfd b) {
        return a.addr == b.addr
                && (a.size == 0 || b.size == 0
                    || (a.size == b.size && a.matchData == b.matchData
                        && (!a.matchData || a.data == b.data) && a.notifier == b.notifier));
    }

    /**
     * Whether a guest write matches ({@code memory_region_dispatch_write_eventfds}): the write is
     * compared as an eventfd with this one's match flag and notifier.
     *
     * @param writeAddr the write's offset (same space as {@link #addr})
     * @param writeSize its size
     * @param value its value, in the device's byte order
     * @return whether the write signals this eventfd
     */
    public boolean matchesWrite(long writeAddr, int writeSize, long value) {
        return addr == writeAddr && (size == 0 || (size == writeSize && (!matchData || data == value)));
    }

    /**
     * @param newAddr the address in another space
     * @return this eventfd at {@code newAddr}
     */
    public Ioeventfd at(long newAddr) {
        return new Ioeventfd(newAddr, size, matchData, data, notifier);
    }
}
