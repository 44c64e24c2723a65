package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Region-tree operations: QEMU's subregion list order, mapping state, validation, references. */
class MemoryRegionTest {
    private final MemorySystem sys = new MemorySystem();

    private ContainerRegion container(String name, long size) {
        return new ContainerRegion(sys, null, name, size);
    }

    private IoRegion io(String name, long size) {
        return new IoRegion(sys, null, null, name, size);
    }

    @Test
    void subregionsArePriorityDescendingNewestFirstAmongEquals() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion a = io("a", 0x100);
        IoRegion b = io("b", 0x100);
        IoRegion c = io("c", 0x100);
        IoRegion d = io("d", 0x100);
        IoRegion e = io("e", 0x100);
        root.addSubregion(0x0, a);
        root.addSubregionOverlap(0x0, b, 1);
        root.addSubregion(0x100, c);
        root.addSubregionOverlap(0x0, d, -1);
        root.addSubregionOverlap(0x0, e, 1);
        // insert before the first sibling with priority <= own
        assertEquals(List.of(e, b, c, a, d), root.subregions());
        assertEquals(1, e.priority());
        assertEquals(-1, d.priority());
    }

    @Test
    void setAddressReaddsAsNewestKeepingPriority() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion a = io("a", 0x100);
        IoRegion b = io("b", 0x100);
        IoRegion hi = io("hi", 0x100);
        root.addSubregionOverlap(0, hi, 5);
        root.addSubregion(0, a);
        root.addSubregion(0x200, b);
        assertEquals(List.of(hi, b, a), root.subregions());
        a.setAddress(0x400);
        assertEquals(List.of(hi, a, b), root.subregions());
        assertEquals(0x400, a.addr());
        hi.setAddress(0x800);
        assertEquals(List.of(hi, a, b), root.subregions());
        assertEquals(5, hi.priority());
        // unchanged address: no re-add, order stays
        b.setAddress(0x200);
        assertEquals(List.of(hi, a, b), root.subregions());
    }

    @Test
    void setAddressWithoutContainerJustSetsTheField() {
        IoRegion a = io("a", 0x100);
        a.setAddress(0x1234);
        assertEquals(0x1234, a.addr());
        assertNull(a.container());
    }

    @Test
    void delSubregionUnmaps() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion a = io("a", 0x100);
        root.addSubregion(0x10, a);
        assertTrue(a.isMapped());
        assertSame(root, a.container());
        root.delSubregion(a);
        assertFalse(a.isMapped());
        assertNull(a.container());
        assertEquals(List.of(), root.subregions());
        assertThrows(NotASubregionException.class, () -> root.delSubregion(a));
    }

    @Test
    void mappedViaAliasCountsEveryHopOfTheChain() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion t = io("t", 0x1000);
        AliasRegion a1 = new AliasRegion(sys, null, "a1", t, 0, 0x1000);
        AliasRegion a2 = new AliasRegion(sys, null, "a2", a1, 0x800, 0x800);
        assertFalse(t.isMapped());
        root.addSubregion(0, a2);
        assertTrue(a1.isMapped());
        assertTrue(t.isMapped());
        root.delSubregion(a2);
        assertFalse(a1.isMapped());
        assertFalse(t.isMapped());
    }

    @Test
    void addingAMappedRegionAgainIsRefusedAndChangesNothing() {
        ContainerRegion r1 = container("r1", 0x10000);
        ContainerRegion r2 = container("r2", 0x10000);
        IoRegion a = io("a", 0x100);
        r1.addSubregion(0x10, a);
        assertThrows(RegionAlreadyMappedException.class, () -> r2.addSubregion(0, a));
        assertThrows(RegionAlreadyMappedException.class, () -> r1.addSubregion(0x20, a));
        assertSame(r1, a.container());
        assertEquals(0x10, a.addr());
        assertEquals(List.of(a), r1.subregions());
        assertEquals(List.of(), r2.subregions());
    }

    @Test
    void regionsOfAnotherSystemAreRefused() {
        MemorySystem other = new MemorySystem();
        ContainerRegion root = container("root", 0x10000);
        IoRegion foreign = new IoRegion(other, null, null, "foreign", 0x100);
        assertThrows(ForeignRegionException.class, () -> root.addSubregion(0, foreign));
        assertThrows(ForeignRegionException.class, () -> new AliasRegion(sys, null, "x", foreign, 0, 0x100));
        assertEquals(List.of(), root.subregions());
        assertNull(foreign.container());
    }

    @Test
    void containerCyclesAreRefused() {
        ContainerRegion a = container("a", 0x10000);
        ContainerRegion b = container("b", 0x10000);
        ContainerRegion c = container("c", 0x10000);
        a.addSubregion(0, b);
        b.addSubregion(0, c);
        assertThrows(RegionCycleException.class, () -> a.addSubregion(0, a));
        assertThrows(RegionCycleException.class, () -> c.addSubregion(0, a));
        assertEquals(List.of(), c.subregions());
        assertNull(a.container());
    }

    /**
     * QEMU's Arm SSE boards map an alias of a container inside that container, at another address:
     * accepted (QEMU checks nothing), and rendering ends because each turn shifts and clips the
     * window. A cycle that does not shift (which QEMU would recurse on until its stack ran out)
     * renders a finite view too.
     */
    @Test
    void aliasCyclesRenderAsInQemu() {
        ContainerRegion root = container("root", MemoryRegion.SIZE_2_64);
        ContainerRegion sse = container("sse", 0x20000000);
        sse.addSubregion(0, io("dev", 0x1000));
        AliasRegion self = new AliasRegion(sys, null, "alias 3", sse, 0, 0x10000000);
        sse.addSubregionOverlap(0x10000000, self, -1500);
        root.addSubregion(0x40000000, sse);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("40000000-40000fff dev@0", "50000000-50000fff dev@0"), flat(as));

        // An alias showing its target at the same place would render for ever (QEMU overflows its
        // stack): refused, as is a self-alias nesting more than 64 copies, or any other alias cycle.
        ContainerRegion loop = container("loop", 0x2000);
        loop.addSubregion(0x1000, io("x", 0x100));
        AliasRegion still = new AliasRegion(sys, null, "still", loop, 0, 0x2000);
        assertThrows(RegionCycleException.class, () -> loop.addSubregionOverlap(0, still, -1));
        AliasRegion creep = new AliasRegion(sys, null, "creep", loop, 0, 0x2000);
        assertThrows(RegionCycleException.class, () -> loop.addSubregionOverlap(0x10, creep, -1));
        assertNull(still.container());
        assertNull(creep.container());
        ContainerRegion other = container("other", 0x1000);
        AliasRegion toOther = new AliasRegion(sys, null, "toOther", other, 0, 0x100);
        other.addSubregion(0x800, io("y", 0x10));
        loop.addSubregion(0x1800, toOther); // not a cycle: other is not inside loop
        assertThrows(RegionCycleException.class, () -> other.addSubregion(0, loop),
                "a cycle through an alias of something else than an enclosing region");
        // an alias of an enclosing region, mapped in a descendant at another place, is accepted
        AliasRegion inner = new AliasRegion(sys, null, "inner", loop, 0x1000, 0x100);
        ContainerRegion nested = container("nested", 0x400);
        loop.addSubregion(0x400, nested);
        nested.addSubregion(0x200, inner);
        root.addSubregion(0x80000000L, loop);
        assertEquals(List.of("40000000-40000fff dev@0", "50000000-50000fff dev@0", "80000600-800006ff x@0",
                "80001000-800010ff x@0"), flat(as));
        // a later move that makes the accepted cycle stop shifting renders a finite view
        self.setAddress(0);
        assertEquals(List.of("40000000-40000fff dev@0", "80000600-800006ff x@0", "80001000-800010ff x@0"), flat(as));
    }

    /**
     * As in QEMU (no check in memory_region_add_subregion_common, set_size or set_address), a region
     * may end beyond 2^64; rendering clips it (real boards do this: aspeed's max_ram, BCM2838's PCIe
     * window).
     */
    @Test
    void rangesPast2To64AreAcceptedAndClipped() {
        ContainerRegion root = container("root", MemoryRegion.SIZE_2_64);
        IoRegion page = io("page", 0x1000);
        root.addSubregion(0xffff_ffff_ffff_f001L, page);
        IoRegion all = io("all", MemoryRegion.SIZE_2_64);
        root.addSubregionOverlap(0x10000, all, -1);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("10000-fffffffffffff000 all@0", "fffffffffffff001-ffffffffffffffff page@0"), flat(as));
        page.setSize(0x3000);
        page.setAddress(0xffff_ffff_ffff_f800L);
        assertEquals(0x3000, page.size());
        assertEquals(List.of("10000-fffffffffffff7ff all@0", "fffffffffffff800-ffffffffffffffff page@0"), flat(as));
    }

    /** As in QEMU (memory_region_init_alias checks nothing), an alias window may pass its target's end: the rest shows nothing. */
    @Test
    void aliasWindowPassingTheTargetShowsOnlyTheTarget() {
        ContainerRegion root = container("root", 0x100000);
        IoRegion t = io("t", 0x1000);
        AliasRegion a = new AliasRegion(sys, null, "a", t, 0x800, 0x2000);
        root.addSubregion(0x10000, a);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("10000-107ff t@800"), flat(as));
        a.setAliasOffset(0x1800); // wholly past the end: nothing
        assertEquals(List.of(), flat(as));
        a.setAliasOffset(0);
        a.setSize(0x800);
        assertEquals(List.of("10000-107ff t@0"), flat(as));
        assertEquals(List.of(a), t.aliasReferrers());
    }

    @Test
    void commitWithoutBeginIsRefused() {
        assertThrows(IllegalStateException.class, sys::transactionCommit);
        sys.transactionBegin();
        sys.transactionCommit();
        assertThrows(IllegalStateException.class, sys::transactionCommit);
        assertFalse(sys.lock().isHeldByCurrentThread());
    }

    @Test
    void setLogIsReferenceCounted() {
        IoRegion a = io("a", 0x1000);
        assertEquals(0, a.dirtyLogMask());
        a.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        a.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(1, a.dirtyLogMask());
        a.setLog(false, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(1, a.dirtyLogMask());
        a.setLog(false, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(0, a.dirtyLogMask());
        assertThrows(IllegalArgumentException.class, () -> a.setLog(false, MemoryRegion.DIRTY_MEMORY_VGA));
        assertThrows(IllegalArgumentException.class, () -> a.setLog(true, MemoryRegion.DIRTY_MEMORY_MIGRATION));
    }

    @Test
    void referencesKeepADestroyedRegionAliveUntilTheLastUnref() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion a = io("a", 0x100);
        AliasRegion al = new AliasRegion(sys, null, "al", a, 0, 0x100);
        assertEquals(2, a.refCount(), "the creator's and the alias's");
        root.addSubregion(0, a);
        assertEquals(3, a.refCount());
        assertThrows(IllegalStateException.class, a::destroy);
        root.delSubregion(a);
        a.ref(); // e.g. a section copy
        a.destroy();
        assertTrue(a.isDestroyed());
        assertFalse(a.isFinalized());
        a.unref();
        assertFalse(a.isFinalized(), "the alias still refers to it");
        al.destroy();
        assertTrue(al.isFinalized());
        assertTrue(a.isFinalized(), "the alias's reference was the last");
        assertThrows(IllegalStateException.class, a::ref);
        assertThrows(IllegalStateException.class, () -> new AliasRegion(sys, null, "late", a, 0, 0x100),
                "an alias of a finalized region");
        assertEquals(List.of(), a.aliasReferrers());
    }

    private static List<String> flat(AddressSpace as) {
        List<String> out = new java.util.ArrayList<>();
        for (dev.guestmem.flat.FlatRange fr : as.currentMap().ranges()) {
            out.add(Long.toHexString(fr.start()) + "-" + Long.toHexString(fr.last()) + " " + fr.region().name() + "@"
                    + Long.toHexString(fr.offsetInRegion()));
        }
        return out;
    }
}
