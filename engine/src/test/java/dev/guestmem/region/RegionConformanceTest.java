package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeWriter;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.flat.FlatViewRoots;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The region API, rendering and mtree printing checked against QEMU's system/memory.c (from a
 * conformance audit): edge cases of rendering and printing, and four behaviours that were fixed to
 * match QEMU (finalizing a container frees its subregions; regions ending beyond 2^64 and alias
 * windows passing their target are accepted and clipped, not refused).
 */
class RegionConformanceTest {
    private final MemorySystem sys = new MemorySystem();

    private ContainerRegion container(String name, long size) {
        return new ContainerRegion(sys, null, name, size);
    }

    private IoRegion io(String name, long size) {
        return new IoRegion(sys, null, null, name, size);
    }

    static List<String> show(List<FlatRange> ranges) {
        List<String> out = new ArrayList<>();
        for (FlatRange r : ranges) {
            out.add(Long.toHexString(r.start()) + "-" + Long.toHexString(r.last()) + " " + r.region().name()
                    + (r.offsetInRegion() != 0 ? "@" + Long.toHexString(r.offsetInRegion()) : "")
                    + (r.readonly() ? " ro" : ""));
        }
        return out;
    }

    static List<String> show(AddressSpace as) {
        return show(as.currentMap().ranges());
    }

    private List<String> fullRender(AddressSpace as) {
        sys.lock().lock();
        try {
            return show(FlatViewRenderer.render(FlatViewRoots.of(as.root())));
        } finally {
            sys.lock().unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Behaviour that matched QEMU when audited

    /** mtree_print_mr: a disabled region's own line is hidden without -D, its subregions are still printed. */
    @Test
    void plainMtreeHidesDisabledLineButPrintsItsChildren() {
        ContainerRegion root = container("root", 0x10000);
        ContainerRegion dis = container("dis", 0x1000);
        dis.addSubregion(0x100, io("child", 0x10));
        root.addSubregion(0x2000, dis);
        dis.setEnabled(false);
        sys.addressSpace(root, "as");
        String plain = MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN);
        assertEquals("address-space: as\n"
                + "  0000000000000000-000000000000ffff (prio 0, i/o): root\n"
                + "      0000000000002100-000000000000210f (prio 0, i/o): child\n\n", plain);
        String d = MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.DISABLED);
        assertTrue(d.contains("    0000000000002000-0000000000002fff (prio 0, i/o): dis [disabled]\n"), d);
    }

