package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.iommu.IommuException;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/**
 * The JIT fast path through IOMMUs ({@code address_space_translate_for_iotlb} and TCG's IOMMU
 * notifier): pages behind an IOMMU are direct, with the IOMMU's permissions, and every change of
 * the answer moves the generation.
 */
class IommuTlbFillTest {
    private static final long IOMMU_BASE = 0x1000_0000L;
    private static final MemTxAttrs SECURE = new MemTxAttrs(false, true, false, false, false, 0);

    private final MemorySystem sys = new MemorySystem();
    private final RamBlock ram = RamBlock.anonymous("dram", 0x100000);
    private final ContainerRegion downstreamRoot = new ContainerRegion(sys, null, "downstream", -1L);
    private final AddressSpace downstream;
    private final Mapper mapper = new Mapper();
    private final IommuRegion iommu;
    private final ContainerRegion root = new ContainerRegion(sys, null, "cpu", -1L);
    private final AddressSpace cpu;

    /**
     * A Arm-MPC-like model: per context (0 non-secure, 1 secure) a map of 4 KiB iova pages to
     * downstream pages and permissions; unmapped pages have no permission. Models tell their
     * notifiers through {@link #change}.
     */
    final class Mapper implements IommuOps {
        final ConcurrentHashMap<Long, long[]> pages = new ConcurrentHashMap<>(); // idx<<48|page -> {addr, perm}
        long mask = 0xFFF;
        int refuse;
        int translations;

        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            translations++;
            long[] m = pages.get(((long) iommuIdx << 48) | (addr & ~mask));
            out.iova = addr & ~mask;
            out.addrMask = mask;
            if (m != null) {
                out.targetAs = downstream;
                out.translatedAddr = m[0];
                out.perm = (int) m[1];
            }
        }

        @Override
        public int attrsToIndex(MemTxAttrs attrs) {
            return attrs.secure() ? 1 : 0;
        }

        @Override
        public int numIndexes() {
            return 2;
        }

        @Override
        public void notifyFlagChanged(IommuRegion r, int oldFlags, int newFlags) {
            if ((newFlags & refuse) != 0) {
                throw new IommuException("refused");
            }
        }

