package dev.guestmem.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * What code outside the engine can do with {@link MmioDispatch} and {@link ReentrancyGuard} through
 * their public API: never call a device outside its access rules, never leave a device's guard
 * engaged, engage it for another thread or release another thread's mark.
 */
class MmioDispatchTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private final MemorySystem sys = new MemorySystem();

    /** A device taking aligned 4-byte accesses only; it records every call. */
    private static MemoryRegionOps fourBytesOnly(List<String> calls) {
        return MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add("r" + addr + "/" + size);
                    return 0x11223344L;
                })
                .write((addr, data, size) -> calls.add("w" + addr + "/" + size))
                .valid(4, 4, false)
                .build();
    }

    private AddressSpace space(IoRegion r) {
        AddressSpace as = new AddressSpace(sys, new ContainerRegion(sys, null, "root", -1L), "t");
        as.publish(new FlatView(null, List.of(new FlatRange(0x1000, 0x1000 + r.size() - 1, r, 0, false, false, false,
                false, 0))));
        return as;
    }

    @Test
    void theTrustingReadIsHandedOnlyToTheAccessPackage() {
        IllegalCallerException own = assertThrows(IllegalCallerException.class,
                () -> MmioDispatch.engineAccess(MethodHandles.lookup()), "a test class of the mmio package");
        assertTrue(own.getMessage().contains("dev.guestmem.access"), own.getMessage());
        assertThrows(IllegalCallerException.class, () -> MmioDispatch.engineAccess(MethodHandles.publicLookup()));
        // a lookup that names a class of the access package but was not made there has lost its
        // private access: not a proof of being that class
        MethodHandles.Lookup teleported = MethodHandles.lookup().in(AddressSpace.class);
        assertFalse(teleported.hasFullPrivilegeAccess());
        assertThrows(IllegalCallerException.class, () -> MmioDispatch.engineAccess(teleported));
        assertThrows(NullPointerException.class, () -> MmioDispatch.engineAccess(null));
    }

    @Test
    void noPublicEntryPointSkipsTheChecks() {
        Set<String> publicStatics = Arrays.stream(MmioDispatch.class.getMethods())
                .filter(m -> m.getDeclaringClass() == MmioDispatch.class && Modifier.isStatic(m.getModifiers()))
                .map(Method::getName).collect(Collectors.toCollection(TreeSet::new));
        assertEquals(new TreeSet<>(List.of("accessSize", "accessValid", "engineAccess", "isBigEndian", "read",
                "readValue", "swap", "truncate", "write")), publicStatics,
                "a new public entry point must check sizes and pair the guard itself");
        assertEquals(0, MmioDispatch.EngineAccess.class.getConstructors().length);
    }

    @Test
    void aGuardCanOnlyBeObservedFromOutsideItsPackage() {
        Set<String> methods = Arrays.stream(ReentrancyGuard.class.getMethods())
                .filter(m -> m.getDeclaringClass() == ReentrancyGuard.class)
                .map(Method::getName).collect(Collectors.toSet());
        assertEquals(Set.of("isEngaged"), methods, "enter/exit take a thread id on trust");
        assertEquals(0, ReentrancyGuard.class.getConstructors().length);
    }

    /** Sizes no guest access has: refused before the device or its accepts hook sees them. */
    @ParameterizedTest
    @ValueSource(ints = {0, 3, 5, 6, 7, 9, 16, -1, Integer.MIN_VALUE})
    void impossibleSizesNeverReachTheDevice(int size) {
        List<String> calls = new ArrayList<>();
        List<Integer> asked = new ArrayList<>();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, s) -> {
                    calls.add("r" + s);
                    return 0;
                })
                .write((addr, data, s) -> calls.add("w" + s))
                .accepts((addr, s, isWrite, attrs) -> asked.add(s))
                .build();
        MmioValue out = new MmioValue();
        assertThrows(IllegalArgumentException.class, () -> MmioDispatch.read(ops, null, "dev", 0, size, false, U, out));
        assertThrows(IllegalArgumentException.class,
                () -> MmioDispatch.readValue(ops, null, "dev", 0, size, false, U, out, null));
        assertThrows(IllegalArgumentException.class, () -> MmioDispatch.write(ops, null, "dev", 0, 1, size, false, U));
        assertThrows(IllegalArgumentException.class, () -> MmioDispatch.accessValid(ops, "dev", 0, size, false, U));
        assertEquals(List.of(), calls);
        assertEquals(List.of(), asked);
    }

    /** Sizes and alignments the device's ops forbid: decode error, the device is not called. */
    @Test
    void forbiddenAccessesNeverReachTheDevice() {
        List<String> calls = new ArrayList<>();
        MemoryRegionOps ops = fourBytesOnly(calls);
        MmioValue out = new MmioValue();
        MemTxResultHolder res = new MemTxResultHolder();
        for (int size : new int[] {1, 2, 8}) {
            assertEquals(MemTxResult.DECODE_ERROR, MmioDispatch.read(ops, null, "dev", 0, size, false, U, out));
            assertEquals(0, MmioDispatch.readValue(ops, null, "dev", 0, size, false, U, out, res));
            assertEquals(MemTxResult.DECODE_ERROR, res.get());
            assertEquals(MemTxResult.DECODE_ERROR, MmioDispatch.write(ops, null, "dev", 0, 1, size, false, U));
        }
        assertEquals(MemTxResult.DECODE_ERROR, MmioDispatch.read(ops, null, "dev", 2, 4, false, U, out), "unaligned");
        assertEquals(List.of(), calls);
        assertEquals(MemTxResult.OK, MmioDispatch.read(ops, null, "dev", 4, 4, false, U, out), "the control");
        assertEquals(List.of("r4/4"), calls);
    }

    /**
     * The same device through the engine's fast path (which uses the trusting read): sizes its ops
     * forbid still never reach it.
     */
    @Test
    void theFastPathKeepsTheDevicesRules() {
        List<String> calls = new ArrayList<>();
        IoRegion dev = new IoRegion(sys, new Object(), fourBytesOnly(calls), "dev", 0x100);
        AddressSpace as = space(dev);
        MemTxResultHolder res = new MemTxResultHolder();
        for (int i = 0; i < 3; i++) { // the first access fills the fast slot; the others use it
            assertEquals(0x11223344, as.ldlLe(0x1004, U, res));
            assertEquals(MemTxResult.OK, res.get());
            as.lduwLe(0x1004, U, res);
            assertEquals(MemTxResult.DECODE_ERROR, res.get());
            as.ldqLe(0x1008, U, res);
            assertEquals(MemTxResult.DECODE_ERROR, res.get());
            as.ldlLe(0x1006, U, res);
            assertEquals(MemTxResult.DECODE_ERROR, res.get(), "unaligned");
        }
        assertEquals(List.of("r4/4", "r4/4", "r4/4"), calls);
    }

    /**
     * A user's dispatch with a device's guard pairs enter and exit on its own thread, whatever the
     * callback does: the guard is free afterwards, and a nested access into the device meanwhile is
     * refused without calling it.
     */
    @Test
    void aUserDispatchCannotLeaveTheGuardEngaged() {
        Object device = new Object();
        ReentrancyGuard guard = sys.reentrancyGuards().of(device);
        List<String> calls = new ArrayList<>();
        MemoryRegionOps deviceOps = fourBytesOnly(calls);
        IoRegion dev = new IoRegion(sys, device, deviceOps, "dev", 0x100);
        AddressSpace as = space(dev);
        MemTxResultHolder nested = new MemTxResultHolder();
        AtomicReference<Boolean> engagedInside = new AtomicReference<>();
        MemoryRegionOps user = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    engagedInside.set(guard.isEngaged());
                    as.ldlLe(0x1000, U, nested); // the device, from "inside" it
                    if (addr == 8) {
                        throw new AssertionError("not a RuntimeException: passes through the dispatch");
                    }
                    throw new IllegalStateException("device bug");
                })
                .build();
        MmioValue out = new MmioValue();
        assertEquals(MemTxResult.ERROR, MmioDispatch.read(user, guard, "user", 0, 4, false, U, out));
        assertEquals(Boolean.TRUE, engagedInside.get());
        assertEquals(MemTxResult.ACCESS_ERROR, nested.get());
        assertFalse(guard.isEngaged());
        assertThrows(AssertionError.class, () -> MmioDispatch.read(user, guard, "user", 8, 4, false, U, out));
        assertFalse(guard.isEngaged());
        assertEquals(List.of(), calls, "the re-entrant accesses never reached the device");
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0x11223344, as.ldlLe(0x1000, U, res));
        assertEquals(MemTxResult.OK, res.get(), "the device serves the guest again");
    }

    /** The guard is not engaged for a thread by a dispatch on another: a second thread's I/O proceeds. */
    @Test
    void anotherThreadsDispatchDoesNotBlockThisThread() throws Exception {
        Object device = new Object();
        ReentrancyGuard guard = sys.reentrancyGuards().of(device);
        List<String> calls = new ArrayList<>();
        IoRegion dev = new IoRegion(sys, device, fourBytesOnly(calls), "dev", 0x100);
        AddressSpace as = space(dev);
        MemTxResultHolder fromOther = new MemTxResultHolder();
        MemoryRegionOps user = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    Thread t = Thread.ofPlatform().start(() -> as.ldlLe(0x1000, U, fromOther));
                    try {
                        t.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return 0;
                })
                .build();
        assertEquals(MemTxResult.OK, MmioDispatch.read(user, guard, "user", 0, 4, false, U, new MmioValue()));
        assertEquals(MemTxResult.OK, fromOther.get(), "concurrent I/O from another thread is not re-entrancy");
        assertEquals(List.of("r0/4"), calls);
        assertFalse(guard.isEngaged());
    }
}
