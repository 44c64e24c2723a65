package dev.guestmem.scenario6;

import static dev.guestmem.scenario6.HostIommu.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * VFIO's device dirty tracking during migration: the device writes guest RAM through the host
 * IOMMU only, {@code logSync} moves its per-iova dirty pages into the MIGRATION log at their
 * ram_addr, and each round's snapshot must hold exactly the pages the device wrote, whichever
 * alias (below or above 4G) or hotplugged region they were reached through.
 */
class VfioDirtySyncTest {
    static final int ROUNDS = Integer.getInteger("guestmem.scenario6.steps", 300) / 5;

    @Test
    void deviceDirtyPagesReachTheMigrationLogAtTheirRamAddr() {
        PcMachine m = new PcMachine();
        HostIommu container = new HostIommu();
        FakeDevice device = new FakeDevice(container);
        VfioListener vfio = new VfioListener(m.sys, container, m.as, device);
        m.sys.registerListener(vfio, m.as);
        m.system.addSubregion(PcMachine.DIMM_BASE, m.dimm);
        m.vmemManager.plug(0, 4 * PcMachine.MIB);
        m.sys.globalDirtyLogStart();
        try {
            snapshotAll(m); // new blocks start dirty: clear once
            Random rnd = new Random(7);
            for (int round = 0; round < ROUNDS; round++) {
                moveSomething(m, rnd);
                TreeSet<Long> expected = new TreeSet<>();
                List<Long> writable = writablePages(m);
                for (int i = 0; i < 20; i++) {
                    long iova = writable.get(rnd.nextInt(writable.size())) + rnd.nextInt(512) * 8;
                    if (device.dmaWrite(iova, round)) {
                        expected.add(ramAddrOf(m, iova));
                    }
                }
                m.sys.globalDirtyLogSync(false);
                assertEquals(0, device.pendingDirty(), "round " + round + ": every dirty iova was synced");
                assertEquals(expected, snapshotAll(m), "round " + round);
                assertEquals(List.of(), vfio.errors);
            }
        } finally {
            m.sys.globalDirtyLogStop();
        }
    }

    /**
     * A display's own sync ({@code memory_region_snapshot_and_clear_dirty} on its VRAM) asks
     * listeners to {@code logSync} that region's sections only: the device's writes to the VRAM
     * reach the VGA log, and its writes elsewhere stay with the device until a sync covers them.
     */
    @Test
    void aRegionSyncAsksForThatRegionsSectionsOnly() {
        PcMachine m = new PcMachine();
        HostIommu container = new HostIommu();
        FakeDevice device = new FakeDevice(container);
        m.sys.registerListener(new VfioListener(m.sys, container, m.as, device), m.as);
        m.vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        m.vram.snapshotAndClearDirty(0, m.vram.size(), DirtyMemory.DIRTY_MEMORY_VGA); // new blocks start dirty
        assertEquals(true, device.dmaWrite(0x8000_3000L, 1));   // vram page 3
        assertEquals(true, device.dmaWrite(0x0010_0000L, 2));   // plain RAM
        var snap = m.vram.snapshotAndClearDirty(0, m.vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertEquals(true, m.vram.snapshotGetDirty(snap, 0x3000, PAGE));
        assertEquals(false, m.vram.snapshotGetDirty(snap, 0x2000, PAGE));
        assertEquals(1, device.pendingDirty(), "the RAM page was not synced by the VRAM's sync");
    }

    /** A BAR or the sub-page registers move, or the above-4G alias comes and goes. */
    private static void moveSomething(PcMachine m, Random rnd) {
        switch (rnd.nextInt(3)) {
            case 0 -> m.bars[rnd.nextInt(3)].setAddress(0x1000000L + rnd.nextInt(0x1000) * PAGE);
            case 1 -> m.subpage.setAddress(rnd.nextInt(0x18000) * 0x100L);
            default -> m.above.setEnabled(!m.above.isEnabled());
        }
    }

    /** The mapped, writable pages of migratable RAM (not the mmap'd BAR). */
    private static List<Long> writablePages(PcMachine m) {
        List<Long> out = new ArrayList<>();
        for (Map.Entry<Long, String> e : MirrorOracle.expected(m.as, (fr, o) -> { }).entrySet()) {
            MemoryRegion mr = m.as.translate(e.getKey(), 1, true, MemTxAttrs.UNSPECIFIED, new Translation()).region();
            if (e.getValue().endsWith("rw") && !mr.isRamDevice()) {
                out.add(e.getKey());
            }
        }
        return out;
    }

    /** The model: the ram_addr page the flat view maps {@code iova} to. */
    private static long ramAddrOf(PcMachine m, long iova) {
        Translation t = new Translation();
        MemoryRegion mr = m.as.translate(iova, 1, true, MemTxAttrs.UNSPECIFIED, t).region();
        return (mr.ramBlock().offset() + t.xlat()) & -PAGE;
    }

    private static TreeSet<Long> snapshotAll(PcMachine m) {
        TreeSet<Long> dirty = new TreeSet<>();
        DirtyMemory dm = m.sys.dirtyMemory();
        for (RamBlock b : m.sys.ramList().blocks()) {
            dm.snapshotAndClearDirty(b.offset(), b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION)
                    .forEachDirtyPage(p -> {
                        if (p < b.offset() + b.usedLength()) {
                            dirty.add(p);
                        }
                    });
        }
        return dirty;
    }
}
