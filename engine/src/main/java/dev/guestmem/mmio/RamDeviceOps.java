package dev.guestmem.mmio;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.internal.ByteOrderLayouts;
import dev.guestmem.internal.SigbusFence;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * QEMU's {@code ram_device_mem_ops}: RAM device memory (a device BAR backed by host memory) is
 * accessed like MMIO so that every guest access becomes one host access of the same size, never a
 * {@code memcpy}: host-endian, valid and implemented sizes 1 to 8, unaligned allowed.
 *
 * <p>Memory that can SIGBUS ({@link RamBlock#canFault()}: a file truncated under the mapping, a
 * host segment such as a BAR whose device memory was disabled) is accessed through
 * {@link SigbusFence}, a real call, so the fault surfaces here even once the JIT has inlined the
 * callback into a hot access loop: the access answers {@link MemTxResult#ERROR} and the block is
 * broken ({@link RamBlock#reportFault}), as for RAM over such a block, instead of an
 * {@code InternalError} thrown out of the access.
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
                .readWithAttrs((addr, size, attrs, out) -> load(block, seg, addr, size, out))
                .endianness(Endianness.host()) // DEVICE_HOST_ENDIAN: not the target's order
                .valid(1, 8, true)
                .impl(1, 8, true);
        if (block.isReadOnly()) {
            // No store can reach read-only host memory: no write callback, so a guest write is
            // DECODE_ERROR as one to ROM (QEMU's unassigned_mem_accepts), not a store that throws
            // and logs a stack trace each time the guest tries
            return ops.build();
        }
        return ops.writeWithAttrs((addr, data, size, attrs) -> store(block, seg, addr, size, data)).build();
    }

    /** One load; checked per access, as a hold makes any block fault-prone for a while. */
    private static int load(RamBlock block, MemorySegment seg, long addr, int size, MmioValue out) {
        if (!block.canFault()) {
            out.value = switch (size) {
                case 1 -> Byte.toUnsignedLong(seg.get(ValueLayout.JAVA_BYTE, addr));
                case 2 -> Short.toUnsignedLong(seg.get(SHORT, addr));
                case 4 -> Integer.toUnsignedLong(seg.get(INT, addr));
                default -> seg.get(LONG, addr);
            };
            return MemTxResult.OK;
        }
        out.value = 0;
        if (block.isBroken()) { // a fault is final: the page may read again (a hole), but the data are gone
            return MemTxResult.ERROR;
        }
        try {
            out.value = SigbusFence.get(seg, addr, size, ByteOrderLayouts.HOST_BIG);
            return MemTxResult.OK;
        } catch (InternalError sigbus) {
            block.reportFault(addr, size, sigbus);
            return MemTxResult.ERROR;
        }
    }

    /** One store; see {@link #load}. */
    private static int store(RamBlock block, MemorySegment seg, long addr, int size, long data) {
        if (!block.canFault()) {
            switch (size) {
                case 1 -> seg.set(ValueLayout.JAVA_BYTE, addr, (byte) data);
                case 2 -> seg.set(SHORT, addr, (short) data);
                case 4 -> seg.set(INT, addr, (int) data);
                default -> seg.set(LONG, addr, data);
            }
            return MemTxResult.OK;
        }
        if (block.isBroken()) {
            return MemTxResult.ERROR;
        }
        try {
            SigbusFence.set(seg, addr, size, ByteOrderLayouts.HOST_BIG, data);
            return MemTxResult.OK;
        } catch (InternalError sigbus) {
            block.reportFault(addr, size, sigbus);
            return MemTxResult.ERROR;
        }
    }
}
