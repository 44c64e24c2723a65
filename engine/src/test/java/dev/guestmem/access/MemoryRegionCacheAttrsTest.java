package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * QEMU's {@code address_space_ld*_cached}/{@code st*_cached} take {@code MemTxAttrs}: a cached MMIO
 * access hands them to the device's with-attrs callbacks, and a cached access over an IOMMU to the
 * IOMMU's translation ({@code address_space_translate_cached}). Every width and byte order is
 * checked against the address space's own accessor with the same attributes.
 */
class MemoryRegionCacheAttrsTest {
    private static final MemTxAttrs SECURE = new MemTxAttrs(false, true, false, false, false, 0x1234);
    private static final MemTxAttrs NON_SECURE = new MemTxAttrs(false, false, true, false, false, 0x0042);
    private static final long DEV = 0x20000;
    private static final long RAM = 0x10000;
    private static final long IOMMU = 0x100000;

    /** A cached load and the address space's load of the same width and byte order. */
    interface CacheLoad {
        long load(MemoryRegionCache c, long off, MemTxAttrs attrs, MemTxResultHolder res);
    }

    interface SpaceLoad {
        long load(AddressSpace as, long addr, MemTxAttrs attrs, MemTxResultHolder res);
    }

    record Load(String name, int size, CacheLoad cache, SpaceLoad space) {
        @Override
        public String toString() {
            return name;
        }
    }

    interface CacheStore {
        int store(MemoryRegionCache c, long off, long val, MemTxAttrs attrs);
    }

    interface SpaceStore {
        int store(AddressSpace as, long addr, long val, MemTxAttrs attrs);
    }

    record Store(String name, int size, CacheStore cache, SpaceStore space) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Load> loads() {
        return Stream.of(
                new Load("ldub", 1, (c, o, a, r) -> c.ldub(o, a, r), (s, x, a, r) -> s.ldub(x, a, r)),
                new Load("lduwLe", 2, (c, o, a, r) -> c.lduwLe(o, a, r), (s, x, a, r) -> s.lduwLe(x, a, r)),
                new Load("lduwBe", 2, (c, o, a, r) -> c.lduwBe(o, a, r), (s, x, a, r) -> s.lduwBe(x, a, r)),
                new Load("ldlLe", 4, (c, o, a, r) -> c.ldlLe(o, a, r), (s, x, a, r) -> s.ldlLe(x, a, r)),
                new Load("ldlBe", 4, (c, o, a, r) -> c.ldlBe(o, a, r), (s, x, a, r) -> s.ldlBe(x, a, r)),
                new Load("ldqLe", 8, (c, o, a, r) -> c.ldqLe(o, a, r), (s, x, a, r) -> s.ldqLe(x, a, r)),
                new Load("ldqBe", 8, (c, o, a, r) -> c.ldqBe(o, a, r), (s, x, a, r) -> s.ldqBe(x, a, r)));
    }

    static Stream<Store> stores() {
        return Stream.of(
                new Store("stb", 1, (c, o, v, a) -> c.stb(o, (int) v, a), (s, x, v, a) -> s.stb(x, (int) v, a)),
                new Store("stwLe", 2, (c, o, v, a) -> c.stwLe(o, (int) v, a), (s, x, v, a) -> s.stwLe(x, (int) v, a)),
                new Store("stwBe", 2, (c, o, v, a) -> c.stwBe(o, (int) v, a), (s, x, v, a) -> s.stwBe(x, (int) v, a)),
                new Store("stlLe", 4, (c, o, v, a) -> c.stlLe(o, (int) v, a), (s, x, v, a) -> s.stlLe(x, (int) v, a)),
                new Store("stlBe", 4, (c, o, v, a) -> c.stlBe(o, (int) v, a), (s, x, v, a) -> s.stlBe(x, (int) v, a)),
                new Store("stqLe", 8, (c, o, v, a) -> c.stqLe(o, v, a), (s, x, v, a) -> s.stqLe(x, v, a)),
                new Store("stqBe", 8, (c, o, v, a) -> c.stqBe(o, v, a), (s, x, v, a) -> s.stqBe(x, v, a)));
    }

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    /** The attributes each device callback saw, in call order. */
    private final List<MemTxAttrs> seen = new ArrayList<>();
    private final List<String> writes = new ArrayList<>();

