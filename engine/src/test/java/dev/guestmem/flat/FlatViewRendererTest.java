package dev.guestmem.flat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Rendering rules of QEMU's {@code render_memory_region} / {@code flatview_simplify}, with expected
 * ranges worked out by hand from the rules.
 */
class FlatViewRendererTest {
    private final MemorySystem sys = new MemorySystem();

    private ContainerRegion container(String name, long size) {
        return new ContainerRegion(sys, null, name, size);
    }

    private IoRegion io(String name, long size) {
        return new IoRegion(sys, null, null, name, size);
    }

    /** Compact form: {@code start-last name[@offset][ ro][ nv][ um]}. */
    static List<String> show(List<FlatRange> ranges) {
        List<String> out = new ArrayList<>();
        for (FlatRange r : ranges) {
            out.add(Long.toHexString(r.start()) + "-" + Long.toHexString(r.last()) + " " + r.region().name()
                    + (r.offsetInRegion() != 0 ? "@" + Long.toHexString(r.offsetInRegion()) : "")
                    + (r.readonly() ? " ro" : "") + (r.nonvolatile() ? " nv" : "") + (r.unmergeable() ? " um" : ""));
        }
        return out;
    }

    static List<String> show(AddressSpace as) {
        return show(as.currentMap().ranges());
    }

    @Test
    void equalPriorityNewestWinsHigherPriorityBeatsIt() {
        ContainerRegion root = container("root", 0x10000);
        root.addSubregion(0x0, io("a", 0x2000));
        root.addSubregion(0x1000, io("b", 0x2000));
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-fff a", "1000-2fff b"), show(as));
        root.addSubregionOverlap(0x800, io("low", 0x1000), -1);
        assertEquals(List.of("0-fff a", "1000-2fff b"), show(as));
        root.addSubregionOverlap(0x1800, io("high", 0x100), 1);
        assertEquals(List.of("0-fff a", "1000-17ff b", "1800-18ff high", "1900-2fff b@900"), show(as));
    }

