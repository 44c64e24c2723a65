package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.FaultProneHold;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Adversarial audit of soft-TLB invalidation: for every way the answer for a page can change, an
 * entry filled as a JIT fills it either sees the generation move or is still exactly right
 * ({@link TlbOracle}).
 */
class TlbInvalidationAuditTest {
    private static final long MIB = 1 << 20;
    private static final long PAGE = GuestTlb.PAGE_SIZE;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");

    private RamRegion ram(String name, long size, int tag) {
        RamRegion r = RamRegion.allocate(sys, null, name, size);
        TlbOracle.pattern(r.ramBlock().segment(), tag);
        return r;
    }

    private static IoRegion io(MemorySystem s, String name, long size) {
        return new IoRegion(s, null, MemoryRegionOps.builder().read((a, n) -> 0xdead).write((a, d, n) -> { })
                .build(), name, size);
    }

    /** Fills entries for {@code pages}, runs {@code change}, judges every entry. */
    private void audit(String what, Runnable change, long... pages) {
        audit(as, what, change, pages);
    }

    private static void audit(AddressSpace space, String what, Runnable change, long... pages) {
        List<TlbEntry> cached = new ArrayList<>();
        for (long p : pages) {
            cached.add(TlbOracle.fill(space, p));
        }
        change.run();
        for (TlbEntry e : cached) {
            TlbOracle.assertCoherent(space, e, what + " @0x" + Long.toHexString(e.pageAddr()));
        }
    }

    @Test
    void addDeleteMoveEnablePriority() {
        RamRegion a = ram("a", MIB, 1);
        RamRegion b = ram("b", MIB, 2);
        root.addSubregion(0, a);
        long[] pages = {0, 0x1000, 0x80000, MIB - PAGE, MIB, 2 * MIB};
        audit("add overlapping b", () -> root.addSubregionOverlap(0x80000, b, 1), pages);
        audit("move b", () -> b.setAddress(0x40000), pages);
        audit("disable b", () -> b.setEnabled(false), pages);
        audit("enable b", () -> b.setEnabled(true), pages);
        audit("priority: b under a", () -> {
            sys.transactionBegin();
            try {
                root.delSubregion(b);
                root.addSubregionOverlap(0x40000, b, -1);
            } finally {
                sys.transactionCommit();
            }
        }, pages);
        audit("delete a", () -> root.delSubregion(a), pages);
    }

    @Test
    void aliasOffsetAndAliasTargetContent() {
        RamRegion a = ram("a", 2 * MIB, 1);
        ContainerRegion bank = new ContainerRegion(sys, null, "bank", 2 * MIB);
        bank.addSubregion(0, a);
        AliasRegion window = new AliasRegion(sys, null, "window", bank, 0, MIB);
        root.addSubregion(0x1000_0000L, window);
        root.addSubregion(0x2000_0000L, new AliasRegion(sys, null, "window2", a, 0x1000, MIB));
        long[] pages = {0x1000_0000L, 0x1000_1000L, 0x1008_0000L, 0x2000_0000L, 0x2008_0000L};
        audit("alias offset", () -> window.setAliasOffset(0x10000), pages);
        RamRegion patch = ram("patch", 0x10000, 3);
        audit("target content: overlap in the aliased container", () -> bank.addSubregionOverlap(0x10000, patch, 1),
                pages);
        audit("target content: disable the target's subregion", () -> patch.setEnabled(false), pages);
        audit("target moves inside the aliased container", () -> a.setAddress(0x1000), pages);
    }

    @Test
    void containerResize() {
        ContainerRegion bus = new ContainerRegion(sys, null, "bus", 2 * MIB);
        bus.addSubregion(0, ram("a", 2 * MIB, 1));
        root.addSubregion(0, bus);
        long[] pages = {0, MIB - PAGE, MIB, 2 * MIB - PAGE};
        audit("container shrinks", () -> bus.setSize(MIB), pages);
        audit("container grows", () -> bus.setSize(2 * MIB), pages);
    }

    private RamRegion resizeable(String name, long size, long max, int tag) {
        RamBlock block = RamBlock.builder(name, size).resizeable(max, null).build();
        TlbOracle.pattern(block.maxSegment(), tag);
        RamRegion r = new RamRegion(sys, null, name, block, false, false);
        block.close();
        return r;
    }

