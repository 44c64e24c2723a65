package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Program 2: a framebuffer. A VGA-like device logs its VRAM (seen through a PCI BAR and through a
 * low-memory alias, as QEMU's {@code vga-lowmem}), the guest draws through the address space, DMA and
 * a JIT's TLB, the display takes snapshot-and-clear rounds, and migration logs the same pages.
 */
class FramebufferTest {
    static final long MIB = 1 << 20;
    static final long BAR = 0xfd00_0000L;
    static final long LOWMEM = 0xa0000L;
    static final long PAGE = 4096;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * MIB);
    final RamRegion vram = RamRegion.allocate(sys, "vga", "vga.vram", MIB);
    final AddressSpace as;

    FramebufferTest() {
        system.addSubregion(0, ram);
        system.addSubregion(BAR, vram);
        system.addSubregionOverlap(LOWMEM, new AliasRegion(sys, "vga", "vga-lowmem", vram, 0, 0x20000), 1);
        as = sys.addressSpace(system, "memory");
    }

    /** The display's pages (region offsets / 4 KiB) that a snapshot-and-clear round reports. */
    Set<Long> displayRound() {
        DirtyBitmapSnapshot snap = vram.snapshotAndClearDirty(0, vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        Set<Long> pages = new TreeSet<>();
        for (long off = 0; off < vram.size(); off += PAGE) {
            if (vram.snapshotGetDirty(snap, off, PAGE)) {
                pages.add(off / PAGE);
            }
        }
        return pages;
    }

    /** Migration's view of the same pages, read off the system bitmaps by ram_addr. */
    Set<Long> migrationRound(RamRegion r) {
        long base = r.ramBlock().offset();
        DirtyBitmapSnapshot snap = sys.dirtyMemory().snapshotAndClearDirty(base, r.size(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Set<Long> pages = new TreeSet<>();
        snap.forEachDirtyPage(ramAddr -> {
            if (ramAddr - base < r.size()) {
                pages.add((ramAddr - base) / PAGE);
            }
        });
        return pages;
    }

    @Test
    void displayAndMigrationSeeEveryWayTheGuestDraws() {
        List<String> syncs = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void logSync(MemoryRegionSection s) {
                syncs.add(s.region().name() + "@0x" + Long.toHexString(s.offsetWithinAddressSpace()));
            }
        }, as);
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        displayRound();                                       // new blocks start dirty
        sys.globalDirtyLogStart();
        migrationRound(vram);
        migrationRound(ram);
        syncs.clear();

        as.stlLe(LOWMEM + 0x1010, 0xffffff);                  // through the legacy window
        as.stlLe(BAR + 0x5000, 0xffffff);                     // through the BAR
        DmaMapping m = as.map(BAR + 0x10000, 3 * PAGE, true, MemTxAttrs.UNSPECIFIED);   // a blitter's DMA
        assertFalse(m.isBounce());
        assertEquals(3 * PAGE, m.length());
        m.segment().fill((byte) 0x7f);
        assertEquals(MemTxResult.OK, m.unmap(3 * PAGE));
        byte[] line = new byte[32];
        assertEquals(MemTxResult.OK, as.write(BAR + 0x20ff0, MemTxAttrs.UNSPECIFIED, line, 0, 32)); // 2 pages
        assertEquals(MemTxResult.OK, as.set(BAR + 0x30000, (byte) 0, PAGE, MemTxAttrs.UNSPECIFIED));
        as.stlLe(0x4000, 1);                                  // ordinary RAM: not the display's business

        Set<Long> expected = new TreeSet<>(List.of(1L, 5L, 16L, 17L, 18L, 32L, 33L, 48L));
        assertEquals(expected, displayRound());
        assertFalse(syncs.isEmpty(), "the display's snapshot asked listeners to sync first");
        assertTrue(syncs.stream().allMatch(s -> s.startsWith("vga.vram@")), syncs.toString());
        assertEquals(Set.of(), displayRound(), "cleared: nothing new to redraw");
        // the display clearing VGA bits did not take them from migration
        assertEquals(expected, migrationRound(vram));
        assertEquals(Set.of(4L), migrationRound(ram));
        sys.globalDirtyLogStop();
        vram.setLog(false, DirtyMemory.DIRTY_MEMORY_VGA);
    }

    @Test
    void jitStoresToLoggedVramMarkBothClients() {
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        sys.globalDirtyLogStart();
        displayRound();
        migrationRound(vram);

        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(as, BAR + 0x7000, e));
        assertTrue(e.readDirect());
        assertFalse(e.writeDirect(), "logged: stores must not bypass the dirty log");
        assertNotEquals(0, e.flags() & GuestTlb.TLB_NOTDIRTY);
        // the window form's logged store (the guide's storeLogged)
        MemorySegment logged = e.window().loggedWrite();
        long off = BAR + 0x7008 - e.window().start();
        logged.set(ValueLayout.JAVA_INT_UNALIGNED, off, 0x00ff00);
        e.window().dirtyMemory().invalidateAndSetDirty(e.window().ramAddr() + off, 4, e.window().dirtyMask());
        assertEquals(0x00ff00, as.ldlLe(BAR + 0x7008));
        assertEquals(Set.of(7L), displayRound());
        assertEquals(Set.of(7L), migrationRound(vram));
        sys.globalDirtyLogStop();
    }

    /**
     * A guest draws from one thread while the display and migration each clear the log from their own
     * threads: every page drawn is reported to both (no write is lost between a snapshot and its clear).
     * Each page is drawn once, so a lost mark cannot be hidden by a later write to the same page.
     */
    @Test
    void concurrentDrawingDisplayAndMigrationLoseNoPage() throws Exception {
        int rounds = Integer.getInteger("guestmem.scenario2.rounds", 256);
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        sys.globalDirtyLogStart();
        displayRound();
        migrationRound(vram);
        Set<Long> drawn = new ConcurrentSkipListSet<>();
        Set<Long> shown = new ConcurrentSkipListSet<>();
        Set<Long> sent = new ConcurrentSkipListSet<>();
        AtomicBoolean done = new AtomicBoolean();
        Thread display = new Thread(() -> {
            while (!done.get()) {
                shown.addAll(displayRound());
            }
        });
        Thread migration = new Thread(() -> {
            while (!done.get()) {
                sent.addAll(migrationRound(vram));
            }
        });
        display.start();
        migration.start();
        long pages = vram.size() / PAGE;
        for (int i = 0; i < rounds; i++) {
            long page = i % pages;
            if (page == 0 && i > 0) {                        // a new pass: wait for both to catch up
                drainUntil(drawn, shown, sent);
                drawn.clear();
                shown.clear();
                sent.clear();
            }
            if (i % 3 == 0) {
                DmaMapping m = as.map(BAR + page * PAGE, 8, true, MemTxAttrs.UNSPECIFIED);
                m.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, i);
                m.unmap(8);
            } else {
                as.stlLe(BAR + page * PAGE + 4, i);
            }
            drawn.add(page);
        }
        drainUntil(drawn, shown, sent);
        done.set(true);
        display.join();
        migration.join();
        assertEquals(drawn, Set.copyOf(shown));
        assertEquals(drawn, Set.copyOf(sent));
        sys.globalDirtyLogStop();
    }

    /** Lets the consumer threads run until they reported every page drawn, or a bounded while passed. */
    private static void drainUntil(Set<Long> drawn, Set<Long> shown, Set<Long> sent) throws InterruptedException {
        for (int i = 0; i < 20_000 && !(shown.containsAll(drawn) && sent.containsAll(drawn)); i++) {
            Thread.sleep(1);
        }
    }

    /** A VGA device grows its VRAM (a bigger mode, or an incoming migration): the display redraws all. */
    @Test
    void resizedVramIsAllDirtyAndStillLogged() {
        List<String> seen = new ArrayList<>();
        RamBlock block = RamBlock.builder("bochs.vram", MIB).resizeable(4 * MIB, (id, size, host) -> { }).build();
        RamRegion big = new RamRegion(sys, "bochs", "bochs.vram", block, false, false);
        block.close();
        system.addSubregion(0xe000_0000L, big);
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("add " + s.region().name() + " 0x" + Long.toHexString(s.size()));
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add("del " + s.region().name() + " 0x" + Long.toHexString(s.size()));
            }
        }, as);
        seen.clear();
        big.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        big.snapshotAndClearDirty(0, big.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        big.ramResize(2 * MIB);
        assertEquals(List.of("del bochs.vram 0x100000", "add bochs.vram 0x200000"), seen);
        DirtyBitmapSnapshot all = big.snapshotAndClearDirty(0, big.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertEquals(2 * MIB / PAGE, all.dirtyPageCount(), "every page of the resized block is new");
        assertEquals(MemTxResult.OK, as.stlLe(0xe000_0000L + MIB + 0x3000, 1));     // in the new half
        DirtyBitmapSnapshot one = big.snapshotAndClearDirty(0, big.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(big.snapshotGetDirty(one, MIB + 0x3000, 4));
        assertEquals(1, one.dirtyPageCount());
    }

    /** Migration ends while the display still logs, and the display stops while migration runs. */
    @Test
    void stoppingOneClientLeavesTheOtherLogging() {
        List<String> seen = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
                seen.add("start " + s.region().name() + " " + oldMask + "->" + newMask);
            }

            @Override
            public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
                seen.add("stop " + s.region().name() + " " + oldMask + "->" + newMask);
            }
        }, as);
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        sys.globalDirtyLogStart();
        seen.clear();
        sys.globalDirtyLogStop();
        // as QEMU: log_stop for every range that lost a client; vram keeps VGA (5 -> 1). RAM and vram
        // are two ranges each (the low-memory window splits RAM, vram shows at two places).
        assertEquals(List.of("stop ram 4->0", "stop vga.vram 5->1", "stop ram 4->0", "stop vga.vram 5->1"), seen);
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, BAR, e);
        assertFalse(e.writeDirect(), "VGA still logs: stores must still be marked");
        displayRound();
        as.stlLe(BAR + 0x2000, 1);
        assertEquals(Set.of(2L), displayRound());

        sys.globalDirtyLogStart();
        migrationRound(vram);
        vram.setLog(false, DirtyMemory.DIRTY_MEMORY_VGA);
        GuestTlb.fill(as, BAR, e);
        assertFalse(e.writeDirect(), "migration still logs");
        as.stlLe(BAR + 0x3000, 1);
        assertEquals(Set.of(3L), migrationRound(vram));
        sys.globalDirtyLogStop();
        GuestTlb.fill(as, BAR, e);
        assertTrue(e.writeDirect(), "nobody logs any more");
    }

    /** A GPU behind an IOMMU blits into VRAM: the display learns of it at the translated page. */
    @Test
    void dmaThroughAnIommuMarksTheTranslatedPage() {
        ContainerRegion gpuRoot = new ContainerRegion(sys, null, "gpu-dma", MemoryRegion.SIZE_2_64);
        gpuRoot.addSubregion(0, new IommuRegion(sys, null, "smmu", MIB, (addr, flag, idx, out) -> {
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            out.targetAs = as;
            out.translatedAddr = BAR + 0x5000 + (addr & ~0xfffL);   // iova 0 -> vram page 5
            out.perm = IommuTlbEntry.RW;
        }));
        AddressSpace gpu = sys.addressSpace(gpuRoot, "gpu");
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        displayRound();
        DmaMapping m = gpu.map(0x10, 64, true, MemTxAttrs.UNSPECIFIED);
        m.segment().fill((byte) 0xee);
        m.unmap(64);
        assertEquals(0xeeeeeeee, as.ldlLe(BAR + 0x5010));
        assertEquals(Set.of(5L), displayRound());
        assertEquals(MemTxResult.OK, gpu.stlLe(0x1000 + 8, 0x12345678));     // iova page 1 -> vram page 6
        assertEquals(0x12345678, as.ldlLe(BAR + 0x6008));
        assertEquals(Set.of(6L), displayRound());
        byte[] line = new byte[8];
        assertEquals(MemTxResult.OK, gpu.write(0x2000, MemTxAttrs.UNSPECIFIED, line, 0, 8));
        assertEquals(Set.of(7L), displayRound());
    }
}
