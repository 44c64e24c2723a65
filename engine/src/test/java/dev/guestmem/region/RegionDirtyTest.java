package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.listener.MemoryListener;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The region-level dirty API of {@link MemoryRegion} (QEMU's {@code memory_region_set_dirty},
 * {@code _reset_dirty}, {@code _snapshot_and_clear_dirty}, {@code _snapshot_get_dirty}), driven through
 * a {@link MemorySystem} and an {@link AddressSpace}: guest writes land in ram_addr bitmaps, the API
 * speaks region offsets.
 */
class RegionDirtyTest {
    private static final long PAGE = DirtyMemory.TARGET_PAGE_SIZE;
    private static final int VGA = MemoryRegion.DIRTY_MEMORY_VGA;
    private static final int CODE = MemoryRegion.DIRTY_MEMORY_CODE;
    private static final int MIGRATION = MemoryRegion.DIRTY_MEMORY_MIGRATION;
    /** Where the VRAM is mapped in the address space. */
    private static final long VRAM_GPA = 0x200000;
    private static final long VRAM_SIZE = 16 * PAGE;

    /** Counts logSync calls and can run an action in them (as a KVM listener pulls bits in). */
    private static final class SyncCounter implements MemoryListener {
        final List<MemoryRegionSection> syncs = new ArrayList<>();
        Consumer<MemoryRegionSection> onSync = s -> { };

        @Override
        public void logSync(MemoryRegionSection section) {
            syncs.add(section);
            onSync.accept(section);
        }
    }

    /** A system with a 1 MiB "low" RAM block created first, so the VRAM block sits at ram_addr != 0. */
    private static final class Machine {
        final MemorySystem sys;
        final ContainerRegion root;
        final RamRegion low;
        final RamRegion vram;
        final AddressSpace as;
        final DirtyMemory dm;
        final long vramAddr;

        Machine(boolean tcg) {
            sys = new MemorySystem(tcg);
            root = new ContainerRegion(sys, null, "root", 0x1000000);
            low = RamRegion.allocate(sys, null, "low", 0x100000);
            vram = RamRegion.allocate(sys, null, "vram", VRAM_SIZE);
            root.addSubregion(0, low);
            root.addSubregion(VRAM_GPA, vram);
            as = sys.addressSpace(root, "memory");
            dm = sys.dirtyMemory();
            vramAddr = vram.ramBlock().offset();
            // New blocks start dirty for every client: start from clean bitmaps.
            dm.clearDirtyRange(0, 0x100000);
            dm.clearDirtyRange(vramAddr, VRAM_SIZE);
        }

        Machine() {
            this(false);
        }

        boolean dirty(long regionOffset, int client) {
            return dm.getDirty(vramAddr + regionOffset, 1, client);
        }
    }

    @Test
    void vramIsNotAtRamAddrZero() {
        Machine m = new Machine();
        assertEquals(0, m.low.ramBlock().offset());
        assertNotEquals(0, m.vramAddr, "the test needs a region whose ram_addr is not its guest address");
        assertNotEquals(VRAM_GPA, m.vramAddr);
    }

    @Test
    void guestWritesShowUpInRegionOffsetsOfTheSnapshot() {
        Machine m = new Machine();
        m.vram.setLog(true, VGA);
        m.as.stlLe(VRAM_GPA + 3 * PAGE + 8, 0x12345678);
        m.as.stlLe(VRAM_GPA + 9 * PAGE + PAGE - 2, 0x1); // straddles pages 9 and 10

        DirtyBitmapSnapshot snap = m.vram.snapshotAndClearDirty(0, VRAM_SIZE, VGA);
        assertEquals(m.vramAddr, snap.start(), "window in ram_addr space, from the region's block offset");
        assertEquals(m.vramAddr + DirtyMemory.SNAPSHOT_ALIGN, snap.end(), "widened to 64 pages");
        assertEquals(3, snap.dirtyPageCount());
        for (long p = 0; p < 16; p++) {
            boolean expected = p == 3 || p == 9 || p == 10;
            assertEquals(expected, m.vram.snapshotGetDirty(snap, p * PAGE, PAGE), "page " + p);
        }
        assertTrue(m.vram.snapshotGetDirty(snap, 0, VRAM_SIZE));
        assertFalse(m.vram.snapshotGetDirty(snap, 4 * PAGE, 5 * PAGE));
        assertTrue(m.vram.snapshotGetDirty(snap, 3 * PAGE + 100, 1), "a partial page tests the whole page");
        // The ram_addr pages with the same numbers (the low block) are not what the snapshot shows.
        assertFalse(m.dm.getDirty(3 * PAGE, PAGE, VGA));

        // The bits were cleared: a second snapshot is clean, and so are the bitmaps.
        assertFalse(m.dirty(3 * PAGE, VGA));
        DirtyBitmapSnapshot again = m.vram.snapshotAndClearDirty(0, VRAM_SIZE, VGA);
        assertEquals(0, again.dirtyPageCount());
        assertFalse(m.vram.snapshotGetDirty(again, 0, VRAM_SIZE));
    }

