package dev.guestmem.region;

/** Byte order of a device's registers, as QEMU's {@code enum device_endian}. */
public enum Endianness {
    /** Little-endian device ({@code DEVICE_LITTLE_ENDIAN}). */
    LITTLE,
    /** Big-endian device ({@code DEVICE_BIG_ENDIAN}). */
    BIG,
    /** The target's byte order ({@code DEVICE_NATIVE_ENDIAN}); guestmem takes it as the host's. */
    NATIVE
}
