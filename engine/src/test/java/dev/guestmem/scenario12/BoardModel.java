package dev.guestmem.scenario12;

import java.util.function.Supplier;

/**
 * The oracle of the board's accesses: for each window the CPU can reach, the bytes behind it and the
 * rules QEMU applies on the way. A register file of {@link RegisterBytes} behaves as memory through
 * splitting and combining; a write narrower than the device's {@code impl.min} also zeroes the bytes
 * up to it; devices and the bridge take only aligned accesses; through the swapping bridge a
 * multi-byte value is seen in the opposite order. Nothing here calls the engine.
 */
final class BoardModel {
    /** One window: a guest base, the model bytes behind it, and the rules on the way. */
    record Window(String name, long base, byte[] model, int span, int implMin, boolean alignedOnly, boolean swapped,
                  boolean behindDirectAlias, Supplier<byte[]> actual) {
    }

    private BoardModel() {
    }

    /** Whether the window refuses the access ({@code DECODE_ERROR}, nothing called or written). */
    static boolean refused(Window w, long off, int size, boolean directAliasEnabled) {
        return (w.alignedOnly() && (off & (size - 1)) != 0) || (w.behindDirectAlias() && !directAliasEnabled);
    }

    /** The value a load of {@code size} bytes at {@code off} in order {@code big} returns. */
    static long load(Window w, long off, int size, boolean big) {
        boolean b = w.swapped() ? !big : big;
        long v = 0;
        for (int i = 0; i < size; i++) {
            long x = w.model()[(int) off + i] & 0xffL;
            v |= x << (8 * (b ? size - 1 - i : i));
        }
        return v;
    }

    /** Applies a store of the low {@code size} bytes of {@code v} in order {@code big}. */
    static void store(Window w, long off, int size, long v, boolean big) {
        boolean b = w.swapped() ? !big : big;
        for (int i = 0; i < size; i++) {
            w.model()[(int) off + i] = (byte) (v >>> (8 * (b ? size - 1 - i : i)));
        }
        for (int i = size; i < w.implMin(); i++) {
            w.model()[(int) off + i] = 0; // access_with_adjusted_size widened the write
        }
    }
}