    @Test
    void ramResizeGrowAndShrink() {
        RamRegion r = resizeable("vram", MIB, 4 * MIB, 1);
        root.addSubregion(0x4000_0000L, r);
        root.addSubregion(0x5000_0000L, new AliasRegion(sys, null, "vram-low", r, 0, MIB));
        root.addSubregion(0x6000_0000L, new AliasRegion(sys, null, "vram-high", r, MIB, MIB));
        long[] pages = {0x4000_0000L, 0x4000_0000L + MIB - PAGE, 0x4000_0000L + MIB, 0x4000_0000L + 3 * MIB,
            0x5000_0000L, 0x5000_0000L + MIB - PAGE, 0x6000_0000L, 0x6000_0000L + MIB - PAGE};
        audit("ramResize grow", () -> r.ramResize(4 * MIB), pages);
        audit("ramResize shrink", () -> r.ramResize(MIB / 2), pages);
        audit("ramResize grow again", () -> r.ramResize(2 * MIB), pages);
    }

    /**
     * {@code RamBlock.resize} alone (not {@code RamRegion.ramResize}) keeps the region's size, and
     * its javadoc promised {@code DECODE_ERROR} past the new used length. Sections kept the old used
     * segment and nothing re-rendered them (not even a later commit elsewhere, which patches only its
     * own window), so the TLB and the address space both went on serving the old length, for good.
     */
    @Test
    void blockResizeAloneIsSeenAtOnce() {
        RamRegion r = resizeable("vram", 2 * MIB, 4 * MIB, 1);
        root.addSubregion(0x4000_0000L, r);
        long past = 0x4000_0000L + MIB;
        long[] pages = {0x4000_0000L, past, 0x4000_0000L + 2 * MIB - PAGE};
        TlbEntry before = TlbOracle.fill(as, past);
        audit("RamBlock.resize shrink without the region", () -> {
            sys.lock().lock();
            try {
                r.ramBlock().resize(MIB);
            } finally {
                sys.lock().unlock();
            }
        }, pages);
        assertNotEquals(before.generation(), as.generation(), "the answer for the page changed");
        assertFalse(TlbOracle.fill(as, past).readDirect(), "past the used length");
        assertEquals(MemTxResult.DECODE_ERROR, as.read(past, dev.guestmem.access.MemTxAttrs.UNSPECIFIED,
                new byte[8], 0, 8));
        assertTrue(TlbOracle.fill(as, past - PAGE).readDirect());
        audit("RamBlock.resize grow back", () -> {
            sys.lock().lock();
            try {
                r.ramBlock().resize(2 * MIB);
            } finally {
                sys.lock().unlock();
            }
        }, pages);
        assertTrue(TlbOracle.fill(as, past).readDirect(), "in use again");
    }

    /**
     * The re-render a resize asks for takes the system's lock; it ran while the block's monitor was
     * held, so a resize made without that lock (against the docs, but nothing stops it) held the
     * monitor while it waited for the lock, and a resize of the same block under the lock then
     * waited for the monitor: a deadlock. The monitor now covers only the length change.
     */
    @Test
    void aResizeWithoutTheLockDoesNotDeadlockOneUnderIt() throws Exception {
        RamRegion r = resizeable("vram", 2 * MIB, 4 * MIB, 1);
        root.addSubregion(0x4000_0000L, r);
        java.util.concurrent.CountDownLatch locked = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch unlockedStarted = new java.util.concurrent.CountDownLatch(1);
        Thread underLock = Thread.ofPlatform().daemon().start(() -> {
            sys.lock().lock();
            try {
                locked.countDown();
                awaitQuietly(unlockedStarted);
                sleepQuietly(100); // let the other resize take the monitor and wait for the lock
                r.ramBlock().resize(3 * MIB);
            } finally {
                sys.lock().unlock();
            }
        });
        awaitQuietly(locked);
        Thread withoutLock = Thread.ofPlatform().daemon().start(() -> {
            unlockedStarted.countDown();
            r.ramBlock().resize(MIB);
        });
        underLock.join(20_000); // a hang guard, not a timing check
        withoutLock.join(20_000);
        assertFalse(underLock.isAlive() || withoutLock.isAlive(), "the two resizes deadlocked");
    }