    @Test
    void snapshotClearsOnlyTheRequestedClient() {
        Machine m = new Machine();
        m.vram.setLog(true, VGA);
        m.sys.globalDirtyLogStart();
        m.as.stlLe(VRAM_GPA + 2 * PAGE, 7);
        assertTrue(m.dirty(2 * PAGE, MIGRATION));
        DirtyBitmapSnapshot snap = m.vram.snapshotAndClearDirty(0, VRAM_SIZE, VGA);
        assertTrue(m.vram.snapshotGetDirty(snap, 2 * PAGE, 4));
        assertFalse(m.dirty(2 * PAGE, VGA));
        assertTrue(m.dirty(2 * PAGE, MIGRATION), "MIGRATION bits are another client's");
    }

    @Test
    void snapshotOfASubRangeHasARoundedWindowAndRejectsQueriesOutsideIt() {
        Machine m = new Machine();
        m.vram.setLog(true, VGA);
        m.as.stlLe(VRAM_GPA + 5 * PAGE, 1);
        m.as.stlLe(VRAM_GPA + 12 * PAGE, 1);
        DirtyBitmapSnapshot snap = m.vram.snapshotAndClearDirty(4 * PAGE, 2 * PAGE, VGA);
        assertEquals(m.vramAddr, snap.start());
        assertEquals(m.vramAddr + DirtyMemory.SNAPSHOT_ALIGN, snap.end());
        assertTrue(m.vram.snapshotGetDirty(snap, 5 * PAGE, 1));
        // The whole window was copied and cleared, as in QEMU.
        assertTrue(m.vram.snapshotGetDirty(snap, 12 * PAGE, 1));
        assertFalse(m.dirty(12 * PAGE, VGA));
        // Beyond the region but inside the window: QEMU only asserts the window.
        assertFalse(m.vram.snapshotGetDirty(snap, 63 * PAGE, PAGE));
        // Outside the window.
        assertThrows(IllegalArgumentException.class, () -> m.vram.snapshotGetDirty(snap, 64 * PAGE, 1));
        assertThrows(IllegalArgumentException.class, () -> m.vram.snapshotGetDirty(snap, 63 * PAGE, PAGE + 1));
        assertThrows(IllegalArgumentException.class, () -> m.vram.snapshotGetDirty(snap, -PAGE, PAGE));
        assertThrows(IllegalArgumentException.class, () -> m.vram.snapshotGetDirty(snap, 0, -1L));
        assertThrows(NullPointerException.class, () -> m.vram.snapshotGetDirty(null, 0, 1));
        // A snapshot of the low block's window does not cover the VRAM's offsets.
        DirtyBitmapSnapshot lowSnap = m.low.snapshotAndClearDirty(0, PAGE, VGA);
        assertThrows(IllegalArgumentException.class, () -> m.vram.snapshotGetDirty(lowSnap, 0, 1));
    }

    @Test
    void snapshotSyncsListenersOfLoggingRangesFirst() {
        Machine m = new Machine();
        SyncCounter counter = new SyncCounter();
        m.sys.registerListener(counter, m.as);

        // Not logging: the range has no dirty-log mask, nothing to sync.
        m.vram.snapshotAndClearDirty(0, VRAM_SIZE, VGA);
        assertEquals(0, counter.syncs.size());

        m.vram.setLog(true, VGA);
        // The listener sets a bit while syncing (as KVM's log_sync does): the snapshot must see it.
        counter.onSync = s -> m.dm.setDirtyRange(m.vramAddr + 6 * PAGE, 1, DirtyMemory.MASK_VGA);
        DirtyBitmapSnapshot snap = m.vram.snapshotAndClearDirty(0, VRAM_SIZE, VGA);
        assertEquals(1, counter.syncs.size());
        MemoryRegionSection s = counter.syncs.get(0);
        assertSame(m.vram, s.region());
        assertEquals(VRAM_GPA, s.offsetWithinAddressSpace());
        assertEquals(0, s.offsetWithinRegion());
        assertEquals(VRAM_SIZE, s.size());
        assertTrue(m.vram.snapshotGetDirty(snap, 6 * PAGE, 1), "sync ran before the bits were taken");
        assertFalse(m.dirty(6 * PAGE, VGA));

        // Only ranges of this region are synced.
        m.low.snapshotAndClearDirty(0, PAGE, VGA);
        assertEquals(1, counter.syncs.size());
        m.sys.unregisterListener(counter);
    }

