package dev.guestmem.region;

import dev.guestmem.internal.ByteOrderLayouts;

/** Byte order of a device's registers, as QEMU's {@code enum device_endian}. */
public enum Endianness {
    /** Little-endian device ({@code DEVICE_LITTLE_ENDIAN}). */
    LITTLE,
    /** Big-endian device ({@code DEVICE_BIG_ENDIAN}). */
    BIG,
    /**
     * The target's byte order ({@code DEVICE_NATIVE_ENDIAN}): a region resolves it to its system's
     * {@link dev.guestmem.MemorySystem#targetOrder()} (the host's unless the system was created for
     * another), so its {@link MemoryRegion#ops()} answer {@link #LITTLE} or {@link #BIG}.
     */
    NATIVE;

    /** @return the host's byte order, {@link #LITTLE} or {@link #BIG} (QEMU's {@code DEVICE_HOST_ENDIAN}) */
    public static Endianness host() {
        return ByteOrderLayouts.HOST_BIG ? BIG : LITTLE;
    }

    /**
     * @param order a byte order
     * @return {@link #BIG} or {@link #LITTLE}
     * @throws NullPointerException if {@code order} is null
     */
    public static Endianness of(java.nio.ByteOrder order) {
        return java.util.Objects.requireNonNull(order, "order") == java.nio.ByteOrder.BIG_ENDIAN ? BIG : LITTLE;
    }
}
