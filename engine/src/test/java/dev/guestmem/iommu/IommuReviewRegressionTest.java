package dev.guestmem.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Defects found by a review of the IOMMU notifiers and the JIT fast path through IOMMUs (each of
 * these failed before its fix), and checks the review added.
 */
class IommuReviewRegressionTest {
    private static final long IOMMU_BASE = 0x1000_0000L;

    private final MemorySystem sys = new MemorySystem();
    private final RamBlock ram = RamBlock.anonymous("dram", 0x400000);
    private final ContainerRegion downstreamRoot = new ContainerRegion(sys, null, "downstream", -1L);
    private final AddressSpace downstream;
    private final ContainerRegion root = new ContainerRegion(sys, null, "cpu", -1L);

    IommuReviewRegressionTest() {
        downstreamRoot.addSubregion(0, new RamRegion(sys, null, "dram", ram, false, false));
        downstream = sys.addressSpace(downstreamRoot, "downstream");
        for (long p = 0; p < ram.segment().byteSize(); p += 0x1000) {
            ram.segment().set(ValueLayout.JAVA_INT_UNALIGNED, p, (int) (p >>> 12)); // page number at each page
        }
    }

    /** A table model: per context, iova page -> {target page, perm}; 4 KiB pages. */
    class Table implements IommuOps {
        final ConcurrentHashMap<Long, long[]> pages = new ConcurrentHashMap<>();
        final List<int[]> flagChanges = new ArrayList<>();
        int indexes = 1;
        int refuse;
        int idxForAttrs;

        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            long[] m = pages.get(((long) iommuIdx << 48) | (addr & ~0xFFFL));
            out.iova = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            if (m != null) {
                out.targetAs = downstream;
                out.translatedAddr = m[0];
                out.perm = (int) m[1];
            }
        }

        @Override
        public int attrsToIndex(MemTxAttrs attrs) {
            return idxForAttrs;
        }

        @Override
        public int numIndexes() {
            return indexes;
        }

        @Override
        public void notifyFlagChanged(IommuRegion r, int oldFlags, int newFlags) {
            if ((newFlags & refuse) != 0) {
                throw new IommuException("cannot deliver 0x" + Integer.toHexString(refuse));
            }
            flagChanges.add(new int[] {oldFlags, newFlags});
        }

