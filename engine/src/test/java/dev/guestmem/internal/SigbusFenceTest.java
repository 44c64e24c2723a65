package dev.guestmem.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * The one SIGBUS fence: its sized accesses and copies give what the plain segment accesses give,
 * its handles stay non-final (the whole point: a constant handle would be inlined through), and an
 * access's own exceptions come out unwrapped, as the callers' {@code catch} clauses expect.
 */
class SigbusFenceTest {
    private static final long PATTERN = 0x8877_6655_4433_2211L;

    @Test
    void handlesAreNonFinalStatics() {
        int handles = 0;
        for (Field f : SigbusFence.class.getDeclaredFields()) {
            if (f.getType() == MethodHandle.class) {
                handles++;
                assertTrue(Modifier.isStatic(f.getModifiers()), f.getName());
                assertFalse(Modifier.isFinal(f.getModifiers()), f.getName() + " must not be final: C2 would inline through it");
            }
        }
        assertTrue(handles > 0);
    }

    @Test
    void sizedLoadsMatchTheLayouts() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(32);
            for (int i = 0; i < 32; i++) {
                s.set(ValueLayout.JAVA_BYTE, i, (byte) (0x81 + i * 7)); // high bits set: zero extension shows
            }
            for (long off = 0; off < 9; off++) { // unaligned offsets too
                for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
                    boolean big = order == ByteOrder.BIG_ENDIAN;
                    assertEquals(Byte.toUnsignedLong(s.get(ValueLayout.JAVA_BYTE, off)), SigbusFence.get(s, off, 1, big));
                    assertEquals(Short.toUnsignedLong(s.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(order), off)),
                            SigbusFence.get(s, off, 2, big));
                    assertEquals(Integer.toUnsignedLong(s.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(order), off)),
                            SigbusFence.get(s, off, 4, big));
                    assertEquals(s.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order), off), SigbusFence.get(s, off, 8, big));
                    assertEquals(s.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order), off), SigbusFence.get(s, off, 3, big),
                            "any other size is 8");
                }
            }
        }
    }

    @Test
    void sizedStoresWriteOnlyTheLowBytesInOrder() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(16);
            for (int size : new int[] {1, 2, 4, 8}) {
                for (ByteOrder order : new ByteOrder[] {ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
                    s.fill((byte) 0);
                    SigbusFence.set(s, 3, size, order == ByteOrder.BIG_ENDIAN, PATTERN);
                    MemorySegment want = a.allocate(16);
                    for (int i = 0; i < size; i++) {
                        int shift = 8 * (order == ByteOrder.BIG_ENDIAN ? size - 1 - i : i);
                        want.set(ValueLayout.JAVA_BYTE, 3 + i, (byte) (PATTERN >>> shift));
                    }
                    assertEquals(-1, s.mismatch(want), "size " + size + " " + order);
                }
            }
        }
    }

    @Test
    void hostOrderIsNativeOrder() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8);
            SigbusFence.set(s, 0, 8, ByteOrderLayouts.HOST_BIG, PATTERN);
            assertEquals(PATTERN, s.get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
            assertEquals((int) PATTERN, (int) SigbusFence.get(s, 0, 4, ByteOrderLayouts.HOST_BIG));
        }
    }

    @Test
    void copiesMoveTheBytes() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(64);
            for (int i = 0; i < 64; i++) {
                src.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            MemorySegment dst = a.allocate(64);
            SigbusFence.copy(src, 5, dst, 9, 40);
            assertEquals(-1, MemorySegment.mismatch(src, 5, 45, dst, 9, 49));

            byte[] arr = new byte[50];
            SigbusFence.toArray(src, 7, arr, 3, 30);
            assertArrayEquals(src.asSlice(7, 30).toArray(ValueLayout.JAVA_BYTE), java.util.Arrays.copyOfRange(arr, 3, 33));

            MemorySegment back = a.allocate(64);
            SigbusFence.fromArray(arr, 3, back, 11, 30);
            assertEquals(-1, MemorySegment.mismatch(src, 7, 37, back, 11, 41));
        }
    }

    @Test
    void accessExceptionsComeOutUnwrapped() {
        MemorySegment closed;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(8);
            assertThrows(IndexOutOfBoundsException.class, () -> SigbusFence.get(s, 4, 8, false));
            assertThrows(IndexOutOfBoundsException.class, () -> SigbusFence.set(s, 7, 2, true, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> SigbusFence.toArray(s, 0, new byte[4], 0, 8));
            assertThrows(IndexOutOfBoundsException.class, () -> SigbusFence.fromArray(new byte[16], 0, s, 0, 16));
            assertThrows(IndexOutOfBoundsException.class, () -> SigbusFence.copy(s, 0, s, 4, 8));
            closed = s;
        }
        assertThrows(IllegalStateException.class, () -> SigbusFence.get(closed, 0, 1, false));
        assertThrows(IllegalStateException.class, () -> SigbusFence.set(closed, 0, 4, false, 1));
    }
}
