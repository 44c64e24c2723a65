package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code memory_region_dispatch_read}/{@code _write} on a region ({@link MemoryRegion#dispatchRead},
 * {@link MemoryRegion#dispatchWrite}), case by case against QEMU's {@code system/memory.c}:
 *
 * <table>
 * <caption>cases</caption>
 * <tr><th>case</th><th>QEMU</th><th>guestmem</th></tr>
 * <tr><td>I/O region</td><td>{@code access_with_adjusted_size} on {@code mr->ops}</td><td>the ops</td></tr>
 * <tr><td>access order differs from the device's</td><td>{@code adjust_endianness}</td><td>swapped</td></tr>
 * <tr><td>alias, chain of aliases</td><td>recursion on {@code mr->alias} at
 *     {@code mr->alias_offset + addr}</td><td>followed, offsets added mod 2^64</td></tr>
 * <tr><td>RAM, ROM, container, IOMMU, null ops</td><td>{@code unassigned_mem_ops}: its
 *     {@code valid.accepts} refuses: 0, {@code MEMTX_DECODE_ERROR}</td><td>the same</td></tr>
 * <tr><td>ROM device, even in ROMD mode</td><td>{@code mr->ops} is the device's</td><td>the ops</td></tr>
 * <tr><td>RAM device</td><td>{@code ram_device_mem_ops}</td><td>the block, at the access's size</td></tr>
 * <tr><td>ops without the callback</td><td>NULL call (CVE-2020-15469)</td><td>DECODE_ERROR</td></tr>
 * <tr><td>invalid size or alignment</td><td>{@code memory_region_access_valid}: 0, DECODE_ERROR</td>
 *     <td>the same</td></tr>
 * <tr><td>owner's guard engaged</td><td>MEMTX_ACCESS_ERROR unless {@code disable_reentrancy_guard}
 *     </td><td>the same</td></tr>
 * <tr><td>write matching an ioeventfd</td><td>{@code memory_region_dispatch_write_eventfds}: signal,
 *     MEMTX_OK</td><td>the same, as the address-space write</td></tr>
 * <tr><td>offset past the region's end</td><td>not checked: the callback gets it</td>
 *     <td>DECODE_ERROR, nothing called</td></tr>
 * <tr><td>destroyed region</td><td>use after {@code object_unparent}</td><td>DECODE_ERROR</td></tr>
 * </table>
 */
class RegionDispatchTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final boolean HOST_BIG = ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN;

    private final MemorySystem sys = new MemorySystem();
    private final MmioValue out = new MmioValue();
    /** Device calls seen: {offset, value or -1 for a read, size}. */
    private final List<long[]> calls = new ArrayList<>();
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : toClose) {
            c.close();
        }
    }

    /** A little-endian device that answers {@code 0x1122334455667788 + offset} and records its calls. */
    private MemoryRegionOps.Builder recording() {
        return MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add(new long[] {addr, -1, size});
                    return 0x1122334455667788L + addr;
                })
                .write((addr, data, size) -> calls.add(new long[] {addr, data, size}))
                .endianness(Endianness.LITTLE)
                .impl(1, 8, false);
    }

    private IoRegion device(Object owner, String name, long size) {
        return new IoRegion(sys, owner, recording().build(), name, size);
    }

    private static long mask(long v, int size) {
        return size == 8 ? v : v & ((1L << (size * 8)) - 1);
    }

    @Test
    void ioRegionReadsAndWritesItsOps() {
        IoRegion dev = device(null, "dev", 0x100);
        assertEquals(MemTxResult.OK, dev.dispatchRead(0x10, 4, false, U, out));
        assertEquals(mask(0x1122334455667798L, 4), out.value);
        assertEquals(MemTxResult.OK, dev.dispatchWrite(0x20, 0xabcd, 2, false, U));
        assertEquals(2, calls.size());
        assertEquals(0x20, calls.get(1)[0]);
        assertEquals(0xabcd, calls.get(1)[1]);
        assertEquals(2, calls.get(1)[2]);
    }

    @Test
    void accessOrderOtherThanTheDevicesIsSwapped() {
        IoRegion dev = device(null, "dev", 0x100);
        // adjust_endianness: a big-endian access to a little-endian device swaps
        assertEquals(MemTxResult.OK, dev.dispatchRead(0, 4, true, U, out));
        assertEquals(Integer.toUnsignedLong(Integer.reverseBytes(0x55667788)), out.value);
        assertEquals(MemTxResult.OK, dev.dispatchWrite(0, 0x1234, 2, true, U));
        assertEquals(0x3412, calls.get(1)[1]);
    }

    @Test
    void aliasChainIsFollowedAddingEachOffset() {
        IoRegion dev = device(null, "dev", 0x1000);
        AliasRegion a1 = new AliasRegion(sys, null, "a1", dev, 0x100, 0x800);
        AliasRegion a2 = new AliasRegion(sys, null, "a2", a1, 0x20, 0x400);
        assertEquals(MemTxResult.OK, a2.dispatchRead(0x8, 8, false, U, out));
        assertEquals(0x1122334455667788L + 0x128, out.value);
        assertEquals(MemTxResult.OK, a2.dispatchWrite(0x10, 7, 1, false, U));
        assertEquals(0x130, calls.get(1)[0]);
    }

    @Test
    void aliasOffsetWrapsModulo2To64() {
        IoRegion dev = device(null, "dev", MemoryRegion.SIZE_2_64);
        AliasRegion a = new AliasRegion(sys, null, "wrap", dev, -0x10L, 0x100);
        assertEquals(MemTxResult.OK, a.dispatchRead(0x20, 2, false, U, out));
        assertEquals(0x10, calls.get(0)[0], "hwaddr arithmetic: -0x10 + 0x20 = 0x10");
    }

    @Test
    void offsetPastTheEndIsADecodeErrorWithoutCallingAnything() {
        IoRegion dev = device(null, "dev", 0x100);
        out.value = 99;
        assertEquals(MemTxResult.DECODE_ERROR, dev.dispatchRead(0x100, 1, false, U, out));
        assertEquals(0, out.value);
        assertEquals(MemTxResult.DECODE_ERROR, dev.dispatchRead(0xfe, 4, false, U, out), "crosses the end");
        assertEquals(MemTxResult.DECODE_ERROR, dev.dispatchWrite(-4L, 1, 4, false, U), "far past the end");
        assertEquals(MemTxResult.OK, dev.dispatchRead(0xfc, 4, false, U, out), "the last four bytes");
        assertEquals(1, calls.size());

        IoRegion whole = device(null, "whole", MemoryRegion.SIZE_2_64);
        assertEquals(MemTxResult.OK, whole.dispatchRead(-8L, 8, false, U, out), "the last bytes of 2^64");
        assertEquals(MemTxResult.DECODE_ERROR, whole.dispatchRead(-2L, 4, false, U, out), "wraps past 2^64");
        IoRegion empty = device(null, "empty", 0);
        assertEquals(MemTxResult.DECODE_ERROR, empty.dispatchRead(0, 1, false, U, out));
        assertEquals(2, calls.size());
    }

    @Test
    void aliasWindowPastItsTargetsEndIsADecodeError() {
        IoRegion dev = device(null, "dev", 0x100);
        AliasRegion a = new AliasRegion(sys, null, "over", dev, 0xf0, 0x100); // QEMU lets it pass the end
        assertEquals(MemTxResult.OK, a.dispatchRead(0x8, 8, false, U, out));
        assertEquals(MemTxResult.DECODE_ERROR, a.dispatchRead(0x10, 4, false, U, out));
        assertEquals(MemTxResult.DECODE_ERROR, a.dispatchRead(0x100, 1, false, U, out), "past the window");
        assertEquals(1, calls.size());
    }

    @Test
    void ramRomContainerIommuAndNullOpsAreUnassigned() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        ram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x12345678);
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
        ContainerRegion container = new ContainerRegion(sys, null, "c", 0x1000);
        container.addSubregion(0, device(null, "inside", 0x100));
        IommuOps identity = (addr, flag, idx, entry) -> {
            throw new AssertionError("not translated");
        };
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x1000, identity);
        IoRegion reservation = new IoRegion(sys, null, null, "reserved", 0x1000);
        for (MemoryRegion mr : List.of(ram, rom, container, iommu, reservation)) {
            out.value = 99;
            assertEquals(MemTxResult.DECODE_ERROR, mr.dispatchRead(0, 4, false, U, out), mr.name());
            assertEquals(0, out.value, mr.name());
            assertEquals(MemTxResult.DECODE_ERROR, mr.dispatchWrite(0, 0xff, 4, false, U), mr.name());
        }
        assertEquals(0x12345678, ram.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0), "RAM untouched");
        assertTrue(calls.isEmpty(), "a container does not pass the access to its subregions");
        AliasRegion ramAlias = new AliasRegion(sys, null, "ram-alias", ram, 0, 0x1000);
        assertEquals(MemTxResult.DECODE_ERROR, ramAlias.dispatchRead(0, 4, false, U, out));
    }

    @Test
    void romDeviceGoesToItsOpsEvenInRomdMode() {
        Object flash = new Object();
        RomDeviceRegion rd = RomDeviceRegion.allocate(sys, flash, recording().build(), "flash", 0x1000);
        assertTrue(rd.isRomd());
        rd.ramBlock().segment().set(ValueLayout.JAVA_BYTE, 4, (byte) 0x5a);
        assertEquals(MemTxResult.OK, rd.dispatchRead(4, 1, false, U, out));
        assertEquals(0x8c, out.value, "the ops' answer, not the ROM byte");
        assertEquals(MemTxResult.OK, rd.dispatchWrite(8, 0x90, 1, false, U));
        assertEquals(2, calls.size());
    }

    @Test
    void ramDeviceIsAccessedAtTheAccessSize() {
        Arena arena = Arena.ofShared();
        toClose.add(arena);
        MemorySegment bar = arena.allocate(0x1000, 8);
        RamBlock block = RamBlock.builder("bar", 0x1000).ramDevice(bar).build();
        RamRegion dev = new RamRegion(sys, new Object(), "bar", block, false, true);
        block.close();
        assertNotNull(dev.ops(), "MemoryRegion#ops: a RAM device has ops (QEMU: ram_device_mem_ops)");
        bar.set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0xcafef00d);
        assertEquals(MemTxResult.OK, dev.dispatchRead(0x10, 4, HOST_BIG, U, out));
        assertEquals(0xcafef00dL, out.value);
        assertEquals(MemTxResult.OK, dev.dispatchWrite(0x20, 0x0102030405060708L, 8, HOST_BIG, U));
        assertEquals(0x0102030405060708L, bar.get(ValueLayout.JAVA_LONG_UNALIGNED, 0x20));
        assertEquals(MemTxResult.OK, dev.dispatchRead(0x20, 2, !HOST_BIG, U, out));
        assertEquals(Short.toUnsignedLong(Short.reverseBytes((short) 0x0708)), out.value);
    }

    /**
     * {@link MemoryRegion#ops()} of a RAM device reaches the whole block after {@link RamRegion#ramResize}
     * (the ops kept the used length of their construction: a read past it threw inside them).
     */
    @Test
    void ramDeviceOpsFollowAResize() {
        Arena arena = Arena.ofShared();
        toClose.add(arena);
        MemorySegment bar = arena.allocate(0x2000, 8);
        RamBlock block = RamBlock.builder("bar", 0x1000).ramDevice(bar).resizeable(0x2000, null).build();
        RamRegion dev = new RamRegion(sys, null, "bar", block, false, true);
        block.close();
        dev.ramResize(0x2000);
        bar.set(ValueLayout.JAVA_INT_UNALIGNED, 0x1800, 0x600dcafe);
        assertEquals(MemTxResult.OK, dev.dispatchRead(0x1800, 4, HOST_BIG, U, out));
        assertEquals(0x600dcafeL, out.value);
        assertEquals(MemTxResult.OK, dev.dispatchWrite(0x1810, 0x11, 1, HOST_BIG, U));
        assertEquals(0x11, bar.get(ValueLayout.JAVA_BYTE, 0x1810));
    }

    @Test
    void opsWithoutTheCallbackAndInvalidAccessesAreDecodeErrors() {
        IoRegion writeOnly = new IoRegion(sys, null,
                MemoryRegionOps.builder().write((a, d, s) -> calls.add(new long[] {a, d, s})).build(), "wo", 0x100);
        assertEquals(MemTxResult.DECODE_ERROR, writeOnly.dispatchRead(0, 4, false, U, out));
        IoRegion strict = new IoRegion(sys, null, recording().valid(4, 4, false).build(), "strict", 0x100);
        assertEquals(MemTxResult.DECODE_ERROR, strict.dispatchRead(0, 2, false, U, out), "size");
        assertEquals(MemTxResult.DECODE_ERROR, strict.dispatchWrite(2, 0, 4, false, U), "alignment");
        assertEquals(MemTxResult.OK, strict.dispatchRead(4, 4, false, U, out));
        assertEquals(1, calls.size());
        assertThrows(IllegalArgumentException.class, () -> strict.dispatchRead(0, 3, false, U, out));
        assertThrows(IllegalArgumentException.class, () -> strict.dispatchWrite(-1L, 0, 16, false, U));
    }

    /** A null holder or attrs is refused before the device is called (a read may have side effects). */
    @Test
    void nullHolderOrAttrsIsRefusedWithoutCallingTheDevice() {
        IoRegion dev = device(null, "dev", 0x100);
        assertThrows(NullPointerException.class, () -> dev.dispatchRead(0, 4, false, U, null));
        assertThrows(NullPointerException.class, () -> dev.dispatchRead(0, 4, false, null, out));
        assertThrows(NullPointerException.class, () -> dev.dispatchWrite(0, 1, 4, false, null));
        assertEquals(0, calls.size(), "the device saw nothing");
    }

    @Test
    void destroyedRegionIsADecodeError() {
        IoRegion dev = device(null, "gone", 0x100);
        AliasRegion a = new AliasRegion(sys, null, "to-gone", dev, 0, 0x100);
        dev.destroy();
        assertEquals(MemTxResult.DECODE_ERROR, dev.dispatchRead(0, 4, false, U, out));
        assertEquals(MemTxResult.DECODE_ERROR, dev.dispatchWrite(0, 1, 4, false, U));
        assertEquals(MemTxResult.DECODE_ERROR, a.dispatchRead(0, 4, false, U, out), "through an alias");
        assertTrue(calls.isEmpty());
    }

    @Test
    void reentryIntoTheSameOwnerIsAnAccessError() {
        Object device = new Object();
        int[] inner = new int[1];
        MemoryRegion[] target = new MemoryRegion[1];
        MmioValue innerOut = new MmioValue();
        MemoryRegionOps forwarding = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    inner[0] = target[0].dispatchRead(0, 4, false, U, innerOut);
                    return 1;
                })
                .build();
        IoRegion front = new IoRegion(sys, device, forwarding, "front", 0x100);
        IoRegion sibling = device(device, "sibling", 0x100);
        // through an alias owned by someone else: the guard is the terminal region's owner's
        target[0] = new AliasRegion(sys, new Object(), "bridge", sibling, 0, 0x100);
        assertEquals(MemTxResult.OK, front.dispatchRead(0, 4, false, U, out));
        assertEquals(MemTxResult.ACCESS_ERROR, inner[0]);
        assertTrue(calls.isEmpty(), "the sibling never saw the re-entrant access");
        assertFalse(sys.reentrancyGuards().of(device).isEngaged(), "released after the outer access");

        sibling.setReentrancyGuardDisabled(true);
        assertEquals(MemTxResult.OK, front.dispatchRead(0, 4, false, U, out));
        assertEquals(MemTxResult.OK, inner[0], "disable_reentrancy_guard");
        assertEquals(1, calls.size());

        IoRegion other = device(new Object(), "other-owner", 0x100);
        target[0] = other;
        assertEquals(MemTxResult.OK, front.dispatchRead(0, 4, false, U, out));
        assertEquals(MemTxResult.OK, inner[0], "another device is not re-entry");
    }

    @Test
    void reentryThroughAWriteIsRefusedToo() {
        Object device = new Object();
        int[] inner = new int[1];
        IoRegion sibling = device(device, "sibling", 0x100);
        IoRegion front = new IoRegion(sys, device, MemoryRegionOps.builder()
                .write((addr, data, size) -> inner[0] = sibling.dispatchWrite(0, data, 4, false, U))
                .build(), "front", 0x100);
        assertEquals(MemTxResult.OK, front.dispatchWrite(0, 5, 4, false, U));
        assertEquals(MemTxResult.ACCESS_ERROR, inner[0]);
        assertTrue(calls.isEmpty());
    }

    @Test
    void writeMatchingAnEventfdSignalsAsTheAddressSpaceWriteDoes() {
        IoRegion dev = device(new Object(), "doorbell", 0x1000);
        EventNotifier kick = EventNotifier.create();
        toClose.add(kick);
        dev.addEventfd(0x10, 2, true, 3, kick);
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        root.addSubregion(0x4000, dev);
        AddressSpace as = sys.addressSpace(root, "memory");
        AliasRegion bridge = new AliasRegion(sys, null, "bridge", dev, 0x8, 0x100);

        assertEquals(MemTxResult.OK, as.stwLe(0x4010, 3));
        assertTrue(kick.testAndClear(), "the address-space write signals");
        assertEquals(MemTxResult.OK, dev.dispatchWrite(0x10, 3, 2, false, U));
        assertTrue(kick.testAndClear(), "so does the region write");
        assertEquals(MemTxResult.OK, bridge.dispatchWrite(0x8, 3, 2, false, U));
        assertTrue(kick.testAndClear(), "and through an alias, at the target's offset");
        assertTrue(calls.isEmpty(), "the device was not called");

        // a big-endian write is compared in the device's order, as on the address-space path
        assertEquals(MemTxResult.OK, as.stwBe(0x4010, 0x0300));
        assertTrue(kick.testAndClear());
        assertEquals(MemTxResult.OK, dev.dispatchWrite(0x10, 0x0300, 2, true, U));
        assertTrue(kick.testAndClear());

        assertEquals(MemTxResult.OK, dev.dispatchWrite(0x10, 4, 2, false, U), "other data");
        assertEquals(MemTxResult.OK, dev.dispatchWrite(0x12, 3, 2, false, U), "other offset");
        assertFalse(kick.testAndClear());
        assertEquals(2, calls.size());
        sys.destroyAddressSpace(as);
    }

    @Test
    void accessesAllocateNothingOnceTheGuardIsCached() throws Throwable {
        // java.management by reflection: the engine module, which the tests are patched into, does not read it
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        MethodHandle allocatedBytes = MethodHandles.publicLookup().findVirtual(
                Class.forName("com.sun.management.ThreadMXBean"), "getCurrentThreadAllocatedBytes",
                MethodType.methodType(long.class));
        IoRegion dev = new IoRegion(sys, new Object(), MemoryRegionOps.builder()
                .read((addr, size) -> addr)
                .write((addr, data, size) -> { })
                .build(), "quiet", 0x100);
        AliasRegion alias = new AliasRegion(sys, null, "to-quiet", dev, 0x10, 0x80);
        int loops = Integer.getInteger("guestmem.regiondispatch.loops", 20_000);
        long sum = accessLoop(alias, 1_000); // the first access looks the owner's guard up
        for (int i = 0; i < 3; i++) {
            sum += allocatedBytes(allocatedBytes, mx) & 1; // links the one call site first
        }
        long before = allocatedBytes(allocatedBytes, mx);
        sum += accessLoop(alias, loops);
        long allocated = allocatedBytes(allocatedBytes, mx) - before;
        assertTrue(sum != 0);
        // Less than a byte per access: one object per access would be 16 bytes or more each. (The JVM
        // itself allocates a few KiB, however long the loop, while it compiles it.)
        assertTrue(allocated < 2L * loops, allocated + " bytes allocated by " + loops + " reads and writes");
    }

    /** One call site for every reading: linking an invoke site allocates, the first time only. */
    private static long allocatedBytes(MethodHandle getter, Object bean) throws Throwable {
        return (long) getter.invoke(bean);
    }

    private long accessLoop(MemoryRegion mr, int n) {
        long sum = 0;
        for (int i = 0; i < n; i++) {
            long off = (i * 8L) & 0x7f;
            mr.dispatchRead(off & ~7L, 8, false, U, out);
            sum += out.value;
            sum += mr.dispatchWrite(off & ~3L, i, 4, false, U);
        }
        return sum;
    }
}