        /** Maps iova page {@code page} of context {@code idx}; with an UNMAP event if it was mapped. */
        void change(int idx, long page, long target, int perm) {
            long[] old = pages.put(((long) idx << 48) | page, new long[] {target, perm});
            if (old != null) {
                iommu.notifiers().notify(idx, IommuNotifier.UNMAP, new IommuTlbEntry(downstream, page, 0, mask, 0));
            }
            iommu.notifiers().notify(idx, IommuNotifier.MAP, new IommuTlbEntry(downstream, page, target, mask, perm));
        }
    }

    IommuTlbFillTest() {
        downstreamRoot.addSubregion(0, new RamRegion(sys, null, "dram", ram, false, false));
        downstream = sys.addressSpace(downstreamRoot, "downstream");
        iommu = new IommuRegion(sys, null, "mpc", 0x100000, mapper);
        root.addSubregion(IOMMU_BASE, iommu);
        cpu = sys.addressSpace(root, "cpu");
        for (long p = 0; p < 0x100000; p += 0x1000) {
            ram.segment().set(ValueLayout.JAVA_INT_UNALIGNED, p, (int) (p >>> 12)); // page number at each page
        }
    }

    @Test
    void aPageBehindAnIommuIsDirectAtTheMemoryItMapsTo() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3010, e));
        assertTrue(e.readDirect());
        assertTrue(e.writeDirect());
        assertEquals(IOMMU_BASE + 0x3000, e.pageAddr());
        assertSame(ram.segment(), e.segment());
        assertEquals(0x7000, e.hostOffset());
        assertEquals(ram.offset() + 0x7000, e.ramAddr(), "the ram_addr of the page behind the IOMMU");
        assertEquals(7, e.segment().get(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset()));
        // the window form: byte 0 is the guest page, one page long
        assertEquals(IOMMU_BASE + 0x3000, e.window().start());
        assertEquals(0x1000, e.window().read().byteSize());
        assertEquals(7, e.window().read().get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        assertEquals(0x1000, e.window().write().byteSize());
        assertSame(e.window().read(), e.window().write(), "read-write: one slice for loads and stores");
        // and it agrees with the access path
        assertEquals(7, cpu.ldlLe(IOMMU_BASE + 0x3000));
    }

    @Test
    void theIommusPermissionsNarrowTheEntry() {
        mapper.change(0, 0x1000, 0x2000, IommuTlbEntry.RO);
        mapper.change(0, 0x2000, 0x2000, IommuTlbEntry.WO);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x1000, e));
        assertTrue(e.readDirect());
        assertFalse(e.writeDirect());
        assertEquals(0, e.window().write().byteSize());
        assertFalse(e.window().writable());
        assertTrue(e.window().read().isReadOnly(), "RAM the IOMMU maps read-only: the read slice cannot write it");
        assertThrows(IllegalArgumentException.class,
                () -> e.window().read().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x77));
        assertEquals(MemTxResult.DECODE_ERROR, cpu.stlLe(IOMMU_BASE + 0x1000, 1), "the slow path refuses the write");
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x2000, e), "write-only: not directly readable");
        assertFalse(e.writeDirect());
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x5000, e), "unmapped");
        assertEquals(GuestTlb.TLB_INVALID | GuestTlb.TLB_MMIO, e.flags());
        assertEquals(-1, e.ramAddr());
        assertEquals(0, e.window().read().byteSize());
    }

    @Test
    void anUnmapEventMovesTheGenerationOfSpacesThatCachedThroughTheIommu() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e);
        assertEquals(cpu.generation(), e.generation());
        long otherBefore = downstream.generation();
        mapper.change(0, 0x9000, 0x1000, IommuTlbEntry.RW); // a MAP only: TCG does not flush
        assertEquals(cpu.generation(), e.generation());
        mapper.change(0, 0x3000, 0x8000, IommuTlbEntry.RW); // UNMAP then MAP
        assertNotEquals(cpu.generation(), e.generation());
        assertEquals(otherBefore, downstream.generation(), "only spaces that cached through it");
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e);
        assertEquals(0x8000, e.hostOffset());
        assertEquals(cpu.generation(), e.generation());
        // an event of the other context flushes too only once that context was cached through
        mapper.change(1, 0x3000, 0x1000, IommuTlbEntry.RW);
        mapper.change(1, 0x3000, 0x2000, IommuTlbEntry.RW);
        assertEquals(cpu.generation(), e.generation());
    }

    @Test
    void invalidationListenersHearAnUnmapThatMovesTheGeneration() {
        java.util.concurrent.atomic.AtomicInteger kicks = new java.util.concurrent.atomic.AtomicInteger();
        cpu.addInvalidationListener(kicks::incrementAndGet);
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, new TlbEntry());
        assertEquals(0, kicks.get());
        mapper.change(0, 0x3000, 0x8000, IommuTlbEntry.RW);
        assertEquals(1, kicks.get());
        Runnable other = () -> { };
        assertFalse(cpu.removeInvalidationListener(other));
        cpu.addInvalidationListener(other);
        assertTrue(cpu.removeInvalidationListener(other));
    }

    @Test
    void destroyingASpaceDropsItsWatch() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        ContainerRegion other = new ContainerRegion(sys, null, "cpu2", -1L);
        other.addSubregion(IOMMU_BASE, new dev.guestmem.region.AliasRegion(sys, null, "mpc-alias", iommu, 0,
                0x100000));
        AddressSpace cpu2 = sys.addressSpace(other, "cpu2");
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, new TlbEntry()));
        assertTrue(GuestTlb.fill(cpu2, IOMMU_BASE + 0x3000, new TlbEntry()));
        assertEquals(IommuNotifier.UNMAP, iommu.notifiers().flags(), "the JIT's notifier");
        sys.destroyAddressSpace(cpu2);
        assertEquals(IommuNotifier.UNMAP, iommu.notifiers().flags(), "cpu still watches");
        long before = cpu.generation();
        mapper.change(0, 0x3000, 0x8000, IommuTlbEntry.RW);
        assertNotEquals(before, cpu.generation(), "and is still invalidated");
        sys.destroyAddressSpace(cpu);
        assertEquals(0, iommu.notifiers().flags(), "no space left: the JIT's notifier is gone");
    }

    @Test
    void attributesSelectTheTranslationContext() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        mapper.change(1, 0x3000, 0x9000, IommuTlbEntry.RO);
        TlbEntry ns = new TlbEntry();
        TlbEntry s = new TlbEntry();
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, ns);
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, SECURE, s);
        assertEquals(0x7000, ns.hostOffset());
        assertEquals(0x9000, s.hostOffset());
        assertFalse(s.writeDirect());
        mapper.change(1, 0x3000, 0xA000, IommuTlbEntry.RO);
        assertNotEquals(cpu.generation(), s.generation(), "the secure context is watched now");
    }

    @Test
    void aPublicationOfTheSpaceBehindTheIommuMovesTheGeneration() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e);
        downstreamRoot.addSubregionOverlap(0x7000, new RamRegion(sys, null, "patch",
                RamBlock.anonymous("patch", 0x1000), false, false), 1);
        assertNotEquals(cpu.generation(), e.generation());
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e);
        assertEquals(0, e.hostOffset(), "now the patch block");
        assertNotEquals(ram.segment(), e.segment());
    }

    /**
     * Within one system every commit publishes every space anyway; a target space of another
     * system (a second machine in the JVM) is only reached through the dependency the fill records.
     */
    @Test
    void aPublicationOfATargetSpaceOfAnotherSystemMovesTheGeneration() {
        MemorySystem other = new MemorySystem();
        ContainerRegion otherRoot = new ContainerRegion(other, null, "other-root", -1L);
        RamBlock otherRam = RamBlock.anonymous("other", 0x10000);
        otherRoot.addSubregion(0, new RamRegion(other, null, "other", otherRam, false, false));
        AddressSpace otherSpace = other.addressSpace(otherRoot, "other");
        IommuRegion bridge = new IommuRegion(sys, null, "bridge", 0x10000, (addr, flag, idx, out) -> {
            out.targetAs = otherSpace;
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        });
        root.addSubregion(0x2000_0000L, bridge);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, 0x2000_1000L, e));
        assertSame(otherRam.segment(), e.segment());
        assertTrue(otherSpace.hasTranslationDependent(cpu));
        otherRoot.addSubregionOverlap(0x1000, new RamRegion(other, null, "over", RamBlock.anonymous("over", 0x1000),
                false, false), 1);
        assertNotEquals(cpu.generation(), e.generation());
    }

    @Test
    void replacingTheModelMovesTheGeneration() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e);
        iommu.setIommuOps(null);
        assertNotEquals(cpu.generation(), e.generation());
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        assertEquals(GuestTlb.TLB_INVALID | GuestTlb.TLB_MMIO, e.flags());
    }

    @Test
    void destroyingTheSpaceBehindTheIommuDropsTranslationsThroughIt() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        long gen = downstream.generation();
        sys.destroyAddressSpace(downstream);
        assertNotEquals(e.generation(), cpu.generation(), "the CPU's soft TLB must flush");
        assertNotEquals(gen, downstream.generation());
        assertEquals(0, downstream.currentMap().rangeCount(), "a destroyed space shows nothing");
        assertEquals(MemTxResult.DECODE_ERROR, downstream.stlLe(0x7000, 1));
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e), "nothing direct behind a destroyed space");
        assertEquals(7, ram.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x7000), "the RAM was not written");
    }

    @Test
    void modelSwapsAndRefillsKeepOneDestroyHookPerSpace() {
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e);
        int hooks = cpu.destroyHookCount();
        for (int i = 0; i < 50; i++) {
            iommu.setIommuOps(mapper);
            assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        }
        assertEquals(hooks, cpu.destroyHookCount());
    }

    @Test
    void aModelThatRefusesUnmapNotifiersIsNeverCachedThrough() {
        mapper.refuse = IommuNotifier.UNMAP;
        mapper.change(0, 0x3000, 0x7000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        assertEquals(GuestTlb.TLB_MMIO | GuestTlb.TLB_READONLY, e.flags());
        assertEquals(0, e.window().read().byteSize());
        assertEquals(7, cpu.ldlLe(IOMMU_BASE + 0x3000), "the slow path still works");
        assertEquals(0, iommu.notifiers().registered().length);
    }

    @Test
    void iommuPagesSmallerThanATlbPageAreSlow() {
        mapper.mask = 0x3FF;
        mapper.pages.put(0x3000L, new long[] {0x7000, IommuTlbEntry.RW});
        TlbEntry e = new TlbEntry();
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        assertEquals(GuestTlb.TLB_MMIO | GuestTlb.TLB_READONLY, e.flags());
        assertEquals(7, cpu.ldlLe(IOMMU_BASE + 0x3000));
    }

    @Test
    void largeIommuPagesAndTwoIommusInARow() {
        // a second IOMMU in the downstream space, mapping 2 MiB blocks 1:1 read-only onto the RAM
        ContainerRegion ramRoot = new ContainerRegion(sys, null, "ram-root", -1L);
        RamBlock far = RamBlock.anonymous("far", 0x400000);
        far.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x201000, 0x5EC0);
        ramRoot.addSubregion(0, new RamRegion(sys, null, "far", far, false, false));
        AddressSpace ramSpace = sys.addressSpace(ramRoot, "ram-space");
        IommuRegion second = new IommuRegion(sys, null, "smmu", 0x400000,
                (addr, flag, idx, out) -> {
                    out.targetAs = ramSpace;
                    out.iova = addr & ~0x1FFFFFL;
                    out.translatedAddr = addr & ~0x1FFFFFL;
                    out.addrMask = 0x1FFFFF;
                    out.perm = IommuTlbEntry.RO;
                });
        downstreamRoot.addSubregionOverlap(0x800000, second, 2);
        mapper.change(0, 0x3000, 0x801000 + 0x200000, IommuTlbEntry.RW);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        assertSame(far.segment(), e.segment());
        assertEquals(0x201000, e.hostOffset());
        assertFalse(e.writeDirect(), "RW then RO: RO");
        assertEquals(0x5EC0, e.window().read().get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        assertEquals(0x5EC0, cpu.ldlLe(IOMMU_BASE + 0x3000));
        ramRoot.setEnabled(true); // no change: a no-op
        long before = cpu.generation();
        ramRoot.addSubregionOverlap(0, new ContainerRegion(sys, null, "empty", 0x10), 5);
        assertNotEquals(before, cpu.generation(), "a publication two hops down reaches the CPU's space");
    }
}