    private static void awaitQuietly(java.util.concurrent.CountDownLatch l) {
        try {
            l.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void readonlyOnRegionContainerAndAlias() {
        RamRegion a = ram("a", MIB, 1);
        ContainerRegion pam = new ContainerRegion(sys, null, "pam", MIB);
        pam.addSubregion(0, a);
        root.addSubregion(0, pam);
        AliasRegion alias = new AliasRegion(sys, null, "a-alias", a, 0, MIB);
        root.addSubregion(0x1000_0000L, alias);
        long[] pages = {0, 0x1000, 0x1000_0000L, 0x1000_1000L};
        audit("region read-only", () -> a.setReadonly(true), pages);
        audit("region writable", () -> a.setReadonly(false), pages);
        audit("container read-only", () -> pam.setReadonly(true), pages);
        audit("container writable", () -> pam.setReadonly(false), pages);
        audit("alias read-only", () -> alias.setReadonly(true), pages);
        TlbEntry e = TlbOracle.fill(as, 0x1000_0000L);
        assertFalse(e.writeDirect(), "read-only alias");
        assertEquals(GuestTlb.TLB_DISCARD_WRITE, e.flags() & GuestTlb.TLB_DISCARD_WRITE);
        assertTrue(TlbOracle.fill(as, 0).writeDirect(), "the region itself stays writable");
    }

    @Test
    void romdToggle() {
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, MemoryRegionOps.builder()
                .read((a, n) -> 0xdead).write((a, d, n) -> { }).build(), "flash", MIB);
        TlbOracle.pattern(flash.ramBlock().segment(), 7);
        root.addSubregion(0xfff0_0000L, flash);
        root.addSubregion(0x7000_0000L, new AliasRegion(sys, null, "flash-alias", flash, 0, MIB));
        long[] pages = {0xfff0_0000L, 0xffff_f000L, 0x7000_0000L};
        assertTrue(TlbOracle.fill(as, 0xfff0_0000L).readDirect());
        audit("ROMD off", () -> flash.setRomd(false), pages);
        assertFalse(TlbOracle.fill(as, 0x7000_0000L).readDirect(), "I/O mode through the alias too");
        audit("ROMD on", () -> flash.setRomd(true), pages);
        assertTrue(TlbOracle.fill(as, 0x7000_0000L).readDirect());
    }

    @Test
    void discardAndPopulateKeepEntriesRight() {
        RamRegion mem = ram("virtio-mem", 4 * MIB, 5);
        BitmapRamDiscardManager m = BitmapRamDiscardManager.attach(mem, 2 * MIB);
        root.addSubregion(0x1_0000_0000L, mem);
        long[] pages = {0x1_0000_0000L, 0x1_0020_0000L};
        audit("plug", () -> m.plug(0, 2 * MIB), pages);
        audit("unplug", () -> m.unplug(0, 2 * MIB), pages);
    }

    @Test
    void vgaLogStartAndStop() {
        RamRegion vram = ram("vram", MIB, 1);
        root.addSubregion(0xa000_0000L, vram);
        root.addSubregion(0xb000_0000L, new AliasRegion(sys, null, "vram-alias", vram, 0, MIB));
        long[] pages = {0xa000_0000L, 0xb000_0000L};
        audit("VGA log on", () -> vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA), pages);
        assertEquals(GuestTlb.TLB_NOTDIRTY, TlbOracle.fill(as, 0xb000_0000L).flags() & GuestTlb.TLB_NOTDIRTY);
        audit("VGA log off", () -> vram.setLog(false, DirtyMemory.DIRTY_MEMORY_VGA), pages);
        assertTrue(TlbOracle.fill(as, 0xb000_0000L).writeDirect());
    }

    @Test
    void migrationLogStartAndStop() {
        root.addSubregion(0, ram("a", MIB, 1));
        long[] pages = {0, MIB - PAGE};
        audit("migration start", sys::globalDirtyLogStart, pages);
        assertFalse(TlbOracle.fill(as, 0).writeDirect(), "migration logs every store");
        audit("migration stop", sys::globalDirtyLogStop, pages);
        assertTrue(TlbOracle.fill(as, 0).writeDirect());
    }

