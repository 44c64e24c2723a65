package dev.guestmem.iommu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * QEMU's IOMMU notifier rules ({@code memory_region_register_iommu_notifier},
 * {@code memory_region_notify_iommu(_one)}, {@code memory_region_iommu_replay},
 * {@code memory_region_unmap_iommu_notifier_range}), each refusal leaving everything as it was.
 */
class IommuNotifierTest {
    private final MemorySystem sys = new MemorySystem();

    /** A model with a page table of 4 KiB pages: iova page -> target page, permission. */
    static final class PageTableIommu implements IommuOps {
        final TreeMap<Long, long[]> pages = new TreeMap<>(); // iova page -> {target, perm}
        final List<int[]> flagChanges = new ArrayList<>();
        final List<Long> translated = new ArrayList<>();
        AddressSpace target;
        int indexes = 1;
        long minPage = 4096;
        int refuseFlag; // a flag bit the model cannot deliver

        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            translated.add(addr);
            long page = addr & ~0xFFFL;
            long[] m = pages.get(page + iommuIdx * 0x1_0000_0000L);
            out.iova = page;
            out.addrMask = 0xFFF;
            if (m != null) {
                out.targetAs = target;
                out.translatedAddr = m[0];
                out.perm = (int) m[1];
            }
        }

        @Override
        public int numIndexes() {
            return indexes;
        }

        @Override
        public long minPageSize() {
            return minPage;
        }

