package dev.guestmem.scenario8;

import static dev.guestmem.scenario8.BusMachine.MIB;
import static dev.guestmem.scenario8.BusMachine.RAM1;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.ram.RamBlock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a migration round measured while the guest's devices copy in bulk must find in the
 * MIGRATION bitmap: each bulk write's pages, a DMA unmap's accessed bytes only, a cache's direct
 * stores only once invalidated (guide sections 5 and 6); and translate tells the measurer that the
 * range is now logged.
 */
class MigrationRoundDirtyTest {

    private static List<Long> dirtyPages(BusMachine m, RamBlock b) {
        DirtyBitmapSnapshot s = m.sys.dirtyMemory().snapshotAndClearDirty(b.offset(), b.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        List<Long> pages = new ArrayList<>();
        s.forEachDirtyPage(p -> pages.add((p - b.offset()) >>> 12));
        return pages;
    }

    @Test
    void bulkWritesDmaAndCachesAreLoggedAsDocumented() {
        BusMachine m = new BusMachine();
        RamBlock ram0 = m.ram0.ramBlock();
        RamBlock ram1 = m.ram1.ramBlock();
        m.sys.globalDirtyLogStart();
        dirtyPages(m, ram0);
        dirtyPages(m, ram1);
        assertTrue((HostLocation.of(m.as, 0, MIB).section().flags() & PhysSection.DIRTY_LOGGING) != 0,
                "the section says its writes are logged");

        byte[] b = new byte[0x2000];
        assertEquals(MemTxResult.OK, m.as.write(RAM1 - 0x1000, MemTxAttrs.UNSPECIFIED, b, 0, b.length));
        assertEquals(List.of(255L), dirtyPages(m, ram0));
        assertEquals(List.of(0L), dirtyPages(m, ram1));

        DmaMapping d = m.as.map(0x3000, 0x3000, true, MemTxAttrs.UNSPECIFIED);
        d.unmap(0x1001);
        assertEquals(List.of(3L, 4L), dirtyPages(m, ram0), "only the bytes accessed");

        MemoryRegionCache c = new MemoryRegionCache();
        c.init(m.as, RAM1 + 0x8000, 0x4000, true);
        assertEquals(MemTxResult.OK, c.write(0, b, 0, b.length));
        assertEquals(List.of(), dirtyPages(m, ram1), "a cache's direct stores are not logged...");
        c.invalidate(0, b.length);
        assertEquals(List.of(8L, 9L), dirtyPages(m, ram1), "...until invalidated");
        c.destroy();
        m.sys.globalDirtyLogStop();
    }
}