    /**
     * QEMU's clear (snapshot-and-clear, {@code cpu_physical_memory_test_and_clear_dirty}) resets
     * the vCPU TLBs' dirty bit ({@code tlb_reset_dirty_range_all}): the next store through an entry
     * filled before the clear is logged. Here a logged section makes every entry NOTDIRTY, and the
     * window form's logged store marks every time, so a store after a clear must be in the next
     * snapshot, with no generation move needed.
     */
    @Test
    void clearThenStoreThroughCachedEntryIsLogged() {
        RamRegion vram = ram("vram", MIB, 1);
        root.addSubregion(0xa000_0000L, vram);
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        DirtyMemory dirty = sys.dirtyMemory();
        TlbEntry e = TlbOracle.fill(as, 0xa000_3000L);
        long gen = as.generation();
        for (int round = 0; round < 3; round++) {
            switch (round) {
                case 0 -> vram.snapshotAndClearDirty(0, MIB, DirtyMemory.DIRTY_MEMORY_VGA);
                case 1 -> vram.resetDirty(0, MIB, DirtyMemory.DIRTY_MEMORY_VGA);
                default -> dirty.clearDirtyRange(vram.ramBlock().offset(), MIB);
            }
            assertFalse(vram.snapshotAndClearDirty(0, MIB, DirtyMemory.DIRTY_MEMORY_VGA).dirtyPageCount() > 0);
            // the documented pattern: the generation is unchanged, so the entry is used as it is
            assertEquals(gen, e.generation());
            assertEquals(gen, as.generation());
            assertFalse(e.writeDirect(), "a logged page is never stored to directly");
            assertEquals(MemTxResult.OK, as.stlLe(0xa000_3010L, round));          // the slow store it takes
            // the window form: the logged store of GuideWindowTlb.storeLogged
            var w = e.window();
            long off = 0xa000_5000L - w.start();
            w.loggedWrite().set(ValueLayout.JAVA_INT_UNALIGNED, off, round);
            w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 4, w.dirtyMask());
            var snap = vram.snapshotAndClearDirty(0, MIB, DirtyMemory.DIRTY_MEMORY_VGA);
            assertTrue(vram.snapshotGetDirty(snap, 0x3010, 4), "store after clear " + round + " not logged");
            assertTrue(vram.snapshotGetDirty(snap, 0x5000, 4), "window store after clear " + round + " not logged");
        }
    }

    @Test
    void codePageProtectionAfterFill() {
        MemorySystem tcg = new MemorySystem(true);
        ContainerRegion sysmem = new ContainerRegion(tcg, null, "system", -1L);
        RamRegion r = RamRegion.allocate(tcg, null, "ram", MIB);
        sysmem.addSubregion(0, r);
        AddressSpace space = tcg.addressSpace(sysmem, "memory");
        DirtyMemory dirty = tcg.dirtyMemory();
        List<Long> invalidated = new ArrayList<>();
        dirty.setCodeInvalidator((ramAddr, len) -> {
            invalidated.add(ramAddr);
            dirty.setDirtyRange(ramAddr & ~0xfffL, PAGE, DirtyMemory.MASK_CODE);
        });
        TlbEntry e = TlbOracle.fill(space, 0x3000);
        TlbEntry w = TlbOracle.fill(space, 0x5000);
        assertFalse(e.writeDirect(), "TCG: every RAM page is NOTDIRTY");
        // the JIT translates code on both pages only now, after the entries were filled
        dirty.resetDirty(e.ramAddr(), PAGE, DirtyMemory.DIRTY_MEMORY_CODE);
        dirty.resetDirty(w.ramAddr(), PAGE, DirtyMemory.DIRTY_MEMORY_CODE);
        assertEquals(space.generation(), e.generation(), "protecting code moves no generation");
        space.stlLe(0x3010, 0x90909090);
        var win = w.window();
        long off = 0x5020 - win.start();
        win.loggedWrite().set(ValueLayout.JAVA_INT_UNALIGNED, off, 0x90909090);
        win.dirtyMemory().invalidateAndSetDirty(win.ramAddr() + off, 4, win.dirtyMask());
        assertEquals(List.of(e.ramAddr() + 0x10, w.ramAddr() + 0x20), invalidated);
    }

    @Test
    void faultProneHoldRaisedAndLowered() {
        RamRegion r = ram("ram", MIB, 1);
        root.addSubregion(0, r);
        root.addSubregion(0x1000_0000L, new AliasRegion(sys, null, "alias", r, 0, MIB));
        long[] pages = {0, 0x1000_0000L};
        FaultProneHold[] hold = new FaultProneHold[1];
        audit("lazy restore fence raised", () -> hold[0] = r.ramBlock().holdFaultProne("restore"), pages);
        TlbEntry e = TlbOracle.fill(as, 0x1000_0000L);
        assertFalse(e.readDirect(), "fenced: not direct");
        assertEquals(GuestTlb.TLB_FAULT_PRONE, e.flags() & GuestTlb.TLB_FAULT_PRONE);
        audit("lazy restore fence lowered", () -> hold[0].close(), pages);
        assertTrue(TlbOracle.fill(as, 0x1000_0000L).readDirect());
    }

    @Test
    void releasedBlockIsAClearErrorNeverACrash() {
        RamRegion r = ram("dimm", MIB, 1);
        root.addSubregion(0x1_0000_0000L, r);
        TlbEntry e = TlbOracle.fill(as, 0x1_0000_0000L);
        var w = e.window();
        long gen = e.generation();
        root.delSubregion(r);
        r.destroy();
        assertTrue(r.ramBlock().isReleased(), "the test must really release the block");
        assertNotEquals(gen, as.generation());
        // a JIT that checked the generation just before the unplug still uses the entry
        assertThrows(IllegalStateException.class, () -> e.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, e.hostOffset()));
        assertThrows(IllegalStateException.class, () -> e.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, e.hostOffset(), 1));
        assertThrows(IllegalStateException.class, () -> w.read().get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
        assertThrows(IllegalStateException.class, () -> w.write().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 1));
        assertEquals(MemTxResult.DECODE_ERROR, as.read(0x1_0000_0000L, dev.guestmem.access.MemTxAttrs.UNSPECIFIED,
                new byte[8], 0, 8));
    }

    @Test
    void twoAddressSpacesSharingRegions() {
        RamRegion shared = ram("shared", MIB, 1);
        ContainerRegion cpuRoot = new ContainerRegion(sys, null, "cpu-root", -1L);
        ContainerRegion dmaRoot = new ContainerRegion(sys, null, "dma-root", -1L);
        cpuRoot.addSubregion(0, shared);
        dmaRoot.addSubregion(0x8000_0000L, new AliasRegion(sys, null, "dma-window", shared, 0, MIB));
        AddressSpace cpu = sys.addressSpace(cpuRoot, "cpu");
        AddressSpace dma = sys.addressSpace(dmaRoot, "dma");
        AddressSpace cpu2 = sys.addressSpace(cpuRoot, "cpu2"); // same root: same view
        List<TlbEntry> entries = List.of(TlbOracle.fill(cpu, 0x2000), TlbOracle.fill(dma, 0x8000_2000L),
                TlbOracle.fill(cpu2, 0x2000));
        List<AddressSpace> spaces = List.of(cpu, dma, cpu2);
        Runnable[] changes = {
            () -> shared.setReadonly(true),
            () -> shared.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA),
        };
        for (int i = 0; i < changes.length; i++) {
            List<TlbEntry> now = new ArrayList<>();
            for (int k = 0; k < spaces.size(); k++) {
                now.add(TlbOracle.fill(spaces.get(k), entries.get(k).pageAddr()));
            }
            changes[i].run();
            for (int k = 0; k < spaces.size(); k++) {
                TlbOracle.assertCoherent(spaces.get(k), now.get(k), "change " + i + " in " + spaces.get(k).name());
            }
        }
    }

    /**
     * One TLB per vCPU for all its address spaces, as TCG keeps (x86's SMM space beside the normal
     * one, selected per access by attrs): an entry filled from one space must never pass the other's
     * tag-and-generation check. Spaces are published by the same commits, so per-space counters
     * moved in lock-step and an SMRAM entry hit for normal-mode code.
     */
    @Test
    void anEntryOfOneSpaceNeverPassesAnotherSpacesCheck() {
        RamRegion dram = ram("dram", MIB, 1);
        RamRegion smram = ram("smram", 0x10000, 9);
        ContainerRegion normalRoot = new ContainerRegion(sys, null, "normal-root", -1L);
        ContainerRegion smmRoot = new ContainerRegion(sys, null, "smm-root", -1L);
        normalRoot.addSubregion(0, new AliasRegion(sys, null, "normal-dram", dram, 0, MIB));
        smmRoot.addSubregion(0, new AliasRegion(sys, null, "smm-dram", dram, 0, MIB));
        smmRoot.addSubregionOverlap(0x30000, smram, 1);
        AddressSpace normal = sys.addressSpace(normalRoot, "cpu-memory");
        AddressSpace smm = sys.addressSpace(smmRoot, "cpu-smm");
        root.addSubregion(0x4000_0000L, ram("other", MIB, 3)); // a commit publishing every space
        TlbEntry e = TlbOracle.fill(smm, 0x30000);             // an SMM-mode access fills the slot
        boolean hit = e.pageAddr() == 0x30000 && e.generation() == normal.generation();
        assertFalse(hit, "an SMRAM entry (gen " + e.generation() + ") passes the normal space's check (gen "
                + normal.generation() + ")");
        assertNotEquals(new TlbEntry().generation(), as.generation(), "an unfilled entry passes the check");
    }

    /** A page behind an IOMMU: a remap (UNMAP then MAP, as models notify) and a permission change. */
    @Test
    void iommuRemapAndPermissionChange() {
        RamRegion dram = ram("dram", MIB, 4);
        ContainerRegion downRoot = new ContainerRegion(sys, null, "downstream", -1L);
        downRoot.addSubregion(0, dram);
        AddressSpace down = sys.addressSpace(downRoot, "downstream");
        java.util.Map<Long, long[]> map = new java.util.concurrent.ConcurrentHashMap<>(); // iova page -> {addr, perm}
        IommuRegion[] iommu = new IommuRegion[1];
        iommu[0] = new IommuRegion(sys, null, "iommu", MIB, (addr, flag, idx, out) -> {
            long[] m = map.get(addr & ~0xfffL);
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            if (m != null) {
                out.targetAs = down;
                out.translatedAddr = m[0];
                out.perm = (int) m[1];
            }
        });
        root.addSubregion(0x2000_0000L, iommu[0]);
        java.util.function.BiConsumer<Long, long[]> change = (page, now) -> {
            long[] old = now == null ? map.remove(page) : map.put(page, now);
            if (old != null) {
                iommu[0].notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(down, page, 0, 0xfff, 0));
            }
        };
        change.accept(0x3000L, new long[] {0x7000, IommuTlbEntry.RW});
        long[] pages = {0x2000_3000L};
        assertTrue(TlbOracle.fill(as, 0x2000_3000L).writeDirect());
        audit("IOMMU remap", () -> change.accept(0x3000L, new long[] {0x9000, IommuTlbEntry.RW}), pages);
        assertEquals(dram.ramBlock().offset() + 0x9000, TlbOracle.fill(as, 0x2000_3000L).ramAddr());
        audit("IOMMU read-only", () -> change.accept(0x3000L, new long[] {0x9000, IommuTlbEntry.RO}), pages);
        assertFalse(TlbOracle.fill(as, 0x2000_3000L).writeDirect());
        audit("IOMMU unmap", () -> change.accept(0x3000L, null), pages);
        assertFalse(TlbOracle.fill(as, 0x2000_3000L).readDirect());
        change.accept(0x3000L, new long[] {0x7000, IommuTlbEntry.RW});
        audit("downstream space changes", () -> downRoot.addSubregionOverlap(0x7000, io(sys, "hole", PAGE), 1), pages);
        assertFalse(TlbOracle.fill(as, 0x2000_3000L).readDirect(), "now MMIO behind the IOMMU");
    }

    /** A space rooted at a region that moves (its own address shifts what it renders), also inside a disabled container. */
    @Test
    void rootRegionMoves() {
        ContainerRegion sub = new ContainerRegion(sys, null, "sub", 4 * MIB);
        sub.addSubregion(0, ram("a", MIB, 1));
        AddressSpace subAs = sys.addressSpace(sub, "sub-space");
        long[] pages = {0, PAGE, MIB, MIB + PAGE};
        audit(subAs, "root moves", () -> sub.setAddress(MIB), pages);
        ContainerRegion off = new ContainerRegion(sys, null, "off", -1L);
        off.setEnabled(false);
        root.addSubregion(0x8000_0000L, off);
        sys.transactionBegin();
        try {
            sub.setAddress(0);
            off.addSubregion(0, sub);
        } finally {
            sys.transactionCommit();
        }
        audit(subAs, "root moves inside a disabled container", () -> sub.setAddress(2 * MIB),
                0, PAGE, 2 * MIB, 2 * MIB + PAGE);
    }
}