    @Test
    void setDirtyWithMaskZeroDoesNothing() {
        Machine m = new Machine();
        assertEquals(0, m.vram.dirtyLogMask());
        m.vram.setDirty(0, VRAM_SIZE);
        for (int c = 0; c < DirtyMemory.DIRTY_MEMORY_NUM; c++) {
            assertFalse(m.dm.getDirty(m.vramAddr, VRAM_SIZE, c), "client " + c);
        }
        // Logging on and off again: the mask is back to 0.
        m.vram.setLog(true, VGA);
        m.vram.setLog(false, VGA);
        m.vram.setDirty(0, VRAM_SIZE);
        assertFalse(m.dm.getDirty(m.vramAddr, VRAM_SIZE, VGA));
    }

    @Test
    void setDirtyMarksOnlyCurrentlyLoggingClients() {
        Machine m = new Machine();
        m.vram.setLog(true, VGA);
        m.vram.setDirty(PAGE + 1, 2);
        assertTrue(m.dirty(PAGE, VGA));
        assertFalse(m.dirty(0, VGA));
        assertFalse(m.dirty(2 * PAGE, VGA));
        assertFalse(m.dirty(PAGE, MIGRATION));
        assertFalse(m.dirty(PAGE, CODE));
        assertFalse(m.dm.getDirty(PAGE, PAGE, VGA), "region offsets, not ram_addrs");

        m.sys.globalDirtyLogStart();
        m.vram.setDirty(4 * PAGE, PAGE);
        assertTrue(m.dirty(4 * PAGE, VGA));
        assertTrue(m.dirty(4 * PAGE, MIGRATION), "global tracking adds MIGRATION");
        assertFalse(m.dirty(4 * PAGE, CODE));
        m.sys.globalDirtyLogStop();

        // Range crossing a page boundary covers both pages.
        m.vram.setDirty(8 * PAGE - 1, 2);
        assertTrue(m.dirty(7 * PAGE, VGA));
        assertTrue(m.dirty(8 * PAGE, VGA));
        assertFalse(m.dirty(9 * PAGE, VGA));
    }

    @Test
    void setDirtyUnderTcgIncludesCode() {
        Machine m = new Machine(true);
        assertEquals(1 << CODE, m.vram.dirtyLogMask());
        m.vram.setDirty(3 * PAGE, PAGE);
        assertTrue(m.dirty(3 * PAGE, CODE));
        assertFalse(m.dirty(3 * PAGE, VGA));
    }

    @Test
    void resetDirtyClearsOneClientOverTheRange() {
        Machine m = new Machine();
        m.vram.setLog(true, VGA);
        m.sys.globalDirtyLogStart();
        for (long p = 0; p < 16; p++) {
            m.as.stlLe(VRAM_GPA + p * PAGE, (int) p);
        }
        m.vram.resetDirty(3 * PAGE + 10, PAGE, VGA); // touches pages 3 and 4
        assertTrue(m.dirty(2 * PAGE, VGA));
        assertFalse(m.dirty(3 * PAGE, VGA));
        assertFalse(m.dirty(4 * PAGE, VGA));
        assertTrue(m.dirty(5 * PAGE, VGA));
        assertTrue(m.dirty(3 * PAGE, MIGRATION), "other clients keep their bits");

        // A zero size does nothing (QEMU returns before touching the bitmap), even unaligned.
        m.vram.resetDirty(7 * PAGE + 5, 0, VGA);
        assertTrue(m.dirty(7 * PAGE, VGA));

        m.vram.resetDirty(0, VRAM_SIZE, MIGRATION);
        assertFalse(m.dm.getDirty(m.vramAddr, VRAM_SIZE, MIGRATION));
        assertTrue(m.dirty(0, VGA));
        m.sys.globalDirtyLogStop();
    }

    @Test
    void regionsWithoutARamBlockAreRejected() {
        Machine m = new Machine();
        IoRegion io = new IoRegion(m.sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(), "io", 0x1000);
        AliasRegion alias = new AliasRegion(m.sys, null, "alias", m.vram, 0, VRAM_SIZE);
        m.root.addSubregion(0x400000, io);
        m.root.addSubregion(0x500000, alias);
        DirtyBitmapSnapshot snap = m.vram.snapshotAndClearDirty(0, VRAM_SIZE, VGA);
        for (MemoryRegion mr : List.of(io, alias, m.root)) {
            assertThrows(RegionException.class, () -> mr.setDirty(0, 1), mr.name());
            assertThrows(RegionException.class, () -> mr.resetDirty(0, 1, VGA), mr.name());
            assertThrows(RegionException.class, () -> mr.snapshotAndClearDirty(0, 1, VGA), mr.name());
            assertThrows(RegionException.class, () -> mr.snapshotGetDirty(snap, 0, 1), mr.name());
        }
    }

