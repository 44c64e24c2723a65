package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
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
        RegionCycleException e = assertThrows(RegionCycleException.class, () -> c.addSubregion(0, a));
        assertFalse(e instanceof AliasCycleException);
        assertEquals(List.of(), c.subregions());
        assertNull(a.container());
    }

    @Test
    void aliasCyclesAreRefused() {
        ContainerRegion a = container("a", 0x10000);
        ContainerRegion b = container("b", 0x10000);
        a.addSubregion(0, b);
        AliasRegion toA = new AliasRegion(sys, null, "toA", a, 0, 0x1000);
        AliasRegion toToA = new AliasRegion(sys, null, "toToA", toA, 0, 0x1000);
        assertThrows(AliasCycleException.class, () -> b.addSubregion(0x1000, toA));
        assertThrows(AliasCycleException.class, () -> a.addSubregion(0x1000, toToA));
        assertEquals(List.of(), b.subregions());
        assertEquals(List.of(b), a.subregions());
        assertFalse(toA.isMapped());
        assertFalse(a.isMapped());
    }

    @Test
    void rangesPast2To64AreRefused() {
        ContainerRegion root = container("root", MemoryRegion.SIZE_2_64);
        IoRegion page = io("page", 0x1000);
        root.addSubregion(0xffff_ffff_ffff_f000L, page); // ends exactly at 2^64: fine
        root.delSubregion(page);
        InvalidRangeException e = assertThrows(InvalidRangeException.class,
                () -> root.addSubregion(0xffff_ffff_ffff_f001L, page));
        assertEquals(0xffff_ffff_ffff_f001L, e.offset());
        assertEquals(0x1000, e.size());
        IoRegion all = io("all", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, all);
        root.delSubregion(all);
        assertThrows(InvalidRangeException.class, () -> root.addSubregion(1, all));
        assertEquals(List.of(), root.subregions());
        root.addSubregion(0xffff_ffff_ffff_e000L, page);
        assertThrows(InvalidRangeException.class, () -> page.setSize(0x3000));
        assertThrows(InvalidRangeException.class, () -> page.setAddress(0xffff_ffff_ffff_f800L));
        assertEquals(0x1000, page.size());
        assertEquals(0xffff_ffff_ffff_e000L, page.addr());
    }

    @Test
    void aliasWindowMustFitTheTarget() {
        IoRegion t = io("t", 0x1000);
        InvalidRangeException e = assertThrows(InvalidRangeException.class,
                () -> new AliasRegion(sys, null, "x", t, 0x800, 0x801));
        assertEquals(0x800, e.offset());
        assertThrows(InvalidRangeException.class, () -> new AliasRegion(sys, null, "x", t, -1L, 2));
        assertThrows(InvalidRangeException.class, () -> new AliasRegion(sys, null, "x", t, 0, -1L));
        AliasRegion ok = new AliasRegion(sys, null, "ok", t, 0x800, 0x800);
        assertThrows(InvalidRangeException.class, () -> ok.setAliasOffset(0x801));
        assertThrows(InvalidRangeException.class, () -> ok.setSize(0x801));
        assertEquals(0x800, ok.aliasOffset());
        assertEquals(0x800, ok.size());
        ok.setAliasOffset(0);
        ok.setSize(0x1000);
        assertEquals(0x1000, ok.size());
        assertEquals(List.of(ok), t.aliasReferrers());
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
        assertEquals(1, a.refCount());
        root.addSubregion(0, a);
        assertEquals(2, a.refCount());
        assertThrows(IllegalStateException.class, a::destroy);
        root.delSubregion(a);
        a.ref(); // e.g. a section copy
        a.destroy();
        assertTrue(a.isDestroyed());
        assertFalse(a.isFinalized());
        a.unref();
        assertTrue(a.isFinalized());
        assertThrows(IllegalStateException.class, a::ref);
        al.destroy();
        assertTrue(al.isFinalized());
        assertEquals(List.of(), a.aliasReferrers());
    }
}
