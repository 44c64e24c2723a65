package dev.guestmem.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Memory accesses that C2 cannot inline into their caller, so that a SIGBUS they raise surfaces
 * inside the caller's {@code try}.
 *
 * <p>Why: when a compiled unsafe access faults, HotSpot skips the instruction (the load yields
 * garbage) and queues the {@code InternalError} as an asynchronous exception, thrown at the thread's
 * next safepoint poll. Inlined methods have no polls of their own, so if the access is inlined into
 * a hot loop the error appears at the loop's next poll or its method's return, outside any
 * {@code try} around the single access: seen in {@code RamSigbusTest.c2CompiledHotLoopSurvivesTruncation}
 * before this class existed. Every compiled method polls on return, so routing the access through a
 * call that stays a real call makes the error appear in the callee's frame, inside the caller's
 * {@code try}.
 *
 * <p>How: the calls go through method handles held in non-final static fields. C2 only inlines
 * through constant method handles; these are not constants, so each access is a real call to a
 * separately compiled method. It costs a few nanoseconds an access: this is the checked path, not
 * the dispatch hot path.
 *
 * <p>For the engine's RAM, snapshot and RAM-device code only: this package is not exported.
 *
 * <p><b>Thread safety.</b> The handles are written once in the class initialiser (which
 * happens-before any use) and never again.
 */
public final class SigbusFence {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    // Deliberately not final: a final handle would be a constant that C2 inlines through.
    private static MethodHandle getLong;
    private static MethodHandle putLong;
    private static MethodHandle getInt;
    private static MethodHandle putInt;
    private static MethodHandle copy;
    private static MethodHandle getSized;
    private static MethodHandle putSized;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            getLong = l.findStatic(SigbusFence.class, "getLong0", MethodType.methodType(long.class, MemorySegment.class, long.class));
            putLong = l.findStatic(SigbusFence.class, "putLong0", MethodType.methodType(void.class, MemorySegment.class, long.class, long.class));
            getInt = l.findStatic(SigbusFence.class, "getInt0", MethodType.methodType(int.class, MemorySegment.class, long.class));
            putInt = l.findStatic(SigbusFence.class, "putInt0", MethodType.methodType(void.class, MemorySegment.class, long.class, int.class));
            copy = l.findStatic(SigbusFence.class, "copy0", MethodType.methodType(void.class, MemorySegment.class, long.class,
                    MemorySegment.class, long.class, long.class));
            getSized = l.findStatic(SigbusFence.class, "getSized0", MethodType.methodType(long.class, MemorySegment.class,
                    long.class, int.class));
            putSized = l.findStatic(SigbusFence.class, "putSized0", MethodType.methodType(void.class, MemorySegment.class,
                    long.class, int.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private SigbusFence() {
    }

    public static long getLong(MemorySegment s, long off) {
        try {
            return (long) getLong.invokeExact(s, off);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void putLong(MemorySegment s, long off, long v) {
        try {
            putLong.invokeExact(s, off, v);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static int getInt(MemorySegment s, long off) {
        try {
            return (int) getInt.invokeExact(s, off);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void putInt(MemorySegment s, long off, int v) {
        try {
            putInt.invokeExact(s, off, v);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    public static void copy(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long len) {
        try {
            copy.invokeExact(src, srcOff, dst, dstOff, len);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * One host-order load of 1, 2, 4 or 8 bytes (unaligned allowed), zero-extended.
     *
     * @param s the memory
     * @param off where in {@code s}
     * @param size bytes: 1, 2, 4, or anything else for 8
     * @return the value
     */
    public static long getSized(MemorySegment s, long off, int size) {
        try {
            return (long) getSized.invokeExact(s, off, size);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * One host-order store of the low 1, 2, 4 or 8 bytes of {@code v} (unaligned allowed).
     *
     * @param s the memory
     * @param off where in {@code s}
     * @param size bytes: 1, 2, 4, or anything else for 8
     * @param v the value
     */
    public static void putSized(MemorySegment s, long off, int size, long v) {
        try {
            putSized.invokeExact(s, off, size, v);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static long getSized0(MemorySegment s, long off, int size) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(s.get(ValueLayout.JAVA_BYTE, off));
            case 2 -> Short.toUnsignedLong(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, off));
            case 4 -> Integer.toUnsignedLong(s.get(INT, off));
            default -> s.get(LONG, off);
        };
    }

    private static void putSized0(MemorySegment s, long off, int size, long v) {
        switch (size) {
            case 1 -> s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> s.set(ValueLayout.JAVA_SHORT_UNALIGNED, off, (short) v);
            case 4 -> s.set(INT, off, (int) v);
            default -> s.set(LONG, off, v);
        }
    }

    private static long getLong0(MemorySegment s, long off) {
        return s.get(LONG, off);
    }

    private static void putLong0(MemorySegment s, long off, long v) {
        s.set(LONG, off, v);
    }

    private static int getInt0(MemorySegment s, long off) {
        return s.get(INT, off);
    }

    private static void putInt0(MemorySegment s, long off, int v) {
        s.set(INT, off, v);
    }

    private static void copy0(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long len) {
        MemorySegment.copy(src, srcOff, dst, dstOff, len);
    }
}
