package dev.guestmem;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Regressions found by reviewing the fourth session's changes (each failed before its fix): a region
 * finalized inside a commit, a write cache over ROM, the pages logClear reports after a reset,
 * and incremental renders of regions that end beyond 2^64.
 */
class ReviewRegressionTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private static List<String> describe(FlatView v) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.rangeCount(); i++) {
            FlatRange r = v.range(i);
            out.add(Long.toHexString(r.start()) + "-" + Long.toHexString(r.last()) + " " + r.region().name()
                    + " @" + Long.toHexString(r.offsetInRegion()));
        }
        return out;
    }

    private static List<String> describe(List<FlatRange> ranges) {
        List<String> out = new ArrayList<>();
        for (FlatRange r : ranges) {
            out.add(Long.toHexString(r.start()) + "-" + Long.toHexString(r.last()) + " " + r.region().name()
                    + " @" + Long.toHexString(r.offsetInRegion()));
        }
        return out;
    }

    /**
     * MemoryRegion.finalizeRegion now deletes subregions. When the last reference of a region with
     * subregions is dropped by the view cache (retainViews, inside updateTopology), the nested
     * delSubregion commits a second topology update from inside the first (the region keeps
     * enabled == true, unlike QEMU's finalize). The address space must end up showing the new view.
     */
    @Test
    void finalizeDuringCommitDoesNotPublishAStaleView() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamRegion r = RamRegion.allocate(sys, null, "r", 0x10000);
        RamRegion s = RamRegion.allocate(sys, null, "s", 0x1000);
        r.addSubregionOverlap(0x1000, s, 1);
        root.addSubregion(0x100000, r);
        assertEquals(MemTxResult.OK, as.stqLe(0x100000, 42));
        List<String> events = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection sec) {
                events.add("add " + sec.region().name());
            }

            @Override
            public void regionDel(MemoryRegionSection sec) {
                events.add("del " + sec.region().name());
            }
        }, as);
        events.clear();

        Throwable thrown = null;
        try {
            sys.transactionBegin();
            try {
                root.delSubregion(r);
                r.destroy(); // QEMU: object_unparent inside the transaction
            } finally {
                sys.transactionCommit();
            }
        } catch (Throwable t) {
            thrown = t;
        }
        List<String> fresh = describe(FlatViewRenderer.render(root));
        assertEquals(List.of(), fresh, "nothing is mapped any more");
        assertEquals(fresh, describe(as.currentMap()), "the published view is the new one");
        if (thrown != null) {
            throw new AssertionError("the commit failed", thrown);
        }
        assertTrue(r.isFinalized());
        assertEquals(MemTxResult.DECODE_ERROR, as.stqLe(0x100000, 1), "r's old address is unassigned");
        assertEquals(0, events.stream().filter(e -> e.startsWith("add")).count(), "no region re-added: " + events);
    }

    /**
     * A cache initialised for writing over ROM has no pointer (ROM is not direct for writes), but
     * QEMU's address_space_read_cached_slow reads ROM directly (flatview_read_continue_step: direct
     * for reads). The new mmioBuffer path dispatches the read to the ROM's (absent) ops instead.
     */
    @Test
    void writeCacheOverRomReadsTheRomContents() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
        root.addSubregion(0x10000, rom);
        AddressSpace as = sys.addressSpace(root, "memory");
        rom.ramBlock().segment().set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0x10, 0x1122334455667788L);
        byte[] want = new byte[8];
        assertEquals(MemTxResult.OK, as.read(0x10010, U, want, 0, 8));

        MemoryRegionCache c = new MemoryRegionCache();
        c.init(as, 0x10000, 0x100, true);
        byte[] got = new byte[8];
        int r = c.read(0x10, got, 0, 8);
        assertEquals(MemTxResult.OK, r, "QEMU reads ROM directly through a write cache");
        assertArrayEquals(want, got);
        c.destroy();
    }

    /** The fixed-size load of the same cache (pre-existing path, same root cause). */
    @Test
    void writeCacheOverRomLoadsTheRomContents() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
        root.addSubregion(0x10000, rom);
        AddressSpace as = sys.addressSpace(root, "memory");
        rom.ramBlock().segment().set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0x10, 0x1122334455667788L);
        MemoryRegionCache c = new MemoryRegionCache();
        c.init(as, 0x10000, 0x100, true);
        dev.guestmem.access.MemTxResultHolder res = new dev.guestmem.access.MemTxResultHolder();
        long v = c.ldqLe(0x10, res);
        assertEquals(MemTxResult.OK, res.get());
        assertEquals(0x1122334455667788L, v);
        c.destroy();
    }

    /**
     * QEMU's memory_region_reset_dirty -> physical_memory_test_and_clear_dirty calls
     * memory_region_clear_dirty_bitmap with the page-aligned range it cleared
     * (start_page << TARGET_PAGE_BITS, (end - start_page) << TARGET_PAGE_BITS). Here logClear
     * gets the unaligned request.
     */
    @Test
    void resetDirtyLogClearCoversTheWholePagesCleared() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x1000000);
        RamRegion vram = RamRegion.allocate(sys, null, "vram", 0x10000);
        root.addSubregion(0x200000, vram);
        AddressSpace as = sys.addressSpace(root, "memory");
        List<String> cleared = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void logClear(MemoryRegionSection s) {
                cleared.add(Long.toHexString(s.offsetWithinRegion()) + "+" + Long.toHexString(s.size()));
            }
        }, as);
        vram.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        vram.resetDirty(0x1010, 0x20, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(List.of("1000+1000"), cleared, "the whole page 0x1000 was cleared");
    }

    /** As QEMU's memory_region_set_size, ramResize does not check the end against 2^64: it clips. */
    @Test
    void ramResizePast2To64IsAcceptedAndClipped() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamBlock b = RamBlock.builder("grow", 0x1000).resizeable(0x4000, null).build();
        RamRegion r = new RamRegion(sys, null, "grow", b, false, false);
        root.addSubregion(-0x1000L, r);
        AddressSpace as = sys.addressSpace(root, "memory");
        r.ramResize(0x2000);
        assertEquals(0x2000, r.size());
        assertEquals(List.of("fffffffffffff000-ffffffffffffffff grow @0"), describe(as.currentMap()));
    }

    /**
     * Regions ending beyond 2^64 are accepted now; incremental (window) re-rendering must agree with
     * a full render when such a region changes.
     */
    @Test
    void regionsPastTwoTo64PatchLikeAFullRender() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamRegion a = RamRegion.allocate(sys, null, "a", 0x4000);
        RamRegion low = RamRegion.allocate(sys, null, "low", 0x1000);
        root.addSubregion(0, low);
        root.addSubregion(-0x2000L, a);
        assertEquals(describe(FlatViewRenderer.render(root)), describe(as.currentMap()));
        a.setAddress(-0x1000L);
        assertEquals(describe(FlatViewRenderer.render(root)), describe(as.currentMap()));
        a.setEnabled(false);
        assertEquals(describe(FlatViewRenderer.render(root)), describe(as.currentMap()));
        a.setEnabled(true);
        a.setSize(0x1000);
        assertEquals(describe(FlatViewRenderer.render(root)), describe(as.currentMap()));
        // alias windows past the target, and past 2^64 in the target
        AliasRegion al = new AliasRegion(sys, null, "al", low, -0x800L, 0x2000);
        root.addSubregion(0x100000, al);
        assertEquals(describe(FlatViewRenderer.render(root)), describe(as.currentMap()));
        assertEquals(MemTxResult.DECODE_ERROR, as.stqLe(0x100800, 1), "nothing of low lies there (QEMU: Int128 base)");
        al.setAliasOffset(0x800);
        assertEquals(describe(FlatViewRenderer.render(root)), describe(as.currentMap()));
        assertEquals(MemTxResult.OK, as.stqLe(0x100000, 1));
        assertEquals(MemTxResult.DECODE_ERROR, as.stqLe(0x100800, 1));
    }
}
