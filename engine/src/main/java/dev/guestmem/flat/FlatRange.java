package dev.guestmem.flat;

import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;

/**
 * One range of a {@link FlatView}: the addresses {@code [start, last]} of an address space are served
 * by the terminal region {@code region} from {@code offsetInRegion} on. As QEMU's {@code FlatRange}.
 *
 * <p>Addresses are unsigned 64-bit. A range is never empty; {@code last} is inclusive so that a range
 * ending at 2^64 - 1 (or covering all 2^64 addresses) needs no 65th bit.
 *
 * @param start first address (unsigned)
 * @param last last address, inclusive (unsigned, {@code >= start})
 * @param region the terminal region (never an alias or pure container)
 * @param offsetInRegion offset in {@code region} of {@code start}
 * @param readonly inherited read-only (ORed down the render path)
 * @param nonvolatile inherited non-volatile
 * @param romdMode the region's own ROMD mode at render time
 * @param unmergeable inherited unmergeable
 * @param dirtyLogMask dirty-log clients active for the region at render time
 */
public record FlatRange(long start, long last, MemoryRegion region, long offsetInRegion, boolean readonly,
                        boolean nonvolatile, boolean romdMode, boolean unmergeable, int dirtyLogMask) {

    /** @return the size; 0 stands for 2^64 (the range that covers everything) */
    public long size() {
        return last - start + 1;
    }

    /** @return the end (exclusive) as a 128-bit value: 2^64 for a range reaching the top */
    public Int128 end() {
        return Int128.ofUnsigned(last).addUnsigned(1);
    }

    /**
     * @param regionOffset an offset in {@link #region}
     * @return the guest address that offset has under this range's mapping (may lie outside the
     *     range, below 0 or at 2^64 and above)
     */
    public Int128 addressOf(long regionOffset) {
        return Int128.ofUnsigned(start).subUnsigned(offsetInRegion).addUnsigned(regionOffset);
    }

    /**
     * @param addr an address (unsigned)
     * @return whether {@code start <= addr <= last}
     */
    public boolean contains(long addr) {
        return Long.compareUnsigned(addr, start) >= 0 && Long.compareUnsigned(addr, last) <= 0;
    }
}
