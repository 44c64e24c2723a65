package dev.guestmem.access;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The slow path of one load or store that missed {@link LdSt}'s fast window (the space's previous
 * sections and, for a store, its MMIO sections for stores, then the full dispatch), called out of line:
 * through method handles held in fields C2 does not treat as constants, so it compiles a call here
 * and never inlines {@link FlatViewAccess#loadMissed} or {@link FlatViewAccess#storeMissed} into the ld/st
 * methods.
 *
 * <p>Why: once an emulator's loads and stores have missed often enough (MMIO, a second RAM section,
 * ROM stores), C2 finds those call sites hot and inlines the whole dispatch (about 280 bytecodes a
 * direction, under its 325-bytecode limit for hot calls). A standalone compile of {@code ldlLe} then
 * holds 3-4 KB of machine code, more than C2 inlines into a caller ({@code InlineSmallCode}, 2.5 KB:
 * "already compiled into a big method"), so a guest loop calls the accessor instead of inlining its
 * fast path, and a store no longer shares the window its load read: {@code P1warm} measured 4.49
 * against {@code P1}'s 1.35. Java has no "do not inline" outside the JDK; a call through a
 * non-constant handle is the one way C2 keeps a hot callee out of line without a JVM flag
 * ({@code -XX:CompileCommand=dontinline,...} measured the same). The price is one indirect call a
 * miss, about 1.5 ns on a miss that costs about 40 ({@code LoadStoreBench.missingWindow}); the fast
 * window and the fast MMIO read ({@code P4}) do not come here.
 *
 * <p><b>Thread safety.</b> Stateless after class initialisation; any thread.
 */
final class MissPath {
    // Not final on purpose: a static final handle is a constant to C2, which would inline through it.
    private static MethodHandle load;
    private static MethodHandle store;

    static {
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        try {
            load = lookup.findStatic(FlatViewAccess.class, "loadMissed", MethodType.methodType(long.class,
                    AddressSpace.class, long.class, int.class, boolean.class, MemTxAttrs.class, MemTxResultHolder.class));
            store = lookup.findStatic(FlatViewAccess.class, "storeMissed", MethodType.methodType(int.class,
                    AddressSpace.class, long.class, int.class, boolean.class, long.class, MemTxAttrs.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private MissPath() {
    }

    /** {@link FlatViewAccess#loadMissed}, out of line. */
    static long load(AddressSpace as, long addr, int size, boolean big, MemTxAttrs attrs, MemTxResultHolder res) {
        try {
            return (long) load.invokeExact(as, addr, size, big, attrs, res);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable checked) { // FlatViewAccess.loadMissed declares none
            throw new AssertionError(checked);
        }
    }

    /** {@link FlatViewAccess#storeMissed}, out of line. */
    static int store(AddressSpace as, long addr, int size, boolean big, long val, MemTxAttrs attrs) {
        try {
            return (int) store.invokeExact(as, addr, size, big, val, attrs);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable checked) { // FlatViewAccess.storeMissed declares none
            throw new AssertionError(checked);
        }
    }
}
