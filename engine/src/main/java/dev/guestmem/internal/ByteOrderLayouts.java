package dev.guestmem.internal;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The unaligned 2-, 4- and 8-byte layouts in each byte order, for the engine's guest accesses
 * ({@code _le}/{@code _be} forms). One home, so the access path, the SIGBUS fence and the vCPU TLB
 * share the same constants (static finals: C2 folds them wherever they are read).
 */
public final class ByteOrderLayouts {
    /** 2 bytes, little-endian, unaligned. */
    public static final ValueLayout.OfShort U16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** 2 bytes, big-endian, unaligned. */
    public static final ValueLayout.OfShort U16_BE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    /** 4 bytes, little-endian, unaligned. */
    public static final ValueLayout.OfInt U32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** 4 bytes, big-endian, unaligned. */
    public static final ValueLayout.OfInt U32_BE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    /** 8 bytes, little-endian, unaligned. */
    public static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** 8 bytes, big-endian, unaligned. */
    public static final ValueLayout.OfLong U64_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private ByteOrderLayouts() {
    }
}
