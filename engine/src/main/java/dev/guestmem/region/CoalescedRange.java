package dev.guestmem.region;

/**
 * QEMU's {@code CoalescedMemoryRange}: a window of a region whose MMIO writes an accelerator may
 * buffer and deliver later ({@link MemoryRegion#addCoalescing}).
 *
 * @param offset first byte, in the region (unsigned)
 * @param size length in bytes (unsigned, not 0; {@code -1L} stands for 2^64)
 */
public record CoalescedRange(long offset, long size) {
    /** @return the end, exclusive, as a 128-bit value */
    public Int128 end() {
        return Int128.ofUnsigned(offset).add(Int128.ofSize(size));
    }
}
