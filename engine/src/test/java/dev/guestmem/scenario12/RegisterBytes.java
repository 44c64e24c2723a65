package dev.guestmem.scenario12;

import dev.guestmem.region.Endianness;
import dev.guestmem.region.MemoryRegionOps;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A device whose registers are bytes, read and written in the device's own byte order: a
 * {@code size}-byte callback at {@code addr} is the number formed by bytes {@code addr ..
 * addr + size - 1}, most significant first for a big-endian device. Such a device looks like RAM
 * to the CPU through QEMU's access rules, whatever its order and sizes (splitting and combining
 * preserve the bytes), except that a write widened to {@code impl.min} also writes the bytes past
 * the access (zeros): the oracle's {@link BoardModel} relies on exactly that. Every callback is
 * logged as {@code "r@addr/size=value"} or {@code "w@addr/size=value"} (hex).
 */
final class RegisterBytes {
    private final byte[] bytes;
    private final boolean big;
    private final List<String> calls = new ArrayList<>();

    /**
     * @param size register file size
     * @param order the order the device model itself believes in (for a NATIVE device: the target's)
     */
    RegisterBytes(int size, ByteOrder order) {
        this.bytes = new byte[size];
        this.big = order == ByteOrder.BIG_ENDIAN;
    }

    /** Ops with this device's callbacks, as the board declares them. */
    MemoryRegionOps ops(Endianness declared, int validMin, int validMax, int implMin, int implMax) {
        return MemoryRegionOps.builder()
                .read(this::read)
                .write(this::write)
                .valid(validMin, validMax, false)
                .impl(implMin, implMax, false)
                .endianness(declared)
                .build();
    }

    synchronized long read(long addr, int size) {
        long v = 0;
        for (int i = 0; i < size; i++) {
            long b = bytes[(int) addr + i] & 0xffL;
            v |= b << (8 * (big ? size - 1 - i : i));
        }
        calls.add("r@" + addr + "/" + size + "=" + Long.toHexString(v));
        return v;
    }

    synchronized void write(long addr, long data, int size) {
        calls.add("w@" + addr + "/" + size + "=" + Long.toHexString(data));
        for (int i = 0; i < size; i++) {
            bytes[(int) addr + i] = (byte) (data >>> (8 * (big ? size - 1 - i : i)));
        }
    }

    /** The calls since the last time, then forgets them. */
    synchronized List<String> takeCalls() {
        List<String> out = List.copyOf(calls);
        calls.clear();
        return out;
    }

    synchronized byte[] snapshot() {
        return bytes.clone();
    }

    /** Bytes {@code 01 02 03 ...}: the register at offset {@code a} holds {@code a + 1} in byte {@code a}. */
    synchronized void fillPattern() {
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i + 1);
        }
    }

    synchronized void fill(long seed) {
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (seed * 31 + i * 7);
        }
    }
}
