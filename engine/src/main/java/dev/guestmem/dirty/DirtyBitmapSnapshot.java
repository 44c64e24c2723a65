package dev.guestmem.dirty;

import java.util.function.LongConsumer;

/**
 * An immutable copy of one client's dirty bits over a window of ram_addr space, taken by {@link
 * DirtyMemory#snapshotAndClearDirty} (QEMU's {@code DirtyBitmapSnapshot}): {@code start} and
 * {@code end} are the window rounded down and up to {@link DirtyMemory#SNAPSHOT_ALIGN} (64 pages),
 * bit {@code i} is the page at {@code start + i * 4096}.
 *
 * <p>Incremental snapshots iterate the dirty pages without boxing:
 * {@snippet lang=java :
 * DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(block.offset(), block.usedLength(),
 *         DirtyMemory.DIRTY_MEMORY_MIGRATION);
 * snap.forEachDirtyPage(ramAddr -> writePage(ramAddr - block.offset()));
 * // or, without a lambda:
 * for (long a = snap.nextDirtyPage(snap.start()); a >= 0; a = snap.nextDirtyPage(a + 4096)) {
 *     writePage(a - block.offset());
 * }
 * }
 *
 * <p><b>Thread safety.</b> Immutable after construction; safe to share between threads once
 * published (its fields are final).
 */
public final class DirtyBitmapSnapshot {
    private final long start;
    private final long end;
    private final long[] bits;
    private final long dirtyPages;

    DirtyBitmapSnapshot(long start, long end, long[] bits, long dirtyPages) {
        this.start = start;
        this.end = end;
        this.bits = bits;
        this.dirtyPages = dirtyPages;
    }

    /**
     * Returns first ram_addr of the window (a multiple of {@link DirtyMemory#SNAPSHOT_ALIGN}).
     *
     * @return first ram_addr of the window (a multiple of {@link DirtyMemory#SNAPSHOT_ALIGN})
     */
    public long start() {
        return start;
    }

    /**
     * Returns ram_addr after the window (a multiple of {@link DirtyMemory#SNAPSHOT_ALIGN}).
     *
     * @return ram_addr after the window (a multiple of {@link DirtyMemory#SNAPSHOT_ALIGN})
     */
    public long end() {
        return end;
    }

    /**
     * Returns number of dirty pages in the snapshot.
     *
     * @return number of dirty pages in the snapshot
     */
    public long dirtyPageCount() {
        return dirtyPages;
    }

    /**
     * Tests whether any page of a sub-range was dirty ({@code memory_region_snapshot_get_dirty}):
     * pages {@code [ramAddr >> 12, alignUp(ramAddr + length) >> 12)}, as {@link DirtyMemory}.
     *
     * @param ramAddr first byte (ram_addr space)
     * @param length bytes
     * @return true if some page of the range is dirty in the snapshot
     * @throws IllegalArgumentException if the range does not lie inside {@code [start, end)}
     */
    public boolean getDirty(long ramAddr, long length) {
        if (Long.compareUnsigned(ramAddr, start) < 0 || Long.compareUnsigned(ramAddr, end) > 0
                || Long.compareUnsigned(length, end - ramAddr) > 0) {
            throw outside(ramAddr, length);
        }
        long page = (ramAddr - start) >>> DirtyMemory.TARGET_PAGE_BITS;
        long last = (ramAddr - start + length + DirtyMemory.TARGET_PAGE_SIZE - 1) >>> DirtyMemory.TARGET_PAGE_BITS;
        for (; page < last; page++) {
            if ((bits[(int) (page >>> 6)] & (1L << page)) != 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Calls {@code action} with the ram_addr of each dirty page, in ascending order.
     *
     * @param action receives page ram_addrs
     */
    public void forEachDirtyPage(LongConsumer action) {
        for (int w = 0; w < bits.length; w++) {
            long word = bits[w];
            while (word != 0) {
                int bit = Long.numberOfTrailingZeros(word);
                action.accept(start + ((((long) w << 6) + bit) << DirtyMemory.TARGET_PAGE_BITS));
                word &= word - 1;
            }
        }
    }

    /**
     * Finds the first dirty page at or after {@code ramAddr}: a primitive iterator, allocation-free.
     * An address before {@link #start()} starts the search at the window's start.
     *
     * @param ramAddr where to start (rounded down to its page)
     * @return the ram_addr of that page, or -1 if none
     */
    public long nextDirtyPage(long ramAddr) {
        if (bits.length == 0 || Long.compareUnsigned(ramAddr, end) >= 0) {
            return -1;
        }
        long page = Long.compareUnsigned(ramAddr, start) <= 0 ? 0 : (ramAddr - start) >>> DirtyMemory.TARGET_PAGE_BITS;
        int w = (int) (page >>> 6);
        long word = bits[w] & (-1L << page);
        while (true) {
            if (word != 0) {
                long p = ((long) w << 6) + Long.numberOfTrailingZeros(word);
                return start + (p << DirtyMemory.TARGET_PAGE_BITS);
            }
            if (++w == bits.length) {
                return -1;
            }
            word = bits[w];
        }
    }

    /**
     * Returns a copy of the bits: bit {@code i} of word {@code i >>> 6} is page {@code i} of the window.
     *
     * @return a copy of the bits: bit {@code i} of word {@code i >>> 6} is page {@code i} of the window
     */
    public long[] toLongArray() {
        return bits.clone();
    }

    @Override
    public String toString() {
        return "DirtyBitmapSnapshot[start=0x" + Long.toHexString(start) + ", end=0x" + Long.toHexString(end)
                + ", dirtyPages=" + dirtyPages + "]";
    }

    private IllegalArgumentException outside(long ramAddr, long length) {
        return new IllegalArgumentException("range ramAddr=0x" + Long.toHexString(ramAddr) + " length=0x"
                + Long.toHexString(length) + " not inside the snapshot [0x" + Long.toHexString(start) + ", 0x"
                + Long.toHexString(end) + ")");
    }
}