    /**
     * A secure-world device: its with-attrs callbacks record the attributes and refuse a non-secure
     * access with ACCESS_ERROR; a read answers a pattern of the offset so values can be compared.
     */
    private AddressSpace secureDevice() {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .readWithAttrs((addr, size, attrs, out) -> {
                    seen.add(attrs);
                    out.value = 0x8877665544332211L >>> (8 * (8 - size)) ^ addr;
                    return attrs.secure() ? MemTxResult.OK : MemTxResult.ACCESS_ERROR;
                })
                .writeWithAttrs((addr, data, size, attrs) -> {
                    seen.add(attrs);
                    writes.add(Long.toHexString(addr) + "/" + size + "=" + Long.toHexString(data));
                    return attrs.secure() ? MemTxResult.OK : MemTxResult.ACCESS_ERROR;
                })
                .valid(1, 8, true)
                .impl(1, 8, true)
                .build();
        root.addSubregion(DEV, new IoRegion(sys, null, ops, "secure-dev", 0x100));
        return sys.addressSpace(root, "memory");
    }

    @ParameterizedTest
    @MethodSource("loads")
    void aCachedMmioLoadHandsTheCallersAttrsToTheDevice(Load ld) {
        AddressSpace as = secureDevice();
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x40, c.init(as, DEV + 0x10, 0x40, false));
        assertFalse(c.isDirect());
        for (MemTxAttrs attrs : List.of(SECURE, NON_SECURE)) {
            MemTxResultHolder viaSpace = new MemTxResultHolder();
            long expected = ld.space().load(as, DEV + 0x18, attrs, viaSpace);
            seen.clear();
            MemTxResultHolder viaCache = new MemTxResultHolder();
            long got = ld.cache().load(c, 8, attrs, viaCache);
            assertEquals(List.of(attrs), seen, "the device sees the caller's attrs");
            assertEquals(expected, got, "the value read as on the address-space path");
            assertEquals(viaSpace.get(), viaCache.get(), "the result as on the address-space path");
        }
        MemTxResultHolder refused = new MemTxResultHolder();
        ld.cache().load(c, 8, NON_SECURE, refused);
        assertEquals(MemTxResult.ACCESS_ERROR, refused.get());
        c.destroy();
    }

    @ParameterizedTest
    @MethodSource("stores")
    void aCachedMmioStoreHandsTheCallersAttrsToTheDevice(Store st) {
        AddressSpace as = secureDevice();
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x40, c.init(as, DEV + 0x10, 0x40, true));
        for (MemTxAttrs attrs : List.of(SECURE, NON_SECURE)) {
            writes.clear();
            int expected = st.space().store(as, DEV + 0x18, 0x0102030405060708L, attrs);
            List<String> expectedWrites = List.copyOf(writes);
            seen.clear();
            writes.clear();
            int got = st.cache().store(c, 8, 0x0102030405060708L, attrs);
            assertEquals(List.of(attrs), seen, "the device sees the caller's attrs");
            assertEquals(expectedWrites, writes, "the device gets the value as on the address-space path");
            assertEquals(expected, got, "the result as on the address-space path");
        }
        assertEquals(MemTxResult.ACCESS_ERROR, st.cache().store(c, 8, 1, NON_SECURE));
        c.destroy();
    }

    /** The attrs-less accessors are the unspecified attributes, as before. */
    @ParameterizedTest
    @MethodSource("loads")
    void theAttrsLessAccessorsAreUnspecified(Load ld) {
        AddressSpace as = secureDevice();
        MemoryRegionCache c = new MemoryRegionCache();
        c.init(as, DEV, 0x40, true);
        switch (ld.size()) {
            case 1 -> c.ldub(0, null);
            case 2 -> c.lduwLe(0, null);
            case 4 -> c.ldlLe(0, null);
            default -> c.ldqLe(0, null);
        }
        switch (ld.size()) {
            case 1 -> c.stb(0, 1);
            case 2 -> c.stwLe(0, 1);
            case 4 -> c.stlLe(0, 1);
            default -> c.stqLe(0, 1);
        }
        assertEquals(List.of(MemTxAttrs.UNSPECIFIED, MemTxAttrs.UNSPECIFIED), seen);
        c.destroy();
    }

    /** RAM behaves the same whatever the attributes; the holder is filled as the address space fills it. */
    @ParameterizedTest
    @MethodSource("loads")
    void aRamCacheLoadsTheSameWithAnyAttrs(Load ld) {
        RamBlock b = RamBlock.anonymous("ring", 0x1000);
        for (int i = 0; i < 0x40; i++) {
            b.segment().set(ValueLayout.JAVA_BYTE, i, (byte) (0x11 * i + 3));
        }
        root.addSubregion(RAM, new RamRegion(sys, null, "ring", b, false, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x100, c.init(as, RAM, 0x100, true));
        assertTrue(c.isDirect());
        MemTxAttrs memoryOnly = new MemTxAttrs(false, false, false, true, false, 7);
        for (MemTxAttrs attrs : List.of(MemTxAttrs.UNSPECIFIED, SECURE, NON_SECURE, MemTxAttrs.DEBUG, memoryOnly)) {
            long expected = ld.space().load(as, RAM + 5, attrs, null);
            MemTxResultHolder res = new MemTxResultHolder();
            res.set(MemTxResult.ERROR); // left over from an earlier failed access
            assertEquals(expected, ld.cache().load(c, 5, attrs, res), attrs.toString());
            assertEquals(MemTxResult.OK, res.get(), "the holder says OK, as the address space's load sets it");
        }
        c.destroy();
    }

    @ParameterizedTest
    @MethodSource("stores")
    void aRamCacheStoresTheSameWithAnyAttrs(Store st) {
        RamBlock b = RamBlock.anonymous("ring", 0x1000);
        root.addSubregion(RAM, new RamRegion(sys, null, "ring", b, false, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        MemoryRegionCache c = new MemoryRegionCache();
        c.init(as, RAM, 0x100, true);
        for (MemTxAttrs attrs : List.of(SECURE, MemTxAttrs.DEBUG)) {
            st.space().store(as, RAM + 0x20, 0x0102030405060708L, attrs);
            long expected = b.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0x20);
            assertEquals(MemTxResult.OK, st.cache().store(c, 0x40, 0x0102030405060708L, attrs));
            assertEquals(expected, b.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0x40));
        }
        c.destroy();
    }

    /**
     * An IOMMU with a secure and a non-secure context ({@code attrs_to_index}): secure accesses
     * land on the target's second page. QEMU's {@code address_space_translate_cached} translates
     * with the access's attributes, so the cached accesses choose the context as the space's do.
     */
    @ParameterizedTest
    @MethodSource("loads")
    void aCachedLoadOverAnIommuTranslatesWithTheCallersAttrs(Load ld) {
        RamBlock target = RamBlock.anonymous("target", 0x2000);
        for (int i = 0; i < 0x2000; i++) {
            target.segment().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + (i >> 12) * 0x55));
        }
        List<Integer> indexes = new ArrayList<>();
        AddressSpace as = iommuOver(target, indexes);
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x100, c.init(as, IOMMU, 0x100, false));
        assertFalse(c.isDirect());
        for (MemTxAttrs attrs : List.of(SECURE, NON_SECURE)) {
            long expected = ld.space().load(as, IOMMU + 0x10, attrs, null);
            indexes.clear();
            MemTxResultHolder res = new MemTxResultHolder();
            assertEquals(expected, ld.cache().load(c, 0x10, attrs, res), attrs.toString());
            assertEquals(MemTxResult.OK, res.get());
            assertEquals(List.of(attrs.secure() ? 1 : 0), indexes, "the IOMMU translates in the caller's context");
        }
        c.destroy();
    }

    @ParameterizedTest
    @MethodSource("stores")
    void aCachedStoreOverAnIommuTranslatesWithTheCallersAttrs(Store st) {
        RamBlock target = RamBlock.anonymous("target", 0x2000);
        List<Integer> indexes = new ArrayList<>();
        AddressSpace as = iommuOver(target, indexes);
        MemoryRegionCache c = new MemoryRegionCache();
        c.init(as, IOMMU, 0x100, true);
        assertEquals(MemTxResult.OK, st.cache().store(c, 0x10, 0x0102030405060708L, SECURE));
        assertEquals(List.of(1), indexes);
        assertEquals(8, target.segment().get(ValueLayout.JAVA_BYTE, 0x1000 + 0x10 + (st.name().endsWith("Be") ? st.size() - 1 : 0)),
                "the store lands in the secure page");
        assertEquals(0, target.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0x10), "not in the non-secure page");
        c.destroy();
    }

    /**
     * A debug store may write ROM ({@code memory_access_is_direct} with {@code attrs.debug}), as the
     * address space's own debug store does; a plain store through the same cache is still refused.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void aCachedDebugStoreWritesRomAsTheSpaceDoes(boolean isWrite) {
        RamBlock b = RamBlock.anonymous("rom", 0x1000);
        root.addSubregion(RAM, new RamRegion(sys, null, "rom", b, true, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(MemTxResult.OK, as.stlLe(RAM, 0x11223344, MemTxAttrs.DEBUG), "the space's debug store");
        assertEquals(0x11223344, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        MemoryRegionCache c = new MemoryRegionCache();
        assertEquals(0x100, c.init(as, RAM, 0x100, isWrite));
        sys.globalDirtyLogStart();
        dev.guestmem.dirty.DirtyMemory dm = sys.dirtyMemory();
        dm.snapshotAndClearDirty(b.offset(), 0x1000, dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(MemTxResult.DECODE_ERROR, c.stlLe(0x10, 0x55, NON_SECURE), "a plain store to ROM is refused");
        assertEquals(MemTxResult.OK, c.stlLe(0x10, 0x5566, MemTxAttrs.DEBUG));
        assertEquals(0x5566, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x10));
        assertTrue(dm.getDirty(b.offset() + 0x10, 4, dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_MIGRATION),
                "logged at once: a cache over ROM has nothing for invalidate to mark");
        assertEquals(0x5566, c.ldlLe(0x10, MemTxAttrs.DEBUG, null));
        sys.globalDirtyLogStop();
        c.destroy();
    }

    /** Index 1 (secure) maps IOMMU page 0 to the target's page 1, index 0 to its page 0. */
    private AddressSpace iommuOver(RamBlock target, List<Integer> indexes) {
        ContainerRegion tgtRoot = new ContainerRegion(sys, null, "target-root", -1L);
        tgtRoot.addSubregion(0, new RamRegion(sys, null, "target", target, false, false));
        AddressSpace tgt = sys.addressSpace(tgtRoot, "target");
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x1000);
        iommu.setIommuOps(new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
                indexes.add(iommuIdx);
                out.targetAs = tgt;
                out.iova = addr & ~0xFFFL;
                out.translatedAddr = (addr & ~0xFFFL) + 0x1000L * iommuIdx;
                out.addrMask = 0xFFF;
                out.perm = IommuTlbEntry.RW;
            }

            @Override
            public int attrsToIndex(MemTxAttrs attrs) {
                return attrs.secure() ? 1 : 0;
            }

            @Override
            public int numIndexes() {
                return 2;
            }
        });
        root.addSubregion(IOMMU, iommu);
        return sys.addressSpace(root, "memory");
    }
}