        @Override
        public void notifyFlagChanged(IommuRegion iommu, int oldFlags, int newFlags) {
            if ((newFlags & refuseFlag) != 0) {
                throw new IommuException("cannot deliver 0x" + Integer.toHexString(refuseFlag));
            }
            flagChanges.add(new int[] {oldFlags, newFlags});
        }
    }

    private record Seen(String who, long iova, long mask, int perm) {
    }

    private static IommuNotifier recording(List<Seen> seen, String who, int flags, long start, long end, int idx) {
        return new IommuNotifier((n, e) -> seen.add(new Seen(who, e.iova, e.addrMask, e.perm)), flags, start, end,
                idx);
    }

    @Test
    void registrationTellsTheModelOfEveryChangeOfTheFlagsUnion() {
        PageTableIommu model = new PageTableIommu();
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32, model);
        List<Seen> seen = new ArrayList<>();
        IommuNotifier a = recording(seen, "a", IommuNotifier.UNMAP, 0, 0xFFFF, 0);
        IommuNotifier b = recording(seen, "b", IommuNotifier.MAP, 0, 0xFFFF, 0);
        IommuNotifier c = recording(seen, "c", IommuNotifier.UNMAP, 0, 0xFFFF, 0);
        iommu.notifiers().register(a);
        iommu.notifiers().register(b);
        iommu.notifiers().register(c); // union unchanged: the hook is not called
        assertEquals(List.of("0>1", "1>3"), changes(model));
        assertEquals(IommuNotifier.IOTLB_EVENTS, iommu.notifiers().flags());
        assertArrayEquals(new IommuNotifier[] {c, b, a}, iommu.notifiers().registered(), "newest first");
        iommu.notifiers().unregister(b);
        assertEquals(List.of("0>1", "1>3", "3>1"), changes(model));
        iommu.notifiers().unregister(a);
        iommu.notifiers().unregister(c);
        assertEquals(List.of("0>1", "1>3", "3>1", "1>0"), changes(model));
        assertFalse(a.isRegistered());
    }

    private static List<String> changes(PageTableIommu model) {
        return model.flagChanges.stream().map(f -> f[0] + ">" + f[1]).toList();
    }

    @Test
    void aRefusedRegistrationChangesNothing() {
        PageTableIommu model = new PageTableIommu();
        model.refuseFlag = IommuNotifier.MAP; // as QEMU's SMMUv3
        IommuRegion iommu = new IommuRegion(sys, null, "smmu", 1L << 32, model);
        IommuNotifier unmap = new IommuNotifier((n, e) -> { }, IommuNotifier.UNMAP, 0, -1L, 0);
        iommu.notifiers().register(unmap);
        IommuNotifier map = new IommuNotifier((n, e) -> { }, IommuNotifier.IOTLB_EVENTS, 0, -1L, 0);
        assertThrows(IommuException.class, () -> iommu.notifiers().register(map));
        assertFalse(map.isRegistered());
        assertArrayEquals(new IommuNotifier[] {unmap}, iommu.notifiers().registered());
        assertEquals(IommuNotifier.UNMAP, iommu.notifiers().flags());
        // the refused notifier can be registered elsewhere afterwards
        IommuRegion other = new IommuRegion(sys, null, "other", 1L << 32, new PageTableIommu());
        other.notifiers().register(map);
        assertTrue(map.isRegistered());
    }

    @Test
    void badRegistrationsAreRefused() {
        PageTableIommu model = new PageTableIommu();
        model.indexes = 2;
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32, model);
        IommuNotifier n = new IommuNotifier((x, e) -> { }, IommuNotifier.MAP, 0, 10, 1);
        iommu.notifiers().register(n);
        assertThrows(IommuException.class, () -> iommu.notifiers().register(n), "twice");
        IommuRegion other = new IommuRegion(sys, null, "other", 1L << 32, model);
        assertThrows(IommuException.class, () -> other.notifiers().register(n), "on two regions");
        assertThrows(IommuException.class, () -> other.notifiers().unregister(n), "not registered there");
        IommuNotifier idx2 = new IommuNotifier((x, e) -> { }, IommuNotifier.MAP, 0, 10, 2);
        assertThrows(IommuException.class, () -> iommu.notifiers().register(idx2), "index out of range");
        assertArrayEquals(new IommuNotifier[] {n}, iommu.notifiers().registered());
        // malformed notifiers
        IommuNotifier.Callback cb = (x, e) -> { };
        assertThrows(IommuException.class, () -> new IommuNotifier(cb, 0, 0, 1, 0));
        assertThrows(IommuException.class, () -> new IommuNotifier(cb, 8, 0, 1, 0));
        assertThrows(IommuException.class, () -> new IommuNotifier(cb, IommuNotifier.MAP, 2, 1, 0));
        assertThrows(IommuException.class, () -> new IommuNotifier(cb, IommuNotifier.MAP, -1L, 1L << 63, 0),
                "2^64-1 > 2^63 unsigned");
        assertThrows(IommuException.class, () -> new IommuNotifier(cb, IommuNotifier.MAP, 0, 1, -1));
        new IommuNotifier(cb, IommuNotifier.MAP, 1L << 63, -1L, 0); // top half: fine
    }

    @Test
    void registrationFollowsAliasesToTheIommu() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32, new PageTableIommu());
        AliasRegion a1 = new AliasRegion(sys, null, "a1", iommu, 0x1000, 0x1000);
        AliasRegion a2 = new AliasRegion(sys, null, "a2", a1, 0, 0x1000);
        assertSame(iommu, IommuNotifiers.of(a2));
        assertSame(iommu, IommuNotifiers.of(iommu));
        RamRegion ram = new RamRegion(sys, null, "ram", RamBlock.anonymous("ram", 4096), false, false);
        AliasRegion toRam = new AliasRegion(sys, null, "to-ram", ram, 0, 4096);
        IommuException e = assertThrows(IommuException.class, () -> IommuNotifiers.of(toRam));
        assertTrue(e.getMessage().contains("ends at ram"), e.getMessage());
    }

    @Test
    void eventsReachTheNotifiersOfTheirIndexCroppedToTheirRange() {
        PageTableIommu model = new PageTableIommu();
        model.indexes = 2;
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", -1L, model);
        List<Seen> seen = new ArrayList<>();
        iommu.notifiers().register(recording(seen, "low", IommuNotifier.ALL, 0x1000, 0x2FFF, 0));
        iommu.notifiers().register(recording(seen, "mapOnly", IommuNotifier.MAP, 0, -1L, 0));
        iommu.notifiers().register(recording(seen, "idx1", IommuNotifier.ALL, 0, -1L, 1));
        iommu.notifiers().register(recording(seen, "top", IommuNotifier.ALL, -0x1000L, -1L, 0));
        // a 16 KiB unmap over [0, 0x3FFF]: low gets it cropped to [0x1000, 0x2FFF]
        iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(null, 0, 0, 0x3FFF, IommuTlbEntry.NONE));
        assertEquals(List.of(new Seen("low", 0x1000, 0x1FFF, 0)), seen);
        seen.clear();
        // a map of the last page of 2^64: "top" and "mapOnly" get it, newest first; "low" not (no overlap)
        iommu.notifiers().notify(0, IommuNotifier.MAP, new IommuTlbEntry(null, -0x1000L, 0x5000, 0xFFF,
                IommuTlbEntry.RW));
        assertEquals(List.of(new Seen("top", -0x1000L, 0xFFF, 3), new Seen("mapOnly", -0x1000L, 0xFFF, 3)), seen);
        seen.clear();
        iommu.notifiers().notify(1, IommuNotifier.DEVIOTLB_UNMAP, new IommuTlbEntry(null, 0x8000, 0, 0xFFF, 0));
        assertEquals(List.of(new Seen("idx1", 0x8000, 0xFFF, 0)), seen);
    }

    @Test
    void malformedEventsReachNobody() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32, new PageTableIommu());
        List<Seen> seen = new ArrayList<>();
        iommu.notifiers().register(recording(seen, "all", IommuNotifier.ALL, 0, -1L, 0));
        assertThrows(IommuException.class, () -> iommu.notifiers().notify(0, IommuNotifier.UNMAP,
                new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.RO)), "an UNMAP with a permission");
        assertThrows(IommuException.class, () -> iommu.notifiers().notify(0, IommuNotifier.IOTLB_EVENTS,
                new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.NONE)), "two types at once");
        assertThrows(IommuException.class, () -> iommu.notifiers().notify(0, 0,
                new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.NONE)));
        assertEquals(List.of(), seen);
    }

    @Test
    void eachNotifierGetsItsOwnCopyOfTheEntry() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32, new PageTableIommu());
        List<IommuTlbEntry> kept = new ArrayList<>();
        IommuNotifier.Callback vandal = (n, e) -> {
            kept.add(e);
            e.iova = 0xBAD;
        };
        iommu.notifiers().register(new IommuNotifier(vandal, IommuNotifier.MAP, 0, -1L, 0));
        iommu.notifiers().register(new IommuNotifier(vandal, IommuNotifier.MAP, 0, -1L, 0));
        IommuTlbEntry sent = new IommuTlbEntry(null, 0x4000, 0x9000, 0xFFF, IommuTlbEntry.RW);
        iommu.notifiers().notify(0, IommuNotifier.MAP, sent);
        assertEquals(0x4000, sent.iova);
        assertEquals(2, kept.size());
        assertFalse(kept.get(0) == kept.get(1));
    }

    @Test
    void aNewModelTakesOverTheNotifiersOrIsRefused() {
        PageTableIommu first = new PageTableIommu();
        first.indexes = 2;
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32, first);
        IommuNotifier n = new IommuNotifier((x, e) -> { }, IommuNotifier.IOTLB_EVENTS, 0, -1L, 1);
        iommu.notifiers().register(n);
        PageTableIommu oneIndex = new PageTableIommu();
        assertThrows(IommuException.class, () -> iommu.setIommuOps(oneIndex), "index 1 of a one-index model");
        PageTableIommu noMap = new PageTableIommu();
        noMap.indexes = 2;
        noMap.refuseFlag = IommuNotifier.MAP;
        assertThrows(IommuException.class, () -> iommu.setIommuOps(noMap));
        assertSame(first, iommu.iommuOps(), "a refused model is not installed");
        assertEquals(List.of("0>3"), changes(first));
        PageTableIommu second = new PageTableIommu();
        second.indexes = 2;
        iommu.setIommuOps(second);
        assertSame(second, iommu.iommuOps());
        assertEquals(List.of("0>3", "3>0"), changes(first), "the old model hears its notifiers go");
        assertEquals(List.of("0>3"), changes(second), "the new one hears them come");
        assertTrue(n.isRegistered());
        assertEquals(IommuNotifier.IOTLB_EVENTS, iommu.notifiers().flags());
    }

    @Test
    void notifyOneChecksAndCropsAsNotify() {
        List<Seen> seen = new ArrayList<>();
        IommuNotifier n = recording(seen, "n", IommuNotifier.MAP, 0x1000, 0x1FFF, 0);
        n.notifyOne(IommuNotifier.MAP, new IommuTlbEntry(null, 0, 0x10000, 0x3FFF, IommuTlbEntry.RW));
        assertEquals(List.of(new Seen("n", 0x1000, 0xFFF, 3)), seen);
        n.notifyOne(IommuNotifier.UNMAP, new IommuTlbEntry(null, 0x1000, 0, 0xFFF, IommuTlbEntry.NONE));
        assertEquals(1, seen.size(), "a MAP notifier ignores UNMAP");
        assertThrows(IommuException.class, () -> n.notifyOne(IommuNotifier.UNMAP,
                new IommuTlbEntry(null, 0x1000, 0, 0xFFF, IommuTlbEntry.RW)));
        List<IommuTlbEntry> got = new ArrayList<>();
        new IommuNotifier((x, e) -> got.add(e), IommuNotifier.MAP, 0x1000, 0x1FFF, 0).notifyOne(IommuNotifier.MAP,
                new IommuTlbEntry(null, 0, 0x10000, 0x3FFF, IommuTlbEntry.RW));
        assertEquals(0x11000, got.get(0).translatedAddr, "iova 0x1000 still maps to 0x11000");
    }

    @Test
    void unmapRangeTellsOneNotifierThatItsWholeRangeIsGone() {
        List<Seen> seen = new ArrayList<>();
        recording(seen, "n", IommuNotifier.UNMAP, 0x10000, 0x1FFFF, 0).unmapRange();
        recording(seen, "mapOnly", IommuNotifier.MAP, 0x10000, 0x1FFFF, 0).unmapRange();
        recording(seen, "all", IommuNotifier.ALL, 0, -1L, 0).unmapRange();
        assertEquals(List.of(new Seen("n", 0x10000, 0xFFFF, 0), new Seen("all", 0, -1L, 0)), seen);
    }

    @Test
    void theDefaultReplayWalksTheRegionAtTheMinimumPageSize() {
        PageTableIommu model = new PageTableIommu();
        model.indexes = 2;
        model.minPage = 0x2000;
        model.pages.put(0x2000L, new long[] {0xA000, IommuTlbEntry.RW});
        model.pages.put(0x3000L, new long[] {0xB000, IommuTlbEntry.RW}); // not on an 8 KiB step: not seen
        model.pages.put(0x6000L, new long[] {0xC000, IommuTlbEntry.RO});
        model.pages.put(0x1_0000_0000L + 0x4000, new long[] {0xD000, IommuTlbEntry.WO}); // index 1
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x7000, model);
        List<Seen> seen = new ArrayList<>();
        // the range does not filter a replay (QEMU calls n->notify directly)
        IommuNotifier n = recording(seen, "n", IommuNotifier.MAP, 0x6000, 0x6FFF, 0);
        iommu.notifiers().replay(n);
        assertEquals(List.of(new Seen("n", 0x2000, 0xFFF, 3), new Seen("n", 0x6000, 0xFFF, 1)), seen);
        assertEquals(List.of(0L, 0x2000L, 0x4000L, 0x6000L), model.translated, "steps below the size, flag NONE");
        seen.clear();
        iommu.notifiers().replay(recording(seen, "i1", IommuNotifier.MAP, 0, -1L, 1));
        assertEquals(List.of(new Seen("i1", 0x4000, 0xFFF, 2)), seen);
    }

    @Test
    void aReplayOverTwoToThe64StopsAtTheWrap() {
        PageTableIommu model = new PageTableIommu();
        model.minPage = 1L << 62;
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", -1L, model);
        iommu.notifiers().replay(recording(new ArrayList<>(), "n", IommuNotifier.MAP, 0, -1L, 0));
        assertEquals(List.of(0L, 1L << 62, 1L << 63, 3L << 62), model.translated);
        model.translated.clear();
        new IommuRegion(sys, null, "empty", 0, model).notifiers().replay(
                recording(new ArrayList<>(), "n", IommuNotifier.MAP, 0, -1L, 0));
        assertEquals(List.of(), model.translated, "a zero-sized region has nothing to replay");
        model.minPage = 3000;
        assertThrows(IommuException.class, () -> iommu.notifiers().replay(
                recording(new ArrayList<>(), "n", IommuNotifier.MAP, 0, -1L, 0)));
    }

    @Test
    void aModelsOwnReplayReplacesTheWalk() {
        List<Seen> seen = new ArrayList<>();
        IommuOps sparse = new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
                throw new AssertionError("the walk must not run");
            }

            @Override
            public void replay(IommuRegion iommu, IommuNotifier notifier) {
                notifier.unmapRange();
            }
        };
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", -1L, sparse);
        iommu.notifiers().replay(recording(seen, "n", IommuNotifier.UNMAP, 0, 0xFFF, 0));
        assertEquals(List.of(new Seen("n", 0, 0xFFF, 0)), seen);
    }

    /**
     * The vfio pattern: a listener registers a notifier per IOMMU section it sees, replays it into a
     * shadow map, follows MAP/UNMAP events, and unregisters when the section goes.
     */
    @Test
    void aListenerKeepsAShadowMapOfAnIommuSection() {
        PageTableIommu model = new PageTableIommu();
        ContainerRegion dmaRoot = new ContainerRegion(sys, null, "dma-root", -1L);
        model.target = sys.addressSpace(dmaRoot, "dma-target");
        model.pages.put(0x1000L, new long[] {0x40000, IommuTlbEntry.RW});
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        ContainerRegion root = new ContainerRegion(sys, null, "pci", -1L);
        AddressSpace pci = sys.addressSpace(root, "pci");
        TreeMap<Long, Long> shadow = new TreeMap<>();
        List<IommuNotifier> mine = new ArrayList<>();
        MemoryListener vfioLike = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection section) {
                if (!section.region().isIommu()) {
                    return;
                }
                IommuRegion r = IommuNotifiers.of(section.region());
                IommuNotifier n = new IommuNotifier((x, e) -> {
                    if (e.perm == IommuTlbEntry.NONE) {
                        shadow.remove(e.iova);
                    } else {
                        shadow.put(e.iova, e.translatedAddr);
                    }
                }, IommuNotifier.IOTLB_EVENTS, section.offsetWithinRegion(),
                        section.offsetWithinRegion() + section.size() - 1, r.attrsToIndex(MemTxAttrs.UNSPECIFIED));
                r.notifiers().register(n);
                mine.add(n);
                r.notifiers().replay(n);
            }

            @Override
            public void regionDel(MemoryRegionSection section) {
                if (section.region().isIommu()) {
                    for (IommuNotifier n : mine) {
                        IommuNotifiers.of(section.region()).notifiers().unregister(n);
                    }
                    mine.clear();
                }
            }
        };
        sys.registerListener(vfioLike, pci);
        root.addSubregion(0x8000_0000L, iommu);
        assertEquals(1, mine.size());
        assertEquals(java.util.Map.of(0x1000L, 0x40000L), shadow, "replayed");
        // the model maps a page and unmaps the first: the shadow follows
        model.pages.put(0x5000L, new long[] {0x50000, IommuTlbEntry.RO});
        iommu.notifiers().notify(0, IommuNotifier.MAP, new IommuTlbEntry(model.target, 0x5000, 0x50000, 0xFFF,
                IommuTlbEntry.RO));
        model.pages.remove(0x1000L);
        iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(model.target, 0x1000, 0, 0xFFF,
                IommuTlbEntry.NONE));
        assertEquals(java.util.Map.of(0x5000L, 0x50000L), shadow);
        root.delSubregion(iommu);
        assertEquals(List.of(), mine);
        assertEquals(0, iommu.notifiers().flags());
        assertEquals(0, iommu.notifiers().registered().length);
    }
}