    @Test
    void badRangesAndClientsThrowAndChangeNothing() {
        Machine m = new Machine();
        m.vram.setLog(true, VGA);
        SyncCounter counter = new SyncCounter();
        m.sys.registerListener(counter, m.as);
        m.vram.setDirty(0, VRAM_SIZE);
        long[] before = bitsOf(m);

        long[][] badRanges = {
            {VRAM_SIZE + 1, 0},        // starts past the end
            {VRAM_SIZE, 1},            // one byte past the end
            {0, VRAM_SIZE + 1},
            {15 * PAGE, 2 * PAGE},
            {PAGE, -PAGE},             // addr + size wraps to 0 (unsigned)
            {-PAGE, PAGE},             // huge unsigned offset
            {0, -1L},
        };
        for (long[] r : badRanges) {
            String what = "addr 0x" + Long.toHexString(r[0]) + " size 0x" + Long.toHexString(r[1]);
            InvalidRangeException e = assertThrows(InvalidRangeException.class, () -> m.vram.setDirty(r[0], r[1]), what);
            assertEquals(r[0], e.offset());
            assertEquals(r[1], e.size());
            assertThrows(InvalidRangeException.class, () -> m.vram.resetDirty(r[0], r[1], VGA), what);
            assertThrows(InvalidRangeException.class, () -> m.vram.snapshotAndClearDirty(r[0], r[1], VGA), what);
        }
        for (int client : new int[] {-1, 3, 7, Integer.MIN_VALUE}) {
            assertThrows(IllegalArgumentException.class, () -> m.vram.resetDirty(0, PAGE, client));
            assertThrows(IllegalArgumentException.class, () -> m.vram.snapshotAndClearDirty(0, PAGE, client));
        }
        assertEquals(0, counter.syncs.size(), "no sync for a rejected snapshot");
        assertArrayEquals(before, bitsOf(m), "bitmaps unchanged");
        assertTrue(m.dm.getDirty(m.vramAddr, VRAM_SIZE, VGA));

        // The exact end is fine: a zero-length range at the end, and the whole region.
        assertValid(() -> m.vram.setDirty(VRAM_SIZE, 0));
        assertValid(() -> m.vram.resetDirty(VRAM_SIZE, 0, VGA));
        assertValid(() -> m.vram.snapshotAndClearDirty(0, VRAM_SIZE, MIGRATION));
        m.sys.unregisterListener(counter);
    }

    /** One word per client: the VRAM's 16 page bits. */
    private static long[] bitsOf(Machine m) {
        long[] out = new long[DirtyMemory.DIRTY_MEMORY_NUM];
        for (int c = 0; c < out.length; c++) {
            for (int p = 0; p < 16; p++) {
                if (m.dm.getDirty(m.vramAddr + p * PAGE, 1, c)) {
                    out[c] |= 1L << p;
                }
            }
        }
        return out;
    }

    private static void assertValid(Executable e) {
        try {
            e.execute();
        } catch (Throwable t) {
            throw new AssertionError("expected no exception", t);
        }
    }

    /**
     * QEMU's memory_region_clear_dirty_bitmap: after a region's snapshot or reset, each listener
     * hears logClear for the logging ranges of that region, cut to the requested range; a range that
     * does not log, or another region, is not reported.
     */
    @Test
    void listenersHearLogClearForTheClearedPartOfLoggingRanges() {
        Machine m = new Machine();
        List<String> cleared = new ArrayList<>();
        m.sys.registerListener(new MemoryListener() {
            @Override
            public void logClear(MemoryRegionSection s) {
                cleared.add(s.region().name() + " @" + Long.toHexString(s.offsetWithinRegion()) + " +"
                        + Long.toHexString(s.size()) + " gpa " + Long.toHexString(s.offsetWithinAddressSpace()));
            }
        }, m.as);
        m.vram.snapshotAndClearDirty(PAGE, 2 * PAGE, VGA);
        assertEquals(List.of(), cleared, "the region does not log yet");
        m.vram.setLog(true, VGA);
        m.vram.snapshotAndClearDirty(PAGE, 2 * PAGE, VGA);
        m.vram.resetDirty(5 * PAGE, PAGE, VGA);
        m.vram.resetDirty(0, 0, VGA); // size 0: nothing cleared, nothing told
        assertEquals(List.of("vram @1000 +2000 gpa 201000", "vram @5000 +1000 gpa 205000"), cleared);
        cleared.clear();
        m.low.resetDirty(0, PAGE, VGA); // low does not log
        assertEquals(List.of(), cleared);
    }
}
