package dev.guestmem.region;

/**
 * A reusable out-parameter for {@link MemoryRegionOps.ReadWithAttrs}: the device stores the value
 * it read here and returns a {@link dev.guestmem.access.MemTxResult}. One instance per accessing
 * thread, so the access path allocates nothing.
 */
public final class MmioValue {
    /** The value read, in the low {@code size} bytes. */
    public long value;
}
