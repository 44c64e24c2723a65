package dev.guestmem.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The target's byte order ({@code TARGET_BIG_ENDIAN}) for a machine whose order differs from the
 * host's: a big-endian board on a little-endian host. In QEMU, {@code DEVICE_NATIVE_ENDIAN} is the
 * target's order ({@code devend_big_endian}, {@code memory_region_big_endian}), the unsuffixed
 * {@code address_space_ldl}/{@code stl} use it ({@code ldl_p}), {@code memory_region_add_eventfd}
 * takes its data in it ({@code MO_TE}), and a RAM device stays host-endian
 * ({@code ram_device_mem_ops}: {@code DEVICE_HOST_ENDIAN}). Each expected value is worked out from
 * those rules.
 */
class TargetEndiannessTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    /** The order that is not the host's: what the target is in these tests. */
    private static final ByteOrder FOREIGN =
            ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
    private static final boolean TARGET_BIG = FOREIGN == ByteOrder.BIG_ENDIAN;

    private final MemorySystem sys = new MemorySystem(false, FOREIGN);
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    private final List<String> calls = new ArrayList<>();

    @AfterEach
    void close() {
        sys.close();
    }

    /** A register file whose register at every offset reads 0x11223344 (4 bytes) and logs writes. */
    private MemoryRegionOps ops(Endianness e, int implMin, int implMax) {
        return MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add("r" + addr + "/" + size);
                    return size == 4 ? 0x11223344L : size == 2 ? 0x1122L : size == 1 ? 0x11L : 0x1122334455667788L;
                })
                .write((addr, data, size) -> calls.add("w" + addr + "/" + size + "=" + Long.toHexString(data)))
                .valid(1, 8, false)
                .impl(implMin, implMax, false)
                .endianness(e)
                .build();
    }

    @Test
    void aNativeDeviceHasTheTargetsOrderNotTheHosts() {
        root.addSubregion(0x1000, new IoRegion(sys, new Object(), ops(Endianness.NATIVE, 4, 4), "native", 0x100));
        AddressSpace as = sys.addressSpace(root, "memory");
        // devend_big_endian(NATIVE) == target: a target-order access is not swapped
        int v = TARGET_BIG ? as.ldlBe(0x1000) : as.ldlLe(0x1000);
        assertEquals(0x11223344, v);
        assertEquals(MemTxResult.OK, TARGET_BIG ? as.stlBe(0x1004, 0xa1b2c3d4) : as.stlLe(0x1004, 0xa1b2c3d4));
        assertEquals("w4/4=a1b2c3d4", calls.getLast());
        // and chunks are combined in the target's order: an 8-byte access to impl 4 is two calls,
        // the first one in the high half for a big-endian device (access_with_adjusted_size)
        calls.clear();
        long q = TARGET_BIG ? as.ldqBe(0x1008) : as.ldqLe(0x1008);
        assertEquals(List.of("r8/4", "r12/4"), calls);
        assertEquals(0x11223344_11223344L, q);
        calls.clear();
        assertEquals(MemTxResult.OK, TARGET_BIG ? as.stqBe(0x1010, 0x0102030405060708L) : as.stqLe(0x1010, 0x0102030405060708L));
        assertEquals(TARGET_BIG ? List.of("w16/4=1020304", "w20/4=5060708") : List.of("w16/4=5060708", "w20/4=1020304"),
                calls);
    }

    @Test
    void opsBuiltWithoutAByteOrderAreNativeAsAnUnsetQemuField() {
        MemoryRegionOps unset = MemoryRegionOps.builder().read((addr, size) -> 0x11223344L).valid(4, 4, false).build();
        assertEquals(Endianness.NATIVE, unset.endianness());
        IoRegion dev = new IoRegion(sys, new Object(), unset, "unset", 0x100);
        assertEquals(Endianness.of(FOREIGN), dev.ops().endianness());
        root.addSubregion(0x1000, dev);
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(0x11223344, TARGET_BIG ? as.ldlBe(0x1000) : as.ldlLe(0x1000)); // target order: no swap
        try (MemorySystem host = new MemorySystem()) {
            IoRegion hostDev = new IoRegion(host, new Object(), unset, "unset", 0x100);
            assertEquals(Endianness.host(), hostDev.ops().endianness()); // a host-order system: as before on x86
        }
    }

    @Test
    void aRomDevicesNativeOpsHaveTheTargetsOrder() {
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, new Object(), ops(Endianness.NATIVE, 1, 8), "flash", 0x1000);
        root.addSubregion(0x2000, flash);
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(MemTxResult.OK, TARGET_BIG ? as.stwBe(0x2000, 0x1234) : as.stwLe(0x2000, 0x1234));
        assertEquals("w0/2=1234", calls.getLast());
    }

    @Test
    void theCachesUnsuffixedFormsUseTheTargetsOrder() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
        root.addSubregion(0, ram);
        root.addSubregion(0x2_0000, new IoRegion(sys, new Object(), ops(Endianness.LITTLE, 1, 8), "le-dev", 0x100));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache ring = new MemoryRegionCache();
        ring.init(as, 0x1000, 0x100, true);
        // address_space_stl_cached / ldl_phys_cached: the target's order, as the space's stl
        assertEquals(MemTxResult.OK, ring.stl(0, 0x11223344));
        assertEquals(0x11223344, TARGET_BIG ? as.ldlBe(0x1000) : as.ldlLe(0x1000));
        assertEquals(0x11223344, ring.ldl(0, null));
        ring.stw(8, 0xa1b2);
        assertEquals(0xa1b2, ring.lduw(8, null));
        assertEquals(0xa1b2, TARGET_BIG ? as.lduwBe(0x1008) : as.lduwLe(0x1008));
        ring.stq(16, 0x0102030405060708L);
        assertEquals(0x0102030405060708L, ring.ldq(16, null));
        assertEquals(0x0102030405060708L, as.ldq(0x1010));
        ring.invalidate(0, 0x100);
        ring.destroy();
        // through a device: the cache's unsuffixed load swaps as the space's does
        MemoryRegionCache regs = new MemoryRegionCache();
        regs.init(as, 0x2_0000, 0x100, false);
        assertEquals(as.ldl(0x2_0000), regs.ldl(0, null));
        regs.destroy();
    }

    @Test
    void theUnsuffixedAccessorsUseTheTargetsOrder() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
        root.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(root, "memory");
        // address_space_stl is ldl_p/stl_p: the target's order
        assertEquals(MemTxResult.OK, as.stl(0x100, 0x11223344));
        assertEquals(0x11223344, TARGET_BIG ? as.ldlBe(0x100) : as.ldlLe(0x100));
        assertEquals(0x11223344, as.ldl(0x100));
        as.stw(0x200, 0xa1b2);
        assertEquals(0xa1b2, TARGET_BIG ? as.lduwBe(0x200) : as.lduwLe(0x200));
        as.stq(0x300, 0x0102030405060708L);
        assertEquals(TARGET_BIG ? 1 : 8, as.ldub(0x300));
        assertEquals(0x0102030405060708L, as.ldq(0x300));
        assertEquals(0xa1b2, as.lduw(0x200));
        // and an unsuffixed access to a NATIVE device is not swapped, as in QEMU
        root.addSubregion(0x20000, new IoRegion(sys, new Object(), ops(Endianness.NATIVE, 1, 8), "native", 0x100));
        assertEquals(0x11223344, as.ldl(0x20000));
        assertEquals(0x1122, as.lduw(0x20000));
    }

    @Test
    void eventfdDataIsInTheTargetsOrder() {
        IoRegion big = new IoRegion(sys, new Object(), ops(Endianness.BIG, 1, 8), "big", 0x100);
        IoRegion little = new IoRegion(sys, new Object(), ops(Endianness.LITTLE, 1, 8), "little", 0x100);
        root.addSubregion(0x1000, big);
        root.addSubregion(0x2000, little);
        AddressSpace as = sys.addressSpace(root, "memory");
        try (EventNotifier kb = EventNotifier.create(); EventNotifier kl = EventNotifier.create()) {
            // memory_region_add_eventfd: adjust_endianness(mr, &data, size | MO_TE); the guest CPU's
            // own-order store of the value then matches, whatever the device's order
            big.addEventfd(0x8, 2, true, 0x1234, kb);
            little.addEventfd(0x8, 2, true, 0x1234, kl);
            assertEquals(MemTxResult.OK, TARGET_BIG ? as.stwBe(0x1008, 0x1234) : as.stwLe(0x1008, 0x1234));
            assertEquals(MemTxResult.OK, TARGET_BIG ? as.stwBe(0x2008, 0x1234) : as.stwLe(0x2008, 0x1234));
            assertTrue(kb.testAndClear(), "big-endian device's doorbell");
            assertTrue(kl.testAndClear(), "little-endian device's doorbell");
            assertEquals(List.of(), calls);
            assertEquals(MemTxResult.OK, as.stw(0x1008, 0x1234)); // the unsuffixed form is the target's
            assertTrue(kb.testAndClear());
            big.delEventfd(0x8, 2, true, 0x1234, kb); // the same data finds it again
            little.delEventfd(0x8, 2, true, 0x1234, kl);
        }
    }

    /** 8-byte datamatch and the size-0 wildcard, by the unsuffixed stores, on devices of either order. */
    @Test
    void eightByteAndWildcardEventfdsMatchTheCpusOwnStores() {
        IoRegion big = new IoRegion(sys, new Object(), ops(Endianness.BIG, 1, 8), "big", 0x100);
        IoRegion little = new IoRegion(sys, new Object(), ops(Endianness.LITTLE, 1, 8), "little", 0x100);
        root.addSubregion(0x1000, big);
        root.addSubregion(0x2000, little);
        AddressSpace as = sys.addressSpace(root, "memory");
        try (EventNotifier kb = EventNotifier.create(); EventNotifier kl = EventNotifier.create();
             EventNotifier any = EventNotifier.create()) {
            big.addEventfd(0x8, 8, true, 0x0102030405060708L, kb);
            little.addEventfd(0x8, 8, true, 0x0102030405060708L, kl);
            little.addEventfd(0x20, 0, true, 0x99, any); // size 0: any write there, data ignored
            assertEquals(MemTxResult.OK, as.stq(0x1008, 0x0102030405060708L));
            assertEquals(MemTxResult.OK, as.stq(0x2008, 0x0102030405060708L));
            assertEquals(MemTxResult.OK, as.stl(0x2020, 0x12345678));
            assertTrue(kb.testAndClear(), "big-endian device's 8-byte doorbell");
            assertTrue(kl.testAndClear(), "little-endian device's 8-byte doorbell");
            assertTrue(any.testAndClear(), "wildcard");
            assertEquals(List.of(), calls);
            assertEquals(MemTxResult.OK, TARGET_BIG ? as.stqLe(0x2008, 0x0102030405060708L)
                    : as.stqBe(0x2008, 0x0102030405060708L)); // the other order does not match
            assertFalse(kl.testAndClear());
            assertEquals(1, calls.size());
        }
    }

    /**
     * A region without ops (an I/O reservation, plain RAM, an IOMMU region) has QEMU's
     * {@code unassigned_mem_ops}, which are {@code DEVICE_NATIVE_ENDIAN}: {@code adjust_endianness}
     * from {@code MO_TE} to the target's order swaps nothing, so the eventfd keeps the data given,
     * and listeners (KVM) hear it so.
     */
    @Test
    void eventfdDataOfARegionWithoutOpsIsNotSwapped() {
        IoRegion reservation = new IoRegion(sys, new Object(), null, "reservation", 0x100);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        root.addSubregion(0x1000, reservation);
        root.addSubregion(0x10000, ram);
        AddressSpace as = sys.addressSpace(root, "memory");
        List<Long> heard = new ArrayList<>();
        sys.registerListener(new dev.guestmem.listener.MemoryListener() {
            @Override
            public void eventfdAdd(dev.guestmem.ioeventfd.Ioeventfd fd) {
                heard.add(fd.data());
            }
        }, as);
        try (EventNotifier k1 = EventNotifier.create(); EventNotifier k2 = EventNotifier.create()) {
            reservation.addEventfd(0x8, 4, true, 0x11223344L, k1);
            ram.addEventfd(0x8, 4, true, 0x55667788L, k2);
            assertEquals(0x11223344L, reservation.ioeventfds().get(0).data());
            assertEquals(0x55667788L, ram.ioeventfds().get(0).data());
            assertEquals(List.of(0x11223344L, 0x55667788L), heard.stream().sorted().toList());
            reservation.delEventfd(0x8, 4, true, 0x11223344L, k1);
            ram.delEventfd(0x8, 4, true, 0x55667788L, k2);
        }
    }

    @Test
    void aRamDeviceStaysHostEndian() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment bar = arena.allocate(0x1000, 8);
            bar.set(ValueLayout.JAVA_BYTE, 0, (byte) 0x11);
            bar.set(ValueLayout.JAVA_BYTE, 1, (byte) 0x22);
            bar.set(ValueLayout.JAVA_BYTE, 2, (byte) 0x33);
            bar.set(ValueLayout.JAVA_BYTE, 3, (byte) 0x44);
            RamBlock block = RamBlock.builder("bar0", 0x1000).ramDevice(bar).build();
            RamRegion dev = new RamRegion(sys, null, "bar0", block, false, true);
            root.addSubregion(0x4000, dev);
            AddressSpace as = sys.addressSpace(root, "memory");
            // ram_device_mem_ops is DEVICE_HOST_ENDIAN: every access reads the bytes as RAM does
            assertEquals(0x11223344, as.ldlBe(0x4000));
            assertEquals(0x44332211, as.ldlLe(0x4000));
            MmioValue out = new MmioValue();
            assertEquals(MemTxResult.OK, dev.dispatchRead(0, 2, true, U, out));
            assertEquals(0x1122, out.value);
            assertEquals(MemTxResult.OK, as.stlBe(0x4004, 0xa1b2c3d4));
            assertEquals((byte) 0xa1, bar.get(ValueLayout.JAVA_BYTE, 4));
            assertFalse(dev.ops().endianness() == Endianness.NATIVE);
            sys.close();
            block.close();
        }
    }

    @Test
    void oneNativeOpsServesMachinesOfEitherOrder() {
        MemoryRegionOps shared = ops(Endianness.NATIVE, 4, 4);
        IoRegion foreign = new IoRegion(sys, new Object(), shared, "foreign", 0x100);
        root.addSubregion(0x1000, foreign);
        AddressSpace as = sys.addressSpace(root, "memory");
        try (MemorySystem host = new MemorySystem()) {
            ContainerRegion hostRoot = new ContainerRegion(host, null, "system", MemoryRegion.SIZE_2_64);
            IoRegion mine = new IoRegion(host, new Object(), shared, "host", 0x100);
            hostRoot.addSubregion(0x1000, mine);
            AddressSpace hostAs = host.addressSpace(hostRoot, "memory");
            assertEquals(0x11223344, as.ldl(0x1000)); // each machine's own order, never swapped
            assertEquals(0x11223344, hostAs.ldl(0x1000));
            assertEquals(Endianness.of(FOREIGN), foreign.ops().endianness());
            assertEquals(Endianness.host(), mine.ops().endianness());
            assertEquals(Endianness.NATIVE, shared.endianness(), "the ops given stay as they were");
        }
    }

    @Test
    void theDefaultSystemKeepsTheHostsOrder() {
        try (MemorySystem plain = new MemorySystem(); MemorySystem tcg = new MemorySystem(true)) {
            assertEquals(ByteOrder.nativeOrder(), plain.targetOrder());
            assertEquals(ByteOrder.nativeOrder(), tcg.targetOrder());
            assertEquals(ByteOrder.nativeOrder() == ByteOrder.BIG_ENDIAN, plain.isTargetBigEndian());
        }
        try (MemorySystem big = new MemorySystem(false, ByteOrder.BIG_ENDIAN);
             MemorySystem little = new MemorySystem(false, ByteOrder.LITTLE_ENDIAN)) {
            assertTrue(big.isTargetBigEndian());
            assertFalse(little.isTargetBigEndian());
        }
    }
}
