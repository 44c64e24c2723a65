package dev.guestmem.internal;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The unaligned 2-, 4- and 8-byte layouts in each byte order, for the engine's guest accesses
 * ({@code _le}/{@code _be} forms). One home, so the access path, the SIGBUS fence and the vCPU TLB
 * share the same constants (static finals: C2 folds them wherever they are read), and the host's
 * byte order with them.
 */
public final class ByteOrderLayouts {
    /**
     * Whether the host is big-endian: the byte-order flag of a host-order ({@code _he}) access. The
     * engine's one definition (a static final, so the hot paths fold their byte-order tests away).
     */
    public static final boolean HOST_BIG = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;
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