    @Test
    void setAddressMakesTheRegionNewest() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion a = io("a", 0x2000);
        IoRegion b = io("b", 0x2000);
        root.addSubregion(0x0, a);
        root.addSubregion(0x4000, b);
        AddressSpace as = sys.addressSpace(root, "as");
        b.setAddress(0x1000); // b is now the newest: it wins over a
        assertEquals(List.of("0-fff a", "1000-2fff b"), show(as));
        a.setAddress(0x800); // a re-added: newest, wins
        assertEquals(List.of("800-27ff a", "2800-2fff b@1800"), show(as));
    }

    @Test
    void disabledRegionDoesNotObscure() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion low = io("low", 0x4000);
        IoRegion top = io("top", 0x1000);
        root.addSubregionOverlap(0, low, 0);
        root.addSubregionOverlap(0x1000, top, 5);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-fff low", "1000-1fff top", "2000-3fff low@2000"), show(as));
        top.setEnabled(false);
        assertEquals(List.of("0-3fff low"), show(as)); // pieces merged again
        top.setEnabled(true);
        ContainerRegion sub = container("sub", 0x4000);
        sub.addSubregion(0x3000, io("leaf", 0x1000));
        root.addSubregionOverlap(0, sub, 9);
        sub.setEnabled(false); // whole subtree gone, does not obscure
        assertEquals(List.of("0-fff low", "1000-1fff top", "2000-3fff low@2000"), show(as));
    }

    @Test
    void containerHolesShowLowerSiblings() {
        ContainerRegion root = container("root", 0x10000);
        ContainerRegion c = container("c", 0x4000);
        c.addSubregion(0x1000, io("in-c", 0x1000));
        root.addSubregionOverlap(0, c, 1);
        root.addSubregion(0, io("under", 0x4000));
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-fff under", "1000-1fff in-c", "2000-3fff under@2000"), show(as));
    }

    @Test
    void terminatingRegionIsBackgroundOfItsChildren() {
        ContainerRegion root = container("root", 0x10000);
        IoRegion bg = io("bg", 0x4000);
        bg.addSubregion(0x1000, io("child", 0x800));
        bg.addSubregion(0x3800, io("tail", 0x1000)); // clipped at bg's end
        root.addSubregion(0x8000, bg);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("8000-8fff bg", "9000-97ff child", "9800-b7ff bg@1800", "b800-bfff tail"), show(as));
    }

    @Test
    void aliasIntoBackgroundIoRegionShowsOffset() {
        ContainerRegion root = container("root", 0x100000);
        IoRegion bg = io("pci", 0x10000);
        bg.addSubregion(0x2000, io("bar", 0x1000));
        AliasRegion hole = new AliasRegion(sys, null, "hole", bg, 0x1000, 0x3000);
        root.addSubregion(0x40000, hole);
        AddressSpace as = sys.addressSpace(root, "as");
        // target offset X appears at 0x40000 + X - 0x1000
        assertEquals(List.of("40000-40fff pci@1000", "41000-41fff bar", "42000-42fff pci@3000"), show(as));
        hole.setAliasOffset(0x2800);
        assertEquals(List.of("40000-407ff bar@800", "40800-42fff pci@3000"), show(as));
    }

    @Test
    void readonlyIsInheritedThroughContainersAndAliases() {
        ContainerRegion root = container("root", 0x100000);
        ContainerRegion c = container("c", 0x10000);
        c.addSubregion(0, io("flash", 0x4000));
        AliasRegion ro = new AliasRegion(sys, null, "ro-window", c, 0, 0x2000);
        ro.setReadonly(true);
        root.addSubregion(0x10000, ro);
        root.addSubregion(0x20000, c);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("10000-11fff flash ro", "20000-23fff flash"), show(as));
        c.setNonvolatile(true);
        assertEquals(List.of("10000-11fff flash ro nv", "20000-23fff flash nv"), show(as));
    }

    @Test
    void mergeAndNoMerge() {
        ContainerRegion root = container("root", 0x100000);
        IoRegion big = io("big", 0x3000);
        IoRegion hole = io("hole", 0x1000);
        root.addSubregion(0, big);
        root.addSubregionOverlap(0x1000, hole, 1);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-fff big", "1000-1fff hole", "2000-2fff big@2000"), show(as));
        root.delSubregion(hole);
        assertEquals(List.of("0-2fff big"), show(as)); // same region, contiguous: one range
        // two aliases showing adjacent windows of one region contiguously also merge
        IoRegion t = io("t", 0x2000);
        root.addSubregion(0x10000, new AliasRegion(sys, null, "w0", t, 0, 0x1000));
        root.addSubregion(0x11000, new AliasRegion(sys, null, "w1", t, 0x1000, 0x1000));
        // ... but not when the offsets are not contiguous
        root.addSubregion(0x20000, new AliasRegion(sys, null, "w2", t, 0x1000, 0x1000));
        root.addSubregion(0x21000, new AliasRegion(sys, null, "w3", t, 0, 0x1000));
        // ... nor when flags differ
        AliasRegion w4 = new AliasRegion(sys, null, "w4", t, 0, 0x1000);
        AliasRegion w5 = new AliasRegion(sys, null, "w5", t, 0x1000, 0x1000);
        w5.setReadonly(true);
        root.addSubregion(0x30000, w4);
        root.addSubregion(0x31000, w5);
        assertEquals(List.of("0-2fff big", "10000-11fff t", "20000-20fff t@1000", "21000-21fff t",
                "30000-30fff t", "31000-31fff t@1000 ro"), show(as));
        // ... nor when unmergeable
        t.setUnmergeable(true);
        assertEquals(List.of("0-2fff big", "10000-10fff t um", "11000-11fff t@1000 um", "20000-20fff t@1000 um",
                "21000-21fff t um", "30000-30fff t um", "31000-31fff t@1000 ro um"), show(as));
    }

    @Test
    void dirtyLogMaskDifferenceBlocksMerge() {
        FlatRange a = new FlatRange(0, 0xfff, io("x", 0x2000), 0, false, false, false, false, 0);
        FlatRange b = new FlatRange(0x1000, 0x1fff, a.region(), 0x1000, false, false, false, false, 1);
        FlatRange c = new FlatRange(0x1000, 0x1fff, a.region(), 0x1000, false, false, false, false, 0);
        assertFalse(FlatViewRenderer.canMerge(a, b));
        assertTrue(FlatViewRenderer.canMerge(a, c));
        assertEquals(1, FlatViewRenderer.simplify(List.of(a, c)).size());
    }

    @Test
    void regionsOf2To64BytesAndAddressesNear2To64() {
        ContainerRegion root = container("root", MemoryRegion.SIZE_2_64);
        IoRegion all = io("all", MemoryRegion.SIZE_2_64);
        root.addSubregionOverlap(0, all, -1);
        IoRegion top = io("top", 0x1000);
        root.addSubregion(0xffff_ffff_ffff_f000L, top);
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-ffffffffffffefff all", "fffffffffffff000-ffffffffffffffff top"), show(as));
        top.setEnabled(false);
        List<FlatRange> r = as.currentMap().ranges();
        assertEquals(List.of("0-ffffffffffffffff all"), show(r));
        assertEquals(0, r.getFirst().size()); // 2^64
        MemoryRegionSection s = root.find(0, 1);
        assertSame(all, s.region());
        s.release();
        MemoryRegionSection whole = root.find(0, -1L);
        assertEquals(-1L, whole.size()); // 2^64 - 1 bytes asked, 2^64 - 1 found
        whole.release();
    }

    @Test
    void negativeAliasBases() {
        ContainerRegion root = container("root", 0x100000);
        IoRegion t = io("t", 0x10000);
        // the alias sits at 0x1000 but shows target offset 0x8000: base = 0x1000 - 0x8000 < 0
        root.addSubregion(0x1000, new AliasRegion(sys, null, "a", t, 0x8000, 0x2000));
        // an alias of an alias, both with offsets
        AliasRegion inner = new AliasRegion(sys, null, "inner", t, 0xc000, 0x4000);
        root.addSubregion(0x0, new AliasRegion(sys, null, "outer", inner, 0x3000, 0x1000));
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-fff t@f000", "1000-2fff t@8000"), show(as));
    }

    @Test
    void aliasChildrenAreIgnoredAndSizeZeroRendersNothing() {
        ContainerRegion root = container("root", 0x100000);
        IoRegion t = io("t", 0x1000);
        AliasRegion a = new AliasRegion(sys, null, "a", t, 0, 0x1000);
        a.addSubregion(0, io("ignored", 0x100));
        root.addSubregion(0, a);
        root.addSubregion(0x2000, io("empty", 0));
        AddressSpace as = sys.addressSpace(root, "as");
        assertEquals(List.of("0-fff t"), show(as));
    }

    @Test
    void flatViewsAreSharedByFlatviewRoot() {
        ContainerRegion system = container("system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0x1000, io("dev", 0x1000));
        system.addSubregion(0x8000, io("dev2", 0x1000));
        AddressSpace mem = sys.addressSpace(system, "memory");
        AddressSpace mem2 = sys.addressSpace(system, "memory2");
        assertSame(mem.currentMap(), mem2.currentMap());
        // a bus-master root: container holding one full alias of system memory at 0
        ContainerRegion bm = container("bus master container", MemoryRegion.SIZE_2_64);
        AliasRegion bmAlias = new AliasRegion(sys, null, "bus master", system, 0, MemoryRegion.SIZE_2_64);
        bm.addSubregion(0, bmAlias);
        AddressSpace dma = sys.addressSpace(bm, "dma");
        assertSame(mem.currentMap(), dma.currentMap());
        assertSame(system, FlatViewRoots.of(bm));
        // disabling the alias (bus mastering off): nothing enabled, the shared empty view
        bmAlias.setEnabled(false);
        assertSame(sys.emptyView(), dma.currentMap());
        assertEquals(0, dma.currentMap().rangeCount());
        ContainerRegion bm2 = container("bm2", MemoryRegion.SIZE_2_64);
        AddressSpace dma2 = sys.addressSpace(bm2, "dma2");
        assertSame(dma.currentMap(), dma2.currentMap());
        bmAlias.setEnabled(true);
        assertSame(mem.currentMap(), dma.currentMap());
        // an alias with an offset is its own root
        AliasRegion part = new AliasRegion(sys, null, "part", system, 0x1000, 0x1000);
        AddressSpace p = sys.addressSpace(part, "part");
        assertNotSame(mem.currentMap(), p.currentMap());
        assertEquals(List.of("0-fff dev"), show(p));
        // a single child that does not start at 0 is not a root
        ContainerRegion one = container("one", 0x10000);
        one.addSubregion(0x100, io("x", 0x100));
        assertSame(one, FlatViewRoots.of(one));
        ContainerRegion zero = container("zero", 0x10000);
        IoRegion z = io("z", 0x100);
        zero.addSubregion(0, z);
        assertSame(z, FlatViewRoots.of(zero));
    }

    @Test
    void findAndPresent() {
        ContainerRegion root = container("root", 0x100000);
        ContainerRegion bus = container("bus", 0x10000);
        IoRegion dev = io("dev", 0x1000);
        bus.addSubregion(0x2000, dev);
        root.addSubregion(0x40000, bus);
        IoRegion t = io("t", 0x10000);
        root.addSubregion(0x80000, new AliasRegion(sys, null, "al", t, 0x4000, 0x1000));
        sys.addressSpace(root, "as");
        MemoryRegionSection s = bus.find(0x1800, 0x1000); // window 0x41800..0x427ff
        assertSame(dev, s.region());
        assertEquals(0x42000, s.offsetWithinAddressSpace());
        assertEquals(0, s.offsetWithinRegion());
        assertEquals(0x800, s.size());
        int before = dev.refCount();
        s.copy();
        assertEquals(before + 1, dev.refCount());
        s.release();
        s.release();
        assertEquals(before - 1, dev.refCount());
        assertTrue(bus.present(0x2fff));
        assertFalse(bus.present(0x3000));
        MemoryRegionSection viaAlias = root.find(0x80010, 4);
        assertSame(t, viaAlias.region());
        assertEquals(0x4010, viaAlias.offsetWithinRegion());
        viaAlias.release();
        // a tree no address space shows
        ContainerRegion lone = container("lone", 0x1000);
        lone.addSubregion(0, io("l", 0x1000));
        assertTrue(lone.find(0, 1).isEmpty());
    }

    @Test
    void renderIsLinearEnoughForManySiblings() {
        // 10,000 siblings: must not be quadratic (QEMU memmoves per insert); no timing asserted,
        // but the shape of the result is.
        ContainerRegion root = container("root", MemoryRegion.SIZE_2_64);
        for (int i = 0; i < 10_000; i++) {
            root.addSubregion(0x1_0000_0000L + i * 0x2000L, io("d" + i, 0x1000));
        }
        List<FlatRange> r = FlatViewRenderer.render(root);
        assertEquals(10_000, r.size());
        assertEquals(0x1_0000_0000L + 9_999 * 0x2000L, r.getLast().start());
    }
}
