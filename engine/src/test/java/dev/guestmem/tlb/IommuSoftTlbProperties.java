package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * A soft TLB in front of an IOMMU, against a model: random remaps and unmaps by the IOMMU model
 * (each told to the notifiers, as QEMU requires), an overlay switched on and off in the space behind
 * the IOMMU, and 4-byte loads and stores through both TLB forms ({@link SoftTlbExample}'s page-tag
 * form, and the window form on {@link TlbEntry#window()}). Every load must return what the model
 * holds, so an entry that outlives a change of its translation fails the property.
 */
class IommuSoftTlbProperties {
    private static final int PAGES = 16;
    private static final long PAGE = 0x1000;
    private static final long BASE = 0x4000_0000L;
    private static final int OVERLAY_PAGE = 5;
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    /** The IOMMU model: iova page -> {target page, perm}, or null. */
    private static final class Table implements IommuOps {
        final long[][] map = new long[PAGES][];
        AddressSpace target;

        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            int p = (int) (addr >>> 12);
            out.iova = addr & ~(PAGE - 1);
            out.addrMask = PAGE - 1;
            long[] m = p < PAGES ? map[p] : null;
            if (m != null) {
                out.targetAs = target;
                out.translatedAddr = m[0] * PAGE;
                out.perm = (int) m[1];
            }
        }
    }

    @Property(tries = 60)
    void loadsThroughTheTlbAlwaysSeeTheCurrentTranslation(@ForAll long seed) {
        Random rnd = new Random(seed);
        MemorySystem sys = new MemorySystem();
        RamBlock ram = RamBlock.anonymous("dram", PAGES * PAGE);
        RamBlock overlayBlock = RamBlock.anonymous("overlay", PAGE);
        ContainerRegion downRoot = new ContainerRegion(sys, null, "down", -1L);
        downRoot.addSubregion(0, new RamRegion(sys, null, "dram", ram, false, false));
        RamRegion overlay = new RamRegion(sys, null, "overlay", overlayBlock, false, false);
        Table table = new Table();
        table.target = sys.addressSpace(downRoot, "down");
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", PAGES * PAGE, table);
        ContainerRegion root = new ContainerRegion(sys, null, "cpu", -1L);
        root.addSubregion(BASE, iommu);
        AddressSpace cpu = sys.addressSpace(root, "cpu");

        int[] modelRam = new int[(int) (PAGES * PAGE / 4)];
        int[] modelOverlay = new int[(int) (PAGE / 4)];
        for (int i = 0; i < modelRam.length; i++) { // every word tells where it is
            modelRam[i] = i;
            ram.segment().setAtIndex(INT, i, i);
        }
        for (int i = 0; i < modelOverlay.length; i++) {
            modelOverlay[i] = -1 - i;
            overlayBlock.segment().setAtIndex(INT, i, -1 - i);
        }
        boolean overlayOn = false;
        SoftTlbExample pageTag = new SoftTlbExample(cpu);
        TlbEntry[] windows = new TlbEntry[4]; // a tiny window-form TLB: collisions on purpose
        for (int i = 0; i < windows.length; i++) {
            windows[i] = new TlbEntry();
        }
        for (int step = 0; step < 400; step++) {
            int op = rnd.nextInt(10);
            int p = rnd.nextInt(PAGES);
            if (op == 0) { // remap (UNMAP first if mapped, then MAP), as a model must
                long[] now = {rnd.nextInt(PAGES), 1 + rnd.nextInt(3)};
                long[] old = table.map[p];
                table.map[p] = now;
                if (old != null) {
                    iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(table.target, p * PAGE, 0,
                            PAGE - 1, IommuTlbEntry.NONE));
                }
                iommu.notifiers().notify(0, IommuNotifier.MAP, new IommuTlbEntry(table.target, p * PAGE,
                        now[0] * PAGE, PAGE - 1, (int) now[1]));
            } else if (op == 1) {
                if (table.map[p] != null) {
                    table.map[p] = null;
                    iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(table.target, p * PAGE, 0,
                            PAGE - 1, IommuTlbEntry.NONE));
                }
            } else if (op == 2) {
                overlayOn = !overlayOn;
                if (overlayOn) {
                    downRoot.addSubregionOverlap(OVERLAY_PAGE * PAGE, overlay, 1);
                } else {
                    downRoot.delSubregion(overlay);
                }
            } else {
                long off = (long) rnd.nextInt(8) * 4; // few words a page, so stores and loads meet
                long addr = BASE + p * PAGE + off;
                long[] m = table.map[p];
                boolean toOverlay = m != null && overlayOn && m[0] == OVERLAY_PAGE;
                int[] words = toOverlay ? modelOverlay : modelRam;
                int index = (int) ((toOverlay ? off : m == null ? 0 : m[0] * PAGE + off) / 4);
                if (op < 6) {
                    int v = rnd.nextInt();
                    if (rnd.nextBoolean()) {
                        pageTag.stl(addr, v);
                    } else {
                        windowStore(cpu, windows, addr, v);
                    }
                    if (m != null && (m[1] & IommuTlbEntry.WO) != 0) {
                        words[index] = v;
                    }
                } else {
                    int want = m != null && (m[1] & IommuTlbEntry.RO) != 0 ? words[index] : 0;
                    assertEquals(want, pageTag.ldl(addr), "page-tag form, step " + step + " seed " + seed);
                    assertEquals(want, windowLoad(cpu, windows, addr), "window form, step " + step);
                }
            }
        }
    }

    private static TlbEntry windowEntry(AddressSpace as, TlbEntry[] tlb, long addr) {
        TlbEntry e = tlb[(int) (addr >>> 12) & (tlb.length - 1)];
        DirectWindow w = e.window();
        if (e.generation() != as.generation() || Long.compareUnsigned(addr - w.start(), PAGE) >= 0) {
            GuestTlb.fill(as, addr, e);
        }
        return e;
    }

    private static int windowLoad(AddressSpace as, TlbEntry[] tlb, long addr) {
        DirectWindow w = windowEntry(as, tlb, addr).window();
        MemorySegment ram = w.read();
        long off = addr - w.start();
        if (ram.byteSize() >= 4 && Long.compareUnsigned(off, ram.byteSize() - 4) <= 0) {
            return ram.get(INT, off);
        }
        return as.ldl(addr);
    }

    private static void windowStore(AddressSpace as, TlbEntry[] tlb, long addr, int v) {
        DirectWindow w = windowEntry(as, tlb, addr).window();
        MemorySegment ram = w.write();
        long off = addr - w.start();
        if (ram.byteSize() >= 4 && Long.compareUnsigned(off, ram.byteSize() - 4) <= 0) {
            ram.set(INT, off, v);
            return;
        }
        as.stl(addr, v);
    }
}