        void map(int idx, long page, long target) {
            pages.put(((long) idx << 48) | page, new long[] {target, IommuTlbEntry.RW});
        }
    }

    private AddressSpace cpuWith(IommuRegion iommu) {
        root.addSubregion(IOMMU_BASE, iommu);
        return sys.addressSpace(root, "cpu");
    }

    /** Whether {@code e} still counts as current for {@code as} while it disagrees with the slow path. */
    private static String staleButCurrent(AddressSpace as, long addr, TlbEntry e) {
        int cached = e.segment().get(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset());
        int truth = as.ldlLe(addr);
        if (e.generation() == as.generation() && cached != truth) {
            return "entry generation " + e.generation() + " is current but it reads page " + cached
                    + " where the access path reads page " + truth;
        }
        return null;
    }

    // ------------------------------------------------------------------ notify: cropping

    /**
     * QEMU system/memory.c memory_region_notify_iommu_one crops (iova, addr_mask) only for notifiers
     * with IOMMU_NOTIFIER_DEVIOTLB_UNMAP (where translated_addr means nothing) and asserts that any
     * other event lies inside the notifier's range. guestmem crops every event, moving iova but not
     * translatedAddr: a MAP event that overlaps the range's start reaches a MAP notifier with an
     * iova -> address pair that is wrong by the cropped amount.
     */
    @Test
    void aCroppedMapEventStillMapsItsIovaToTheRightAddress() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32, new Table());
        List<IommuTlbEntry> seen = new ArrayList<>();
        iommu.notifiers().register(new IommuNotifier((n, e) -> seen.add(e), IommuNotifier.MAP, 0x1000, 0x1FFF, 0));
        // iova [0, 0x1FFF] -> [0x10000, 0x11FFF]: iova 0x1000 maps to 0x11000
        iommu.notifiers().notify(0, IommuNotifier.MAP, new IommuTlbEntry(downstream, 0, 0x10000, 0x1FFF,
                IommuTlbEntry.RW));
        assertEquals(1, seen.size());
        IommuTlbEntry e = seen.get(0);
        long mapsTo = (e.translatedAddr & ~e.addrMask) | (e.iova & e.addrMask);
        assertEquals(0x11000L, mapsTo, "the MAP event delivered to [0x1000, 0x1FFF] maps iova 0x"
                + Long.toHexString(e.iova) + " to 0x" + Long.toHexString(mapsTo) + ": " + e);
    }

    /**
     * QEMU models that override replay deliver each mapping to the one notifier being replayed with
     * the exported memory_region_notify_iommu_one (hw/i386/intel_iommu.c vtd_replay_hook,
     * hw/arm/smmuv3.c smmuv3_notify_iova, hw/virtio/virtio-iommu.c virtio_iommu_notify_map_unmap).
     * guestmem's IommuOps javadoc invites models to override {@link IommuOps#replay} "with a walk of
     * their own tables", but outside this package there is no way to hand a MAP entry to one
     * notifier: deliver/deliverUnfiltered are package-private, the callback has no getter, and
     * {@link IommuNotifiers#notify} reaches every notifier of the context. Only unmapRange is public.
     */
    @Test
    void aModelOutsideThePackageCanDeliverItsReplayToTheReplayedNotifier() {
        boolean found = false;
        for (Class<?> c : new Class<?>[] {IommuNotifier.class, IommuNotifiers.class}) {
            for (java.lang.reflect.Method m : c.getMethods()) {
                List<Class<?>> params = List.of(m.getParameterTypes());
                boolean oneNotifier = c == IommuNotifier.class || params.contains(IommuNotifier.class);
                if (oneNotifier && params.contains(IommuTlbEntry.class)) {
                    found = true;
                }
            }
        }
        assertTrue(found, "no public method hands an IommuTlbEntry to one notifier (memory_region_notify_iommu_one); "
                + "public methods of IommuNotifier: " + java.util.Arrays.stream(IommuNotifier.class.getDeclaredMethods())
                .filter(m -> java.lang.reflect.Modifier.isPublic(m.getModifiers())).map(m -> m.getName()).sorted()
                .toList());
    }

    // ------------------------------------------------------------------ the JIT's notifier

    /**
     * QEMU system/physmem.c tcg_register_iommu_notifier: the TCG notifier lives in the CPU's own
     * list and only tcg_iommu_free_notifier_list unregisters it. guestmem lists it in the public
     * {@link IommuNotifiers#registered()}, so a device model that resets its notifiers (unregistering
     * what is registered) removes it while {@code watchForTlb} still believes it is in place: later
     * UNMAP events reach nobody and a TLB entry stays current with a dead mapping.
     */
    @Test
    void unregisteringWhatIsRegisteredDoesNotSilenceTheTlb() {
        Table model = new Table();
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        AddressSpace cpu = cpuWith(iommu);
        model.map(0, 0x3000, 0x7000);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        for (IommuNotifier n : iommu.notifiers().registered()) { // e.g. a vfio-like consumer's teardown
            iommu.notifiers().unregister(n);
        }
        model.map(0, 0x3000, 0x8000);
        iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(downstream, 0x3000, 0, 0xFFF,
                IommuTlbEntry.NONE));
        String stale = staleButCurrent(cpu, IOMMU_BASE + 0x3000, e);
        assertEquals(null, stale, stale);
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        model.map(0, 0x3000, 0x9000);
        iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(downstream, 0x3000, 0, 0xFFF,
                IommuTlbEntry.NONE));
        stale = staleButCurrent(cpu, IOMMU_BASE + 0x3000, e);
        assertEquals(null, stale, "after a refill: " + stale);
    }

    // ------------------------------------------------------------------ setIommuOps

    /**
     * QEMU system/memory.c memory_region_update_iommu_notify_flags: the model hears every change of
     * the union of its notifiers' flags, and a model that cannot deliver an event refuses it there
     * (the JIT then never caches through it, as the guide says). guestmem's setIommuOps keeps the
     * registered notifiers but never tells the new model their flags: a model that refuses UNMAP,
     * installed after the first fill registered the TLB's UNMAP notifier, is cached through anyway
     * and will never invalidate the entries.
     */
    @Test
    void aModelInstalledLaterIsAskedForTheFlagsOfTheNotifiersItInherits() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000); // the model comes later
        AddressSpace cpu = cpuWith(iommu);
        TlbEntry e = new TlbEntry();
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e)); // no model: unassigned; watch registered
        Table model = new Table();
        model.refuse = IommuNotifier.UNMAP; // e.g. a model without invalidation events
        model.map(0, 0x3000, 0x7000);
        iommu.setIommuOps(model);
        boolean direct = GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e);
        assertFalse(direct, "a model that refuses UNMAP notifiers is cached through; it heard flag changes "
                + model.flagChanges.size() + " times, the region's flags are 0x"
                + Integer.toHexString(iommu.notifiers().flags()));
    }

    /**
     * The translation context and the translation must come from one model: fill reads
     * {@code attrsToIndex} (and registers its watch for that index) from the ops it sees first, then
     * calls translate on the ops it reads again. A setIommuOps between the two (another thread;
     * simulated here from inside the old model's attrsToIndex so the interleaving is certain) caches
     * the new model's answer for the wrong context, with a current generation: the new model's UNMAP
     * events for the context it really uses reach no TLB watch. QEMU reads one class
     * (system/physmem.c address_space_translate_for_iotlb: imrc->attrs_to_index then imrc->translate).
     */
    @Test
    void contextAndTranslationComeFromTheSameModel() {
        Table newer = new Table();
        newer.indexes = 2;
        newer.idxForAttrs = 1;
        newer.map(0, 0x3000, 0x7000); // context 0 (the one the old model chose)
        newer.map(1, 0x3000, 0x8000); // context 1 (the one the new model chooses for these attributes)
        AtomicReference<IommuRegion> region = new AtomicReference<>();
        Table older = new Table() {
            @Override
            public int attrsToIndex(MemTxAttrs attrs) {
                region.get().setIommuOps(newer); // the race: another thread installs the new model now
                return 0;
            }
        };
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, older);
        region.set(iommu);
        AddressSpace cpu = cpuWith(iommu);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        String stale = staleButCurrent(cpu, IOMMU_BASE + 0x3000, e);
        assertEquals(null, stale, stale);
    }

    // ------------------------------------------------------------------ lifetime

    /**
     * QEMU system/physmem.c tcg_iommu_free_notifier_list (cpu_exec_unrealizefn): a CPU that goes away
     * unregisters its IOMMU notifiers, so the model's notify_flag_changed hears the flags drop. In
     * guestmem a destroyed address space stays in the IOMMU's TLB watch and in the target space's
     * dependents for the life of the region (with its last view), and the notifier is never
     * unregistered.
     */
    @Test
    void destroyingTheSpaceThatCachedThroughAnIommuDropsItsWatchAndDependency() {
        Table model = new Table();
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        AddressSpace cpu = cpuWith(iommu);
        model.map(0, 0x3000, 0x7000);
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, new TlbEntry()));
        sys.destroyAddressSpace(cpu);
        assertFalse(downstream.hasTranslationDependent(cpu), "the target space still holds the destroyed space");
        assertEquals(0, iommu.notifiers().registered().length, "the destroyed space's TLB notifier is still "
                + "registered; flags 0x" + Integer.toHexString(iommu.notifiers().flags()));
    }

    // ------------------------------------------------------------------ the window form

    /**
     * LdSt's fault path computed a window byte's block offset as {@code w.section().segmentOffset() +
     * (addr - w.start())}, wrong for a window sliced for a page behind an IOMMU (it starts at the
     * IOMMU page's guest address in the CPU's space while {@code section()} is the target section in
     * another space). A window now carries its own {@link DirectWindow#segmentOffset()}.
     */
    @Test
    void aSlicedWindowKeepsTheDocumentedRelationToItsSection() {
        Table model = new Table();
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        AddressSpace cpu = cpuWith(iommu);
        model.map(0, 0x3000, 0x7000);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        DirectWindow w = e.window();
        long addr = IOMMU_BASE + 0x3010;
        long byLdSt = w.segmentOffset() + (addr - w.start());
        assertEquals(0x7010L, byLdSt, "segmentOffset() + (addr - start()) = 0x" + Long.toHexString(byLdSt)
                + ", start()=0x" + Long.toHexString(w.start()) + ", section().start()=0x"
                + Long.toHexString(w.section().start()));
    }

    /**
     * Check (expected to pass): the one-page slice of a logged target marks the right ram_addr page
     * (LdSt's store path: {@code dirtyMemory().invalidateAndSetDirty(ramAddr() + off, n, dirtyMask())}),
     * for a target section that starts at a non-zero block offset; a ROM target keeps only its read
     * slice; a target section shorter than a page gives no window.
     */
    @Test
    void checkSlicesOfLoggedRomAndShortTargets() {
        RamRegion dram = (RamRegion) downstreamRoot.subregions().get(0);
        dev.guestmem.region.AliasRegion high = new dev.guestmem.region.AliasRegion(sys, null, "high", dram, 0x100000,
                0x100000);
        downstreamRoot.addSubregion(0x800000, high);
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x2000);
        downstreamRoot.addSubregion(0xA00000, rom);
        RamRegion shortRam = RamRegion.allocate(sys, null, "short", 0x800);
        downstreamRoot.addSubregion(0xB00000, shortRam);
        dram.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        Table model = new Table();
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        AddressSpace cpu = cpuWith(iommu);
        model.map(0, 0x3000, 0x805000); // block offset 0x105000
        model.map(0, 0x4000, 0xA01000);
        model.map(0, 0x5000, 0xB00000);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, e));
        DirectWindow w = e.window();
        assertEquals(0, w.write().byteSize());
        assertEquals(0x1000, w.loggedWrite().byteSize());
        assertEquals(ram.offset() + 0x105000, w.ramAddr());
        sys.dirtyMemory().testAndClearDirty(ram.offset(), ram.segment().byteSize(), MemoryRegion.DIRTY_MEMORY_VGA);
        w.loggedWrite().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0xCAFE);
        w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + 0x10, 4, w.dirtyMask());
        assertTrue(sys.dirtyMemory().getDirty(ram.offset() + 0x105000, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA));
        assertFalse(sys.dirtyMemory().getDirty(ram.offset() + 0x104000, 0x1000, MemoryRegion.DIRTY_MEMORY_VGA));
        assertEquals(0xCAFE, cpu.ldlLe(IOMMU_BASE + 0x3010));
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE + 0x4000, e));
        assertEquals(0x1000, e.window().read().byteSize());
        assertEquals(0, e.window().write().byteSize() + e.window().loggedWrite().byteSize());
        assertFalse(e.writeDirect());
        assertFalse(GuestTlb.fill(cpu, IOMMU_BASE + 0x5000, e));
        assertEquals(0, e.window().read().byteSize());
    }

    // ------------------------------------------------------------------ stress

    /**
     * The basic race (system/physmem.c tcg_iommu_unmap_notify's contract): a model changes its table,
     * then notifies UNMAP; fills run concurrently, many of them the first of their context (so the
     * watch registration races with the notification too). Once a change has been notified, no
     * entry from an older table may carry the current generation. Runs for
     * {@code guestmem.stress.seconds} with {@code -Dguestmem.stress=true}, else for one second.
     */
    @Test
    void stressNoEntryFromAnOlderTableIsCurrent() throws Exception {
        final int contexts = 256;
        final long pages = 1024;
        final long[] current = {0};
        IommuOps model = new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
                long v;
                synchronized (current) {
                    v = current[0];
                }
                out.iova = addr & ~0xFFFL;
                out.addrMask = 0xFFF;
                out.targetAs = downstream;
                out.translatedAddr = (v % pages) << 12;
                out.perm = IommuTlbEntry.RW;
            }

            @Override
            public int attrsToIndex(MemTxAttrs attrs) {
                return attrs.requesterId() % contexts;
            }

            @Override
            public int numIndexes() {
                return contexts;
            }
        };
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        AddressSpace cpu = cpuWith(iommu);
        java.util.concurrent.atomic.AtomicLong completed = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicInteger contextsInUse = new java.util.concurrent.atomic.AtomicInteger(1);
        java.util.concurrent.atomic.AtomicReference<String> failure = new java.util.concurrent.atomic.AtomicReference<>();
        long seconds = Boolean.getBoolean("guestmem.stress") ? Long.getLong("guestmem.stress.seconds", 2) : 1;
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        Thread writer = new Thread(() -> {
            IommuTlbEntry unmap = new IommuTlbEntry(downstream, 0, 0, 0xFFFFF, IommuTlbEntry.NONE);
            while (System.nanoTime() < deadline && failure.get() == null) {
                long v;
                synchronized (current) {
                    v = ++current[0];
                }
                int k = contextsInUse.get();
                for (int i = 0; i < k; i++) {
                    iommu.notifiers().notify(i, IommuNotifier.UNMAP, unmap);
                }
                completed.set(v);
            }
        });
        writer.start();
        TlbEntry e = new TlbEntry();
        long checks = 0;
        int nextNew = 1;
        while (System.nanoTime() < deadline && failure.get() == null) {
            int idx;
            if (nextNew < contexts && (checks & 63) == 0) {
                idx = nextNew++;
                contextsInUse.set(nextNew); // the writer notifies this context from now on
            } else {
                idx = (int) (checks % nextNew);
            }
            MemTxAttrs attrs = new MemTxAttrs(false, false, false, false, false, idx);
            GuestTlb.fill(cpu, IOMMU_BASE + 0x3000, attrs, e);
            long d = completed.get();
            if (e.generation() == cpu.generation() && e.segment() != null) {
                long got = e.hostOffset() >>> 12;
                if (got != d % pages && got != (d + 1) % pages) {
                    failure.set("context " + idx + ": a current entry maps to page " + got + " after change " + d
                            + " was notified");
                }
            }
            checks++;
        }
        writer.join();
        assertEquals(null, failure.get(), failure.get() + " (" + checks + " checks)");
    }
}
