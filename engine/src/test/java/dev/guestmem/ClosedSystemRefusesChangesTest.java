package dev.guestmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockNotifier;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionTeardown;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.tlb.VcpuTlb;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * After {@link MemorySystem#close()} every call that would change the machine (its topology, a
 * region's flags, its listeners, its dirty-log state) is refused with a
 * {@link MemorySystemClosedException} naming the call, and changes nothing: on regions the teardown
 * destroyed and on regions it never collected (never shown, no RAM) alike. Queries, and what the
 * docs promise keeps working (unmapping a held DMA mapping, destroying a held cache, flushing a
 * vCPU TLB, releasing sections, destroying regions left over), still work.
 */
class ClosedSystemRefusesChangesTest {
    private static final long MIB = 1 << 20;

    private static MemoryRegionOps ops() {
        return MemoryRegionOps.builder().read((a, s) -> 0x5a).write((a, d, s) -> { }).build();
    }

    private static final IommuOps IDENTITY = (addr, flag, idx, out) -> { };

    /** A machine with regions shown in its address space and regions the teardown never collects. */
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    private final RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
    private final AliasRegion low = new AliasRegion(sys, null, "ram-low", ram, 0, 0x1000);
    private final ContainerRegion bus = new ContainerRegion(sys, null, "bus", 0x10000);
    private final IoRegion dev = new IoRegion(sys, null, ops(), "dev", 0x1000);
    private final RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, ops(), "flash", 0x10000);
    // never shown, no RAM: close() leaves these to the garbage collector
    private final ContainerRegion spareBus = new ContainerRegion(sys, null, "spare-bus", 0x10000);
    private final IoRegion spareDev = new IoRegion(sys, null, ops(), "spare-dev", 0x1000);
    private final IoRegion loose = new IoRegion(sys, null, ops(), "loose", 0x1000);
    private final IoRegion loose2 = new IoRegion(sys, null, ops(), "loose2", 0x1000);
    private final AliasRegion looseAlias = new AliasRegion(sys, null, "loose-alias", loose, 0x100, 0x100);
    private final IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x10000, IDENTITY);
    private final EventNotifier notifier = EventNotifier.create();
    private final AddressSpace as;

    ClosedSystemRefusesChangesTest() {
        root.addSubregion(0x10_0000, ram);
        root.addSubregion(0, low);
        bus.addSubregion(0x100, dev);
        root.addSubregion(0x4000_0000L, bus);
        root.addSubregion(0xffff_0000L, flash);
        spareBus.addSubregion(0x2000, spareDev);
        as = sys.addressSpace(root, "memory");
        // state the refused calls must leave as it is
        for (MemoryRegion r : List.of(dev, spareDev, loose)) {
            r.addEventfd(0x10, 4, false, 0, notifier);
            r.addCoalescing(0x100, 0x100);
            r.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        }
        sys.globalDirtyLogStart();
    }

    @AfterEach
    void closeNotifier() {
        notifier.close();
    }

    private List<MemoryRegion> regions() {
        return List.of(root, ram, low, bus, dev, flash, spareBus, spareDev, loose, loose2, looseAlias, iommu);
    }

    /** What a user can see of a region without changing it. */
    private static String state(MemoryRegion r) {
        StringBuilder s = new StringBuilder(r.name()).append(": addr=").append(Long.toHexString(r.addr()))
                .append(" size=").append(Long.toHexString(r.size())).append(" enabled=").append(r.isEnabled())
                .append(" readonly=").append(r.isReadonly()).append(" nonvolatile=").append(r.isNonvolatile())
                .append(" unmergeable=").append(r.isUnmergeable()).append(" priority=").append(r.priority())
                .append(" guardOff=").append(r.isReentrancyGuardDisabled())
                .append(" container=").append(r.container() == null ? null : r.container().name())
                .append(" subregions=").append(r.subregions().stream().map(MemoryRegion::name).toList())
                .append(" logMask=").append(r.dirtyLogMask()).append(" eventfds=").append(r.ioeventfds().size())
                .append(" coalesced=").append(r.coalescedRanges()).append(" flush=").append(r.isFlushCoalesced())
                .append(" discard=").append(r.ramDiscardManager()).append(" destroyed=").append(r.isDestroyed())
                .append(" refs=").append(r.refCount()).append(" romd=").append(r.isRomd());
        if (r instanceof AliasRegion a) {
            s.append(" aliasOffset=").append(Long.toHexString(a.aliasOffset()));
        }
        if (r instanceof IommuRegion i) {
            s.append(" iommuOps=").append(i.iommuOps()).append(" notifiers=").append(i.notifiers().registered().length);
        }
        return s.toString();
    }

    private String machineState() {
        StringBuilder s = new StringBuilder("depth=" + sys.transactionDepth() + " dirtyFlags="
                + sys.globalDirtyTrackingFlags() + " spaces=" + sys.addressSpaces() + " blocks="
                + sys.ramList().blocks().stream().map(RamBlock::idstr).toList() + " flusher="
                + sys.coalescedMmioFlusher() + "\n");
        for (MemoryRegion r : regions()) {
            s.append(state(r)).append('\n');
        }
        return s.toString();
    }

    /** Every call that would change a region, named as its refusal must name it. */
    private Map<String, Executable> regionChanges(MemoryRegion r) {
        Map<String, Executable> calls = new LinkedHashMap<>();
        calls.put("setAddress", () -> r.setAddress(r.addr() + 0x5000));
        calls.put("setSize", () -> r.setSize(0x7000));
        calls.put("setEnabled", () -> r.setEnabled(!r.isEnabled()));
        calls.put("setReadonly", () -> r.setReadonly(!r.isReadonly()));
        calls.put("setNonvolatile", () -> r.setNonvolatile(!r.isNonvolatile()));
        calls.put("setUnmergeable", () -> r.setUnmergeable(!r.isUnmergeable()));
        calls.put("setReentrancyGuardDisabled", () -> r.setReentrancyGuardDisabled(!r.isReentrancyGuardDisabled()));
        calls.put("addSubregion", () -> r.addSubregion(0x10, loose2));
        calls.put("addSubregionOverlap", () -> r.addSubregionOverlap(0x10, loose2, 3));
        if (!r.subregions().isEmpty()) {
            calls.put("delSubregion", () -> r.delSubregion(r.subregions().getFirst()));
        }
        calls.put("setLog", () -> r.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA));
        if (r.dirtyLogMask() != 0) {
            calls.put("setLog", () -> r.setLog(false, MemoryRegion.DIRTY_MEMORY_VGA));
        }
        calls.put("addEventfd", () -> r.addEventfd(0x20, 4, true, 7, notifier));
        if (r.ioeventfds().size() > 0) {
            calls.put("delEventfd", () -> r.delEventfd(0x10, 4, false, 0, notifier));
        }
        calls.put("addCoalescing", () -> r.addCoalescing(0, 0x10));
        calls.put("setCoalescing", r::setCoalescing);
        calls.put("clearCoalescing", r::clearCoalescing);
        calls.put("setFlushCoalesced", r::setFlushCoalesced);
        calls.put("clearFlushCoalesced", r::clearFlushCoalesced);
        if (r instanceof AliasRegion a) {
            calls.put("setAliasOffset", () -> a.setAliasOffset(a.aliasOffset() + 0x10));
        }
        if (r instanceof RomDeviceRegion rd) {
            calls.put("setRomd", () -> rd.setRomd(!rd.isRomd()));
            calls.put("flushRomDevice", () -> rd.flushRomDevice(0, 0x1000));
        }
        if (r instanceof RamRegion rr) {
            calls.put("ramResize", () -> rr.ramResize(0x1000));
            calls.put("setRamDiscardManager", () -> BitmapRamDiscardManager.attach(rr, 0x10000));
        }
        if (r.ramBlock() != null) {
            calls.put("setDirty", () -> r.setDirty(0, 0x1000));
            calls.put("resetDirty", () -> r.resetDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_MIGRATION));
            calls.put("snapshotAndClearDirty",
                    () -> r.snapshotAndClearDirty(0, 0x1000, MemoryRegion.DIRTY_MEMORY_MIGRATION));
        }
        if (r instanceof IommuRegion i) {
            calls.put("setIommuOps", () -> i.setIommuOps(null));
            calls.put("register", () -> i.notifiers().register(
                    new IommuNotifier((n, e) -> { }, IommuNotifier.UNMAP, 0, 0xfff, 0)));
        }
        return calls;
    }

    private static void assertRefused(String call, Executable e) {
        MemorySystemClosedException refused = assertThrows(MemorySystemClosedException.class, e, call);
        assertTrue(refused.getMessage().contains(call), call + ": the refusal names the call: " + refused.getMessage());
    }

    @Test
    void everyRegionChangeIsRefusedAndChangesNothing() {
        sys.close();
        String before = machineState();
        long dirtyBits = dirtyBitsSet();
        List<String> notRefused = new ArrayList<>();
        for (MemoryRegion r : regions()) {
            for (Map.Entry<String, Executable> call : regionChanges(r).entrySet()) {
                try {
                    assertRefused(call.getKey(), call.getValue());
                } catch (AssertionError e) {
                    notRefused.add(r.name() + "." + call.getKey() + ": " + e.getMessage());
                }
                assertEquals(before, machineState(), r.name() + "." + call.getKey() + " changed the machine");
            }
        }
        assertEquals(List.of(), notRefused);
        assertEquals(dirtyBits, dirtyBitsSet(), "a refused call touched the closed machine's dirty bitmaps");
    }

    private long dirtyBitsSet() {
        long n = 0;
        long size = sys.dirtyMemory().sizeBytes();
        for (int client = 0; client < 3; client++) {
            for (long page = 0; page < size; page += 0x1000) {
                if (sys.dirtyMemory().getDirty(page, 0x1000, client)) {
                    n++;
                }
            }
        }
        return n;
    }

    @Test
    void systemChangesAreRefusedAndChangeNothing() throws Exception {
        sys.close();
        String before = machineState();
        assertTrue(sys.isGlobalDirtyTracking(), "close() leaves the flags as they were");
        try (RamBlock mine = RamBlock.anonymous("mine", MIB)) {
            Map<String, Executable> calls = new LinkedHashMap<>();
            calls.put("transactionBegin", sys::transactionBegin);
            calls.put("transactionCommit", sys::transactionCommit);
            calls.put("globalDirtyLogStart", () -> sys.globalDirtyLogStart(MemorySystem.GLOBAL_DIRTY_DIRTY_RATE));
            calls.put("globalDirtyLogStop", () -> sys.globalDirtyLogStop());
            calls.put("setCoalescedMmioFlusher", () -> sys.setCoalescedMmioFlusher(() -> { }));
            calls.put("registerListener", () -> sys.registerListener(new MemoryListener() { }, null));
            calls.put("addressSpace", () -> sys.addressSpace(loose, "late"));
            calls.put("add", () -> sys.ramList().add(mine));
            calls.put("addNotifier", () -> sys.ramList().addNotifier(new RamBlockNotifier() { }));
            for (Map.Entry<String, Executable> call : calls.entrySet()) {
                assertRefused(call.getKey(), call.getValue());
                assertEquals(before, machineState(), call.getKey() + " changed the machine");
            }
            assertNull(mine.ramList());
            assertEquals(1, mine.refCount());
        }
        assertEquals(MemorySystem.GLOBAL_DIRTY_MIGRATION, sys.globalDirtyTrackingFlags());
    }

    @Test
    void whatTheDocsPromiseStillWorksAfterClose() {
        RamBlock block = ram.ramBlock();
        DmaMapping mapping = as.map(0x10_0000, 0x1000, true, MemTxAttrs.UNSPECIFIED);
        MemoryRegionCache cache = new MemoryRegionCache();
        cache.init(as, 0x10_1000, 0x100, false);
        VcpuTlb tlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, null);
        assertEquals(0, tlb.ldlLe(0x10_2000));
        MemoryRegionSection section = root.find(0x10_0000, 0x1000);
        MemoryListener listener = new MemoryListener() { };
        sys.registerListener(listener, as);

        sys.close();
        sys.close(); // idempotent

        // queries answer
        assertTrue(sys.isClosed());
        assertEquals(List.of(), sys.addressSpaces());
        assertEquals(List.of("spare-dev"), spareBus.subregions().stream().map(MemoryRegion::name).toList());
        assertNull(loose.find(0, 4).region());
        assertFalse(loose.present(0));
        assertEquals(1, loose.ioeventfds().size());
        sys.syncDirtyBitmap(null); // no listener left: nothing to tell
        sys.globalAfterDirtyLogSync();
        sys.flushCoalescedMmio();
        sys.unregisterListener(listener); // not registered any more: does nothing
        // what the user still holds lets go of the machine's RAM
        assertEquals(MemTxResult.OK, mapping.unmap(0x1000));
        cache.destroy();
        tlb.flush();
        tlb.close();
        assertFalse(block.isReleased(), "the section still holds the region");
        section.release();
        assertTrue(block.isReleased());
        // regions the teardown never collected can still be destroyed
        loose2.ref();
        loose2.unref();
        RegionTeardown.destroy(sys, List.of(), List.of(spareBus, spareDev));
        assertTrue(spareBus.isFinalized());
        assertTrue(spareDev.isFinalized());
        looseAlias.destroy();
        loose.destroy();
        assertTrue(loose.isFinalized());
    }

    @Test
    void aListenerCallbackDuringTheTeardownIsRefusedToo() {
        AtomicReference<Throwable> inCallback = new AtomicReference<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionDel(MemoryRegionSection s) {
                if (inCallback.get() == null) {
                    try {
                        spareBus.setEnabled(false);
                        inCallback.set(new AssertionError("setEnabled was accepted during close()"));
                    } catch (RuntimeException e) {
                        inCallback.set(e);
                    }
                }
            }
        }, as);

        sys.close();

        assertTrue(inCallback.get() instanceof MemorySystemClosedException, String.valueOf(inCallback.get()));
        assertTrue(spareBus.isEnabled());
        assertTrue(ram.isFinalized());
    }

    @Test
    void aDestroyedSubregionOfAnUncollectedContainerIsFreedByDestroyingTheContainer() {
        sys.close();
        assertSame(spareBus, spareDev.container());
        assertThrows(IllegalStateException.class, spareDev::destroy, "still a subregion");
        spareBus.destroy(); // its finalization takes the subregions out
        assertNull(spareDev.container());
        spareDev.destroy();
        assertTrue(spareDev.isFinalized());
    }

    /**
     * A device whose unrealize destroys its own region after the machine closed: the teardown
     * destroyed every region it collected, so the owner's destroy() is quiet (not "destroyed twice"),
     * and the region stays finalized. On an open machine a second destroy() is still an error.
     */
    @Test
    void anOwnersDestroyAfterCloseOfARegionTheCloseDestroyedIsQuiet() {
        sys.close();
        assertTrue(dev.isDestroyed(), "the teardown destroyed the shown device");
        boolean finalized = dev.isFinalized();
        dev.destroy(); // the device's unrealize, after the machine went
        dev.destroy();
        assertTrue(dev.isDestroyed());
        assertEquals(finalized, dev.isFinalized());
        try (MemorySystem open = new MemorySystem()) {
            IoRegion r = new IoRegion(open, null, MemoryRegionOps.builder().build(), "r", 0x10);
            r.destroy();
            assertThrows(IllegalStateException.class, r::destroy, "destroyed twice on an open machine");
        }
    }
}
