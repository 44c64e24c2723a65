package dev.guestmem.scenario5;

import static dev.guestmem.scenario5.MigratableMachine.BIG_BASE;
import static dev.guestmem.scenario5.MigratableMachine.BIOS_BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every way of writing guest RAM a migration must see: each store form dirties exactly its pages. */
class StoreFormsLoggedTest {
    private MigratableMachine m;

    @BeforeEach
    void startLogging() {
        m = MigratableMachine.build(false);
        m.sys().globalDirtyLogStart();
        for (RamBlock b : m.sys().ramList().blocks()) {
            m.sys().dirtyMemory().snapshotAndClearDirty(b.offset(), b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        }
    }

    @AfterEach
    void teardown() {
        m.sys().globalDirtyLogStop();
        m.destroy();
    }

    private static List<Long> dirtyPages(RamRegion r) {
        RamBlock b = r.ramBlock();
        DirtyBitmapSnapshot snap = r.snapshotAndClearDirty(0, b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        List<Long> pages = new ArrayList<>();
        snap.forEachDirtyPage(a -> {
            if (a - b.offset() < b.usedLength()) {
                pages.add((a - b.offset()) / 4096);
            }
        });
        return pages;
    }

    @Test
    void bulkWritesAndSetDirtyEveryPageTheyTouch() {
        assertEquals(MemTxResult.OK, m.as().write(BIG_BASE + 0x1ff0, MemTxAttrs.UNSPECIFIED, new byte[0x20], 0, 0x20));
        assertEquals(List.of(1L, 2L), dirtyPages(m.big()));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment src = a.allocate(3 * 4096);
            assertEquals(MemTxResult.OK, m.as().write(BIG_BASE + 0x5000, MemTxAttrs.UNSPECIFIED, src, 0, 3 * 4096));
        }
        assertEquals(List.of(5L, 6L, 7L), dirtyPages(m.big()));
        assertEquals(MemTxResult.OK, m.as().set(BIG_BASE + 0x9800, (byte) 1, 0x1000, MemTxAttrs.UNSPECIFIED));
        assertEquals(List.of(9L, 10L), dirtyPages(m.big()));
    }

    @Test
    void aStoreAcrossAPageBoundaryDirtiesBothPages() {
        m.as().stqLe(BIG_BASE + 0x3ffc, -1L);
        assertEquals(List.of(3L, 4L), dirtyPages(m.big()));
    }

    @Test
    void firmwareWrittenIntoRomIsMigrated() {
        assertEquals(MemTxResult.OK, m.as().writeRom(BIOS_BASE + 0x2000, MemTxAttrs.UNSPECIFIED, new byte[] {1, 2}, 0, 2));
        assertEquals(List.of(2L), dirtyPages(m.bios()), "address_space_write_rom marks the ROM dirty");
        assertEquals(MemTxResult.OK, m.as().stlLe(BIOS_BASE + 0x3000, 5, MemTxAttrs.DEBUG));
        assertEquals(List.of(3L), dirtyPages(m.bios()), "a debugger's store into ROM is migrated");
    }

    @Test
    void aFlashThatWritesItsOwnBlockIsMigratedAfterFlushRomDevice() {
        RomDeviceRegion[] flash = new RomDeviceRegion[1];
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> {
                    // a program command: the device writes its array itself, then tells migration
                    flash[0].ramBlock().segment().set(ValueLayout.JAVA_BYTE, addr, (byte) data);
                    flash[0].flushRomDevice(addr, 1);
                })
                .build();
        flash[0] = RomDeviceRegion.allocate(m.sys(), new Object(), ops, "flash", 0x10000);
        m.root().addSubregion(0x4000_0000L, flash[0]);
        RamBlock b = flash[0].ramBlock();
        m.sys().dirtyMemory().snapshotAndClearDirty(b.offset(), b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        m.as().stb(0x4000_0000L + 0x7001, 0x5a);
        DirtyBitmapSnapshot snap = m.sys().dirtyMemory().snapshotAndClearDirty(b.offset(), b.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(1, snap.dirtyPageCount());
        assertEquals(true, snap.getDirty(b.offset() + 0x7000, 4096));
        m.root().delSubregion(flash[0]);
        flash[0].destroy();
    }

    @Test
    void aCachesBulkWriteIsMigratedAfterInvalidate() {
        MemoryRegionCache cache = new MemoryRegionCache();
        assertEquals(3 * 4096, cache.init(m.as(), BIG_BASE + 0x20000, 3 * 4096, true));
        cache.write(0xff0, new byte[0x20], 0, 0x20);
        cache.invalidate(0xff0, 0x20);
        assertEquals(List.of(0x20L, 0x21L), dirtyPages(m.big()));
        cache.destroy();
    }
}
