package dev.guestmem.scenario5;

import static dev.guestmem.scenario5.MigratableMachine.BIG_BASE;
import static dev.guestmem.scenario5.MigratableMachine.DEVICE_BASE;
import static dev.guestmem.scenario5.MigratableMachine.SMALL_BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** One writer at a time, no threads: does the MIGRATION log catch the page it wrote? */
class DirtyCatchTest {
    private MigratableMachine m;
    private RamBlock big;
    private DirtyMemory dirty;

    @BeforeEach
    void machine() {
        m = MigratableMachine.build(false);
        big = m.big().ramBlock();
        dirty = m.sys().dirtyMemory();
    }

    @AfterEach
    void teardown() {
        if (m.sys().isGlobalDirtyTracking()) {
            m.sys().globalDirtyLogStop();
        }
        m.destroy();
    }

    /** Starts logging and clears the MIGRATION bits, as the first round of a migration does. */
    private void startRound() {
        m.sys().globalDirtyLogStart();
        dirtyPagesOfBig();
    }

    /** Snapshot-and-clear of {@code ram-big}'s MIGRATION bits: the dirty page numbers. */
    private List<Long> dirtyPagesOfBig() {
        DirtyBitmapSnapshot snap = m.big().snapshotAndClearDirty(0, big.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        List<Long> pages = new ArrayList<>();
        snap.forEachDirtyPage(a -> pages.add((a - big.offset()) / 4096));
        return pages;
    }

    @Test
    void aPageWrittenOnlyByDmaIsDirty() {
        DmaEngine dev = new DmaEngine(m.as(), SMALL_BASE + 0x100);
        m.root().addSubregion(DEVICE_BASE, dev.mmio());
        startRound();
        m.as().stqLe(DEVICE_BASE + DmaEngine.REG_ADDR, BIG_BASE + 5 * 4096);
        m.as().stqLe(DEVICE_BASE + DmaEngine.REG_LEN, 2 * 4096);
        assertEquals(List.of(5L, 6L), dirtyPagesOfBig());
        dev.destroy();
    }

    @Test
    void aDmaMappingTakenBeforeLoggingStartsIsLoggedAtUnmap() {
        DmaMapping inFlight = m.as().map(BIG_BASE + 9 * 4096, 4096, true, MemTxAttrs.UNSPECIFIED);
        startRound(); // the first pass would copy page 9 here, before the device wrote it
        inFlight.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1234);
        inFlight.unmap(8);
        assertEquals(List.of(9L), dirtyPagesOfBig(), "address_space_unmap logs with the mask of the unmap's time");
    }

    @Test
    void aCacheMadeBeforeLoggingStartsIsLoggedAtInvalidate() {
        MemoryRegionCache ring = new MemoryRegionCache();
        assertEquals(4096, ring.init(m.as(), BIG_BASE + 3 * 4096, 4096, true));
        startRound();
        ring.stqLe(8, 42);
        assertEquals(List.of(), dirtyPagesOfBig(), "a cached store is not logged before invalidate (QEMU)");
        ring.stqLe(8, 43);
        ring.invalidate(8, 8);
        assertEquals(List.of(3L), dirtyPagesOfBig(), "address_space_cache_invalidate logs with the current mask");
        ring.destroy();
    }

    @Test
    void aStoreThroughTheSoftTlbIsDirtyOnceTheVcpuSeesTheNewGeneration() {
        WindowTlbCpu cpu = new WindowTlbCpu(m.as());
        cpu.enterBlock();
        cpu.stl(BIG_BASE + 2 * 4096, 1); // fills: not logged yet
        cpu.stl(BIG_BASE + 2 * 4096, 2); // a direct store
        assertEquals(1, cpu.directStores());
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(m.as(), BIG_BASE, e);
        assertTrue(e.writeDirect(), "no client logs RAM before migration");
        startRound();
        GuestTlb.fill(m.as(), BIG_BASE, e);
        assertFalse(e.writeDirect(), "migration logging needs the slow path for writes");
        cpu.enterBlock(); // the exit check: the generation moved, the TLB is flushed
        cpu.stl(BIG_BASE + 7 * 4096, 3); // refill
        cpu.stl(BIG_BASE + 7 * 4096 + 4, 4); // hit: the logged window
        assertEquals(1, cpu.directStores());
        assertEquals(1, cpu.loggedStores());
        assertEquals(List.of(7L), dirtyPagesOfBig());
        cpu.stl(BIG_BASE + 7 * 4096 + 8, 5); // after a clear: still caught (no stale "already dirty")
        assertEquals(List.of(7L), dirtyPagesOfBig());
    }

    /**
     * What the guide's "the first snapshot after a start returns everything" holds for: blocks whose
     * MIGRATION bits nobody cleared. A second migration (or an incremental snapshot chain before it)
     * finds only what was written while logging was on, so its first round must send every page, as
     * QEMU's {@code ram_save_setup} does with a bitmap of its own set to all ones.
     */
    @Test
    void aSecondMigrationsFirstSnapshotHoldsOnlyWhatWasLogged() {
        startRound();
        m.sys().globalDirtyLogStop();
        m.as().stlLe(BIG_BASE + 4 * 4096, 1); // the guest runs between two migrations: nothing logs MIGRATION
        m.sys().globalDirtyLogStart();
        assertEquals(List.of(), dirtyPagesOfBig(), "not everything: page 4 changed, yet is not dirty");
    }

    @Test
    void displayAndTranslatorClearsLeaveMigrationBitsAlone() {
        m.vram().setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        startRound();
        m.vram().snapshotAndClearDirty(0, m.vram().size(), DirtyMemory.DIRTY_MEMORY_VGA);
        m.as().stlLe(MigratableMachine.VRAM_BASE + 4096, 1);
        m.as().stlLe(BIG_BASE + 4096, 1);
        m.vram().snapshotAndClearDirty(0, m.vram().size(), DirtyMemory.DIRTY_MEMORY_VGA);
        dirty.resetDirty(big.offset(), big.usedLength(), DirtyMemory.DIRTY_MEMORY_CODE);
        assertEquals(List.of(1L), dirtyPagesOfBig());
        RamBlock vram = m.vram().ramBlock();
        assertTrue(dirty.getDirty(vram.offset() + 4096, 4096, DirtyMemory.DIRTY_MEMORY_MIGRATION));
    }
}
