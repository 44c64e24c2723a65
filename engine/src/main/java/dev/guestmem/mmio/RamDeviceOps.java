package dev.guestmem.mmio;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * QEMU's {@code ram_device_mem_ops}: RAM device memory (a device BAR backed by host memory) is
 * accessed like MMIO so that every guest access becomes one host access of the same size, never a
 * {@code memcpy}: host-endian, valid and implemented sizes 1 to 8, unaligned allowed.
 *
 * <p><b>Thread safety.</b> The ops are immutable; accesses are single loads and stores.
 */
public final class RamDeviceOps {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    private RamDeviceOps() {
    }

    /**
     * Builds the ops of one RAM device block.
     *
     * @param block the block
     * @return ops that load and store its memory with the access's size (load only for a read-only
     *     block: its writes answer {@code DECODE_ERROR})
     */
    public static MemoryRegionOps of(RamBlock block) {
        MemorySegment seg = block.segment();
        MemoryRegionOps.Builder ops = MemoryRegionOps.builder()
                .read((addr, size) -> switch (size) {
                    case 1 -> Byte.toUnsignedLong(seg.get(ValueLayout.JAVA_BYTE, addr));
                    case 2 -> Short.toUnsignedLong(seg.get(SHORT, addr));
                    case 4 -> Integer.toUnsignedLong(seg.get(INT, addr));
                    default -> seg.get(LONG, addr);
                })
                .endianness(Endianness.NATIVE)
                .valid(1, 8, true)
                .impl(1, 8, true);
        if (block.isReadOnly()) {
            // No store can reach read-only host memory: no write callback, so a guest write is
            // DECODE_ERROR as one to ROM (QEMU's unassigned_mem_accepts), not a store that throws
            // and logs a stack trace each time the guest tries
            return ops.build();
        }
        return ops
                .write((addr, data, size) -> {
                    switch (size) {
                        case 1 -> seg.set(ValueLayout.JAVA_BYTE, addr, (byte) data);
                        case 2 -> seg.set(SHORT, addr, (short) data);
                        case 4 -> seg.set(INT, addr, (int) data);
                        default -> seg.set(LONG, addr, data);
                    }
                })
                .build();
    }
}
