package dev.guestmem.access;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Accesses to RAM that may raise SIGBUS (file- and fd-backed blocks, hugetlb), made as real calls so
 * the fault surfaces inside the caller's {@code try}.
 *
 * <p>Why: HotSpot reports a faulting compiled unsafe access asynchronously, at the thread's next
 * safepoint poll. Inlined into a hot access path, the {@code InternalError} would appear at the
 * caller's next loop back-edge or return, outside the accessor that should have turned it into
 * {@link MemTxResult#ERROR} (seen: it escaped {@code AddressSpace.ldlLe} into a test loop). Calls
 * through method handles held in non-final fields are never inlined by C2, and every compiled method
 * polls on return, so the error appears in the callee's frame. Cost: a few ns per access, paid only
 * for fault-prone sections ({@link dev.guestmem.dispatch.PhysSection#FAULT_PRONE}); anonymous RAM keeps
 * the inlined fast path. (Same technique as the RAM package's checked accessors.)
 *
 * <p><b>Thread safety.</b> The handles are written once in the class initialiser and never again.
 */
final class FaultFence {
    // Deliberately not final: a constant method handle would be inlined through.
    private static MethodHandle get;
    private static MethodHandle set;
    private static MethodHandle copy;
    private static MethodHandle toArray;
    private static MethodHandle fromArray;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            get = l.findStatic(FaultFence.class, "get0", MethodType.methodType(long.class, MemorySegment.class, long.class,
                    int.class, boolean.class));
            set = l.findStatic(FaultFence.class, "set0", MethodType.methodType(void.class, MemorySegment.class, long.class,
                    int.class, boolean.class, long.class));
            copy = l.findStatic(FaultFence.class, "copy0", MethodType.methodType(void.class, MemorySegment.class, long.class,
                    MemorySegment.class, long.class, long.class));
            toArray = l.findStatic(FaultFence.class, "toArray0", MethodType.methodType(void.class, MemorySegment.class,
                    long.class, byte[].class, int.class, int.class));
            fromArray = l.findStatic(FaultFence.class, "fromArray0", MethodType.methodType(void.class, byte[].class,
                    int.class, MemorySegment.class, long.class, int.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private FaultFence() {
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new AssertionError(t);
    }

    static long get(MemorySegment s, long off, int size, boolean big) {
        try {
            return (long) get.invokeExact(s, off, size, big);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void set(MemorySegment s, long off, int size, boolean big, long v) {
        try {
            set.invokeExact(s, off, size, big, v);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void copy(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long len) {
        try {
            copy.invokeExact(src, srcOff, dst, dstOff, len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void toArray(MemorySegment src, long srcOff, byte[] dst, int dstOff, int len) {
        try {
            toArray.invokeExact(src, srcOff, dst, dstOff, len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    static void fromArray(byte[] src, int srcOff, MemorySegment dst, long dstOff, int len) {
        try {
            fromArray.invokeExact(src, srcOff, dst, dstOff, len);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static long get0(MemorySegment s, long off, int size, boolean big) {
        return FlatViewAccess.getRaw(s, off, size, big);
    }

    private static void set0(MemorySegment s, long off, int size, boolean big, long v) {
        FlatViewAccess.setRaw(s, off, size, big, v);
    }

    private static void copy0(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long len) {
        MemorySegment.copy(src, srcOff, dst, dstOff, len);
    }

    private static void toArray0(MemorySegment src, long srcOff, byte[] dst, int dstOff, int len) {
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOff, dst, dstOff, len);
    }

    private static void fromArray0(byte[] src, int srcOff, MemorySegment dst, long dstOff, int len) {
        MemorySegment.copy(src, srcOff, dst, ValueLayout.JAVA_BYTE, dstOff, len);
    }
}
