package dev.guestmem.internal;

import static dev.guestmem.internal.ByteOrderLayouts.U16_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U16_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_LE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Memory accesses that C2 cannot inline into their caller, so that a SIGBUS they raise surfaces
 * inside the caller's {@code try}: the one fence for RAM that may fault (file- and fd-backed blocks,
 * hugetlb, a RAM device's host memory, a lazy restore's poisoned pages).
 *
 * <p>Why: when a compiled unsafe access faults, HotSpot skips the instruction (the load yields
 * garbage) and queues the {@code InternalError} as an asynchronous exception, thrown at the thread's
 * next safepoint poll. Inlined methods have no polls of their own, so if the access is inlined into
 * a hot loop the error appears at the loop's next poll or its method's return, outside any
 * {@code try} around the single access: seen in {@code RamSigbusTest.c2CompiledHotLoopSurvivesTruncation}
 * before this class existed, and in the address space, where it escaped {@code AddressSpace.ldlLe}
 * into a test loop instead of becoming {@code MemTxResult.ERROR}. Every compiled method polls on
 * return, so routing the access through a call that stays a real call makes the error appear in the
 * callee's frame, inside the caller's {@code try}.
 *
 * <p>How: the calls go through method handles held in non-final static fields. C2 only inlines
 * through constant method handles; these are not constants, so each access is a real call to a
 * separately compiled method.
 *
 * <p>Cost: a few nanoseconds an access, paid only on the checked path: {@code RamBlock}'s checked
 * accessors, snapshot and userfaultfd copies, RAM devices that can fault, and the address space's
 * accesses to fault-prone sections ({@code PhysSection.FAULT_PRONE}, a {@code MemoryRegionCache}
 * over such a block). Anonymous RAM keeps the inlined, unfenced fast path, which does not come here.
 *
 * <p>For the engine's access, RAM, snapshot, userfaultfd and RAM-device code only: this package is
 * not exported.
 *
 * <p><b>Thread safety.</b> The handles are written once in the class initialiser (which
 * happens-before any use) and never again.
 */
public final class SigbusFence {


    // Deliberately not final: a final handle would be a constant that C2 inlines through.
    private static MethodHandle copy;
    private static MethodHandle get;
    private static MethodHandle set;
    private static MethodHandle toArray;
    private static MethodHandle fromArray;

    static {
        MethodHandles.Lookup l = MethodHandles.lookup();
        try {
            copy = l.findStatic(SigbusFence.class, "copy0", MethodType.methodType(void.class, MemorySegment.class, long.class,
                    MemorySegment.class, long.class, long.class));
            get = l.findStatic(SigbusFence.class, "get0", MethodType.methodType(long.class, MemorySegment.class, long.class,
                    int.class, boolean.class));
            set = l.findStatic(SigbusFence.class, "set0", MethodType.methodType(void.class, MemorySegment.class, long.class,
                    int.class, boolean.class, long.class));
            toArray = l.findStatic(SigbusFence.class, "toArray0", MethodType.methodType(void.class, MemorySegment.class,
                    long.class, byte[].class, int.class, int.class));
            fromArray = l.findStatic(SigbusFence.class, "fromArray0", MethodType.methodType(void.class, byte[].class,
                    int.class, MemorySegment.class, long.class, int.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private SigbusFence() {
    }

    /**
     * Copies {@code len} bytes between segments ({@code MemorySegment.copy}: overlap allowed).
     *
     * @param src the source
     * @param srcOff where in {@code src}
     * @param dst the destination
     * @param dstOff where in {@code dst}
     * @param len bytes
     */
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
     * One load of 1, 2, 4 or 8 bytes (unaligned allowed), zero-extended.
     *
     * @param s the memory
     * @param off where in {@code s}
     * @param size bytes: 1, 2, 4, or anything else for 8
     * @param big big-endian if true, little-endian if false ({@link ByteOrderLayouts#HOST_BIG} for host order)
     * @return the value
     */
    public static long get(MemorySegment s, long off, int size, boolean big) {
        try {
            return (long) get.invokeExact(s, off, size, big);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * One store of the low 1, 2, 4 or 8 bytes of {@code v} (unaligned allowed).
     *
     * @param s the memory
     * @param off where in {@code s}
     * @param size bytes: 1, 2, 4, or anything else for 8
     * @param big big-endian if true, little-endian if false ({@link ByteOrderLayouts#HOST_BIG} for host order)
     * @param v the value
     */
    public static void set(MemorySegment s, long off, int size, boolean big, long v) {
        try {
            set.invokeExact(s, off, size, big, v);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Copies {@code len} bytes of {@code src} into a byte array.
     *
     * @param src the memory
     * @param srcOff where in {@code src}
     * @param dst the array
     * @param dstOff where in {@code dst}
     * @param len bytes
     */
    public static void toArray(MemorySegment src, long srcOff, byte[] dst, int dstOff, int len) {
        try {
            toArray.invokeExact(src, srcOff, dst, dstOff, len);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Copies {@code len} bytes of a byte array into {@code dst}.
     *
     * @param src the array
     * @param srcOff where in {@code src}
     * @param dst the memory
     * @param dstOff where in {@code dst}
     * @param len bytes
     */
    public static void fromArray(byte[] src, int srcOff, MemorySegment dst, long dstOff, int len) {
        try {
            fromArray.invokeExact(src, srcOff, dst, dstOff, len);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // The same switch as the address space's unfenced getRaw/setRaw, which stay where they are so
    // that the inlined fast path does not change.
    private static long get0(MemorySegment s, long off, int size, boolean big) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(s.get(ValueLayout.JAVA_BYTE, off));
            case 2 -> Short.toUnsignedLong(s.get(big ? U16_BE : U16_LE, off));
            case 4 -> Integer.toUnsignedLong(s.get(big ? U32_BE : U32_LE, off));
            default -> s.get(big ? U64_BE : U64_LE, off);
        };
    }

    private static void set0(MemorySegment s, long off, int size, boolean big, long v) {
        switch (size) {
            case 1 -> s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
            case 2 -> s.set(big ? U16_BE : U16_LE, off, (short) v);
            case 4 -> s.set(big ? U32_BE : U32_LE, off, (int) v);
            default -> s.set(big ? U64_BE : U64_LE, off, v);
        }
    }

    private static void toArray0(MemorySegment src, long srcOff, byte[] dst, int dstOff, int len) {
        MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOff, dst, dstOff, len);
    }

    private static void fromArray0(byte[] src, int srcOff, MemorySegment dst, long dstOff, int len) {
        MemorySegment.copy(src, srcOff, dst, ValueLayout.JAVA_BYTE, dstOff, len);
    }

    private static void copy0(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long len) {
        MemorySegment.copy(src, srcOff, dst, dstOff, len);
    }
}