    /** memory_region_type: an alias shows its target's type; the flat view shows "rom" for a read-only range. */
    @Test
    void readonlyAliasOfRamIsRamInTreeAndRomInFlatView() {
        ContainerRegion root = container("root", 0x100000);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x2000);
        AliasRegion win = new AliasRegion(sys, null, "win", ram, 0x1000, 0x1000);
        win.setReadonly(true);
        root.addSubregion(0x10000, win);
        sys.addressSpace(root, "as");
        String plain = MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN);
        assertTrue(plain.contains("    0000000000010000-0000000000010fff (prio 0, ram): alias win @ram "
                + "0000000000001000-0000000000001fff\n"), plain);
        assertTrue(plain.contains("memory-region: ram\n  0000000000000000-0000000000001fff (prio 0, ram): ram\n"),
                plain);
        String flat = FlatViewPrinter.print(sys);
        assertTrue(flat.contains("  0000000000010000-0000000000010fff (prio 0, rom): ram @0000000000001000\n"), flat);
    }

    /** memory_region_type: a ROM device out of ROMD mode is "i/o"; in ROMD mode "romd". */
    @Test
    void romDeviceTypeFollowsRomdMode() {
        ContainerRegion root = container("root", 0x100000);
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null,
                MemoryRegionOps.builder().read((a, s) -> 0).build(), "flash", 0x1000);
        root.addSubregion(0, flash);
        sys.addressSpace(root, "as");
        assertTrue(FlatViewPrinter.print(sys).contains("(prio 0, romd): flash\n"));
        flash.setRomd(false);
        assertTrue(FlatViewPrinter.print(sys).contains("(prio 0, i/o): flash\n"));
        assertTrue(MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN).contains("(prio 0, i/o): flash\n"));
    }

    /** memory_region_get_flatview_root: an empty root container gives the "(none)" view (checked on QEMU 7.2 -M none). */
    @Test
    void emptyOrDisabledRootPrintsNoRenderedFlatView() {
        ContainerRegion root = container("system", -1L);
        sys.addressSpace(root, "memory");
        assertEquals("FlatView #0\n AS \"memory\", root: system\n Root memory region: (none)\n"
                + "  No rendered FlatView\n\n", FlatViewPrinter.print(sys));
        MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN);
        assertEquals("address-space: memory\n  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n\n",
                MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN));
    }

    /** QEMU quirk kept: get_flatview_root descends into a lone child at 0, dropping the root's read-only flag. */
    @Test
    void lonelyChildFlatviewRootDropsRootReadonlyLikeQemu() {
        ContainerRegion root = container("root", 0x10000);
        root.setReadonly(true);
        root.addSubregion(0, io("dev", 0x1000));
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-fff dev"), show(as));
        root.addSubregion(0x8000, io("dev2", 0x1000)); // two children: root is the flat-view root again
        assertEquals(List.of("0-fff dev ro", "8000-8fff dev2 ro"), show(as));
    }

    /** render_memory_region: the alias base subtracts the target's own addr; the target's container flags are not inherited. */
    @Test
    void aliasIgnoresTargetAddrAndTargetContainerFlags() {
        ContainerRegion root = container("root", 0x100000);
        ContainerRegion other = container("other", 0x100000);
        other.setReadonly(true);
        IoRegion dev = io("dev", 0x1000);
        other.addSubregion(0x5000, dev);
        root.addSubregion(0x20000, new AliasRegion(sys, null, "a", dev, 0x800, 0x800));
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("20000-207ff dev@800"), show(as));
        dev.setAddress(0x7000); // moving the target inside its own container changes nothing for the alias
        assertEquals(List.of("20000-207ff dev@800"), show(as));
        assertEquals(fullRender(as), show(as));
    }

    /** MR_SIZE: 2^64 prints ...ffff, size 0 prints end == start. */
    @Test
    void mtreeSizesAtTheEdges() {
        ContainerRegion root = container("root", -1L);
        root.addSubregion(0x1000, io("zero", 0));
        root.addSubregion(0xffff_ffff_ffff_f000L, io("top", 0x1000));
        AddressSpace as = sys.addressSpace(root, "as");
        String plain = MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN);
        assertEquals("address-space: as\n"
                + "  0000000000000000-ffffffffffffffff (prio 0, i/o): root\n"
                + "    0000000000001000-0000000000001000 (prio 0, i/o): zero\n"
                + "    fffffffffffff000-ffffffffffffffff (prio 0, i/o): top\n\n", plain);
        assertEquals(List.of("fffffffffffff000-ffffffffffffffff top"), show(as));
    }

    /** Transactions nest; the view changes only at the outermost commit. */
    @Test
    void nestedTransactionsPublishOnce() {
        ContainerRegion root = container("root", 0x10000);
        AddressSpace as = sys.addressSpace(root, "as");
        sys.transactionBegin();
        try {
            root.addSubregion(0, io("a", 0x100));
            sys.transactionBegin();
            root.addSubregion(0x100, io("b", 0x100));
            sys.transactionCommit();
            assertEquals(List.of(), show(as));
        } finally {
            sys.transactionCommit();
        }
        assertEquals(List.of("0-ff a", "100-1ff b"), show(as));
    }


    /** Incremental views equal a full render after alias/target/root edits (render_memory_region is the oracle). */
    @Test
    void incrementalViewsMatchFullRenderAfterEdgeEdits() {
        ContainerRegion root = container("root", 0x100000);
        ContainerRegion side = container("side", 0x100000);
        IoRegion dev = io("dev", 0x4000);
        side.addSubregion(0x3000, dev);
        AliasRegion a = new AliasRegion(sys, null, "a", dev, 0x1000, 0x2000);
        root.addSubregion(0x10000, a);
        root.addSubregionOverlap(0x11000, io("hi", 0x100), 1);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(fullRender(as), show(as));
        // Target shrinks under the alias: accepted although the alias window [0x1000, 0x3000) now passes
        // the target's end, a window AliasRegion refuses on construction/setAliasOffset/setSize.
        dev.setSize(0x1800);
        assertEquals(List.of("10000-107ff dev@1000", "11000-110ff hi"), show(as));
        assertEquals(fullRender(as), show(as));
        a.setSize(0x800);
        a.setAliasOffset(0x800);
        assertEquals(fullRender(as), show(as));
        dev.setReadonly(true);
        assertEquals(fullRender(as), show(as));
        side.setEnabled(false);              // the target's container state does not matter to the alias
        assertEquals(fullRender(as), show(as));
        dev.setEnabled(false);               // a disabled target shows nothing through the alias
        assertEquals(List.of("11000-110ff hi"), show(as));
        dev.setEnabled(true);
        root.setEnabled(false);
        assertEquals(List.of(), show(as));
        assertSame(null, sys.addressSpaces().get(0).currentMap().root());
        root.setEnabled(true);
        assertEquals(fullRender(as), show(as));
    }

    /** get_flatview_root: an AS rooted at a whole-target alias renders the target from the target's own addr. */
    @Test
    void aliasRootUsesTargetAsFlatviewRootLikeQemu() {
        ContainerRegion sysmem = container("system", 0x100000);
        sysmem.addSubregion(0, io("dev", 0x1000));
        sysmem.addSubregion(0x8000, io("dev2", 0x1000));
        AliasRegion al = new AliasRegion(sys, null, "memory", sysmem, 0, 0x100000);
        AddressSpace as = sys.addressSpace(al, "as");
        assertSame(sysmem, as.currentMap().root());
        String flat = FlatViewPrinter.print(sys);
        assertTrue(flat.startsWith("FlatView #0\n AS \"as\", root: memory, alias system\n Root memory region: system\n"),
                flat);
    }

    /** mtree_print_mr orders children by addr, then higher priority, then list order (newest first). */
    @Test
    void mtreeChildOrder() {
        ContainerRegion root = container("root", 0x10000);
        root.addSubregion(0x2000, io("x", 0x10));
        root.addSubregionOverlap(0x1000, io("p0-old", 0x10), 0);
        root.addSubregionOverlap(0x1000, io("p0-new", 0x10), 0);
        root.addSubregionOverlap(0x1000, io("p5", 0x10), 5);
        sys.addressSpace(root, "as");
        String plain = MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN);
        int p5 = plain.indexOf("p5"), n = plain.indexOf("p0-new"), o = plain.indexOf("p0-old"), x = plain.indexOf(": x");
        assertTrue(p5 < n && n < o && o < x, plain);
    }

    // ---------------------------------------------------------------------------------------------
    // Found as deviations, fixed

    /**
     * memory_region_finalize deletes every subregion of the finalized region
     * ({@code while (!QTAILQ_EMPTY(&mr->subregions)) memory_region_del_subregion(mr, subregion)}),
     * so a former child is free again. guestmem leaves the child pointing at the finalized container.
     */
    @Test
    void finalizingAContainerDetachesItsSubregions() {
        ContainerRegion c = container("c", 0x10000);
        IoRegion child = io("child", 0x100);
        c.addSubregion(0x100, child);
        c.destroy();
        assertTrue(c.isFinalized());
        assertNull(child.container(), "QEMU: memory_region_finalize del_subregion()s the children");
        assertDoesNotThrow(child::destroy);
    }

    /**
     * memory_region_add_subregion_common does not check offset + size against 2^64; render_memory_region
     * clips to [0, 2^64) and mtree prints [DETECTED OVERFLOW!] (guestmem used to refuse it).
     */
    @Test
    void subregionPassing2To64IsAcceptedAndClipped() {
        ContainerRegion root = container("root", -1L);
        IoRegion top = io("top", 0x2000);
        assertDoesNotThrow(() -> root.addSubregion(0xffff_ffff_ffff_f000L, top));
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("fffffffffffff000-ffffffffffffffff top"), show(as));
    }

    /** memory_region_set_size has no range check either (same clipping as above). */
    @Test
    void setSizePast2To64IsAccepted() {
        ContainerRegion root = container("root", -1L);
        IoRegion top = io("top", 0x1000);
        root.addSubregion(0xffff_ffff_ffff_f000L, top);
        AddressSpace as = sys.addressSpace(root, "as");
        assertDoesNotThrow(() -> top.setSize(0x2000));
        assertEquals(List.of("fffffffffffff000-ffffffffffffffff top"), show(as));
    }

    /**
     * memory_region_init_alias / set_alias_offset / set_size check nothing: a window passing the target's
     * end renders only the part of the target that exists (render_memory_region clips to the target).
     */
    @Test
    void aliasWindowPassingTargetEndIsAcceptedAndClipped() {
        ContainerRegion root = container("root", 0x100000);
        IoRegion dev = io("dev", 0x1000);
        AliasRegion[] a = new AliasRegion[1];
        assertDoesNotThrow(() -> a[0] = new AliasRegion(sys, null, "big", dev, 0x800, 0x2000));
        root.addSubregion(0x10000, a[0]);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("10000-107ff dev@800"), show(as));
    }
}
