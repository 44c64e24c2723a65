package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Listener and dirty-logging behaviour checked against QEMU's system/memory.c and system/physmem.c
 * (from a conformance audit): writes marked with the live dirty-log mask, RAM resize, and the
 * every-address-space listener extension kept balanced the way QEMU's one-space listeners are.
 */
class ListenerConformanceTest {
    private static final long PAGE = 4096;

    /** Records every callback as one line. */
    private static final class Recorder implements MemoryListener {
        final List<String> log = new ArrayList<>();

        private static String s(MemoryRegionSection s) {
            return Long.toHexString(s.offsetWithinAddressSpace()) + "+" + Long.toHexString(s.size()) + " "
                    + s.region().name() + "@" + Long.toHexString(s.offsetWithinRegion());
        }

        @Override
        public void begin() {
            log.add("begin");
        }

        @Override
        public void commit() {
            log.add("commit");
        }

        @Override
        public void regionAdd(MemoryRegionSection section) {
            log.add("add " + s(section));
        }

        @Override
        public void regionDel(MemoryRegionSection section) {
            log.add("del " + s(section));
        }

        @Override
        public void logStart(MemoryRegionSection section, int oldMask, int newMask) {
            log.add("logStart " + s(section) + " " + oldMask + "->" + newMask);
        }

        @Override
        public void logStop(MemoryRegionSection section, int oldMask, int newMask) {
            log.add("logStop " + s(section) + " " + oldMask + "->" + newMask);
        }

        @Override
        public void logGlobalStart() {
            log.add("logGlobalStart");
        }

        @Override
        public void logGlobalStop() {
            log.add("logGlobalStop");
        }

        long count(String prefix) {
            return log.stream().filter(l -> l.startsWith(prefix)).count();
        }

        List<String> matching(String prefix) {
            return log.stream().filter(l -> l.startsWith(prefix)).toList();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Found as deviations, fixed

    /**
     * QEMU's invalidate_and_set_dirty(mr, ...) (physmem.c) reads memory_region_get_dirty_log_mask(mr)
     * at the time of the write, and memory_region_set_log changes mr->dirty_log_mask at once (only the
     * re-render waits for the commit). So a buffer write after setLog(true) inside an open
     * transaction is VGA-logged (guestmem used to take the mask of the published view).
     */
    @Test
    void writeInsideTransactionUsesLiveDirtyLogMask() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
        RamRegion vram = RamRegion.allocate(sys, null, "vram", 16 * PAGE);
        root.addSubregion(0x10000, vram);
        AddressSpace as = sys.addressSpace(root, "as");
        DirtyMemory dm = sys.dirtyMemory();
        long ramAddr = vram.ramBlock().offset();
        dm.resetDirty(ramAddr, 16 * PAGE, DirtyMemory.DIRTY_MEMORY_VGA);
        assertFalse(dm.getDirty(ramAddr, 16 * PAGE, DirtyMemory.DIRTY_MEMORY_VGA));

        boolean dirtyInTx;
        sys.transactionBegin();
        try {
            vram.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
            assertEquals(1 << MemoryRegion.DIRTY_MEMORY_VGA, vram.dirtyLogMask(), "live mask has VGA");
            as.write(0x10000 + 2 * PAGE, MemTxAttrs.UNSPECIFIED, new byte[] {1, 2, 3, 4}, 0, 4);
            dirtyInTx = dm.getDirty(ramAddr + 2 * PAGE, 4, DirtyMemory.DIRTY_MEMORY_VGA);
        } finally {
            sys.transactionCommit();
        }
        assertTrue(dirtyInTx, "QEMU: the write is logged for VGA (live memory_region_get_dirty_log_mask)");
    }

    /**
     * Same root cause, global tracking: memory_global_dirty_log_start sets global_dirty_tracking before
     * calling log_global_start, so a direct write made then (here from the callback) is marked for
     * MIGRATION by invalidate_and_set_dirty, although the view still has the old mask.
     */
    @Test
    void writeDuringGlobalStartIsMigrationLogged() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * PAGE);
        root.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(root, "as");
        DirtyMemory dm = sys.dirtyMemory();
        long ramAddr = ram.ramBlock().offset();
        dm.resetDirty(ramAddr, 16 * PAGE, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        sys.registerListener(new MemoryListener() {
            @Override
            public void logGlobalStart() {
                as.write(3 * PAGE, MemTxAttrs.UNSPECIFIED, new byte[] {9}, 0, 1);
            }
        }, as);
        sys.globalDirtyLogStart();
        assertTrue(dm.getDirty(ramAddr + 3 * PAGE, 1, DirtyMemory.DIRTY_MEMORY_MIGRATION),
                "QEMU: global_dirty_tracking is already set when the write is marked");
    }

    /**
     * qemu_ram_resize (physmem.c) ends with memory_region_set_size(block->mr, unaligned_size), so the
     * region (and the flat views and listeners) follow the block: RamRegion.ramResize does both.
     */
    @Test
    void ramResizeResizesTheRegion() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x1000000);
        RamBlock block = RamBlock.builder("rsz", 16 * PAGE).resizeable(64 * PAGE, null).build();
        RamRegion ram;
        try {
            ram = new RamRegion(sys, null, "rsz", block, false, false);
        } finally {
            block.close();
        }
        root.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(root, "as");
        Recorder rec = new Recorder();
        sys.registerListener(rec, as);
        rec.log.clear();
        ram.ramResize(32 * PAGE);
        // dirty side (matches QEMU): the new used length is dirty for every client
        assertTrue(sys.dirtyMemory().allDirty(ram.ramBlock().offset(), 32 * PAGE, DirtyMemory.DIRTY_CLIENTS_ALL));
        assertEquals(32 * PAGE, ram.size(), "QEMU: memory_region_set_size(block->mr, newsize)");
        assertEquals(List.of("begin", "del 0+10000 rsz@0", "add 0+20000 rsz@0", "commit"), rec.log);
    }

    /**
     * Extension (as == null, every address space): registration replays log_global_start once, not
     * once per address space, since memory_global_dirty_log_stop calls log_global_stop once per
     * listener. In QEMU a listener has exactly one address space, so listener_add_address_space's
     * replay and MEMORY_LISTENER_CALL_GLOBAL(log_global_stop) pair one to one.
     */
    @Test
    void allSpacesListenerHearsBalancedGlobalStartStop() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion r1 = new ContainerRegion(sys, null, "r1", 0x10000);
        ContainerRegion r2 = new ContainerRegion(sys, null, "r2", 0x10000);
        sys.addressSpace(r1, "as1");
        sys.addressSpace(r2, "as2");
        sys.globalDirtyLogStart();
        Recorder rec = new Recorder();
        sys.registerListener(rec, null);
        sys.globalDirtyLogStop();
        assertEquals(rec.count("logGlobalStop"), rec.count("logGlobalStart"),
                "log_global_start / log_global_stop must pair: " + rec.log);
    }

    /**
     * Extension: an all-address-spaces listener hears a destroyed address space's ranges deleted, so
     * its region_add calls stay balanced. QEMU requires memory_listener_unregister
     * (listener_del_address_space: region_del for every range) before address_space_destroy
     * (do_address_space_destroy asserts QTAILQ_EMPTY(&as->listeners)).
     */
    @Test
    void destroyingAnAddressSpaceDeletesItsSectionsForAllSpacesListener() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion r1 = new ContainerRegion(sys, null, "r1", 0x10000);
        sys.addressSpace(r1, "as1");
        Recorder rec = new Recorder();
        sys.registerListener(rec, null);
        ContainerRegion r2 = new ContainerRegion(sys, null, "r2", 0x10000);
        r2.addSubregion(0x100, new IoRegion(sys, null, null, "c", 0x100));
        AddressSpace as2 = sys.addressSpace(r2, "as2");
        rec.log.clear();
        sys.destroyAddressSpace(as2);
        assertEquals(List.of("del 100+100 c@0"), rec.matching("del"));
    }

    /**
     * Extension: an all-address-spaces listener hears an address space created after it registered
     * as its own registration replay does (listener_add_address_space: region_add, then
     * log_start(0, fr->dirty_log_mask) for ranges that log).
     */
    @Test
    void newAddressSpaceReplaysLogStartToAllSpacesListener() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion r1 = new ContainerRegion(sys, null, "r1", 0x10000);
        sys.addressSpace(r1, "as1");
        Recorder rec = new Recorder();
        sys.registerListener(rec, null);
        sys.globalDirtyLogStart();
        ContainerRegion r2 = new ContainerRegion(sys, null, "r2", 0x10000);
        r2.addSubregion(0, new IommuRegion(sys, null, "iommu", 0x1000));
        rec.log.clear();
        sys.addressSpace(r2, "as2");
        assertEquals(List.of("begin", "add 0+1000 iommu@0", "logStart 0+1000 iommu@0 0->4", "commit"), rec.log);
    }

    // ---------------------------------------------------------------------------------------------
    // Confirmations

    /** render_memory_region uses the target's mask: set_log on an alias changes no flat range. */
    @Test
    void setLogOnAliasDoesNotLogTheAliasedRange() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 4 * PAGE);
        AliasRegion alias = new AliasRegion(sys, null, "alias", ram, PAGE, 2 * PAGE);
        root.addSubregion(0x10000, alias);
        AddressSpace as = sys.addressSpace(root, "as");
        Recorder rec = new Recorder();
        sys.registerListener(rec, as);
        rec.log.clear();
        alias.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(0, rec.count("logStart"), rec.log.toString());
        ram.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(List.of("logStart 10000+2000 ram@1000 0->1"), rec.matching("logStart"));
        ram.setLog(false, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(List.of("logStop 10000+2000 ram@1000 1->0"), rec.matching("logStop"));
    }

    /** flatrange_equal compares romd_mode: a ROMD switch is region_del then region_add. */
    @Test
    void romdChangeIsDelThenAdd() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
        RomDeviceRegion flash = new RomDeviceRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(),
                "flash", RamBlock.anonymous("flash", PAGE));
        root.addSubregion(0x2000, flash);
        AddressSpace as = sys.addressSpace(root, "as");
        Recorder rec = new Recorder();
        sys.registerListener(rec, as);
        rec.log.clear();
        flash.setRomd(false);
        assertEquals(List.of("begin", "del 2000+1000 flash@0", "add 2000+1000 flash@0", "commit"), rec.log);
    }

    /** memory_region_get_dirty_log_mask: CODE for RAM under TCG, replayed as log_start(0, mask). */
    @Test
    void tcgRamLogsCodeAndRegistrationReplaysIt() {
        MemorySystem sys = new MemorySystem(true);
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", PAGE);
        root.addSubregion(0, ram);
        root.addSubregion(0x4000, new IommuRegion(sys, null, "iommu", PAGE));
        AddressSpace as = sys.addressSpace(root, "as");
        Recorder rec = new Recorder();
        sys.registerListener(rec, as);
        assertEquals(List.of("logStart 0+1000 ram@0 0->2"), rec.matching("logStart"));
        rec.log.clear();
        sys.globalDirtyLogStart();
        assertEquals(List.of("logStart 0+1000 ram@0 2->6", "logStart 4000+1000 iommu@0 0->4"),
                rec.matching("logStart"));
        rec.log.clear();
        sys.unregisterListener(rec);
        assertEquals(List.of("begin", "logStop 0+1000 ram@0 6->0", "del 0+1000 ram@0",
                "logStop 4000+1000 iommu@0 4->0", "del 4000+1000 iommu@0", "commit"), rec.log);
    }

    /** A disabled region's set_log sets no pending update; enabling it adds the range (no log_start). */
    @Test
    void setLogOnDisabledRegionThenEnable() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", PAGE);
        root.addSubregion(0, ram);
        ram.setEnabled(false);
        AddressSpace as = sys.addressSpace(root, "as");
        Recorder rec = new Recorder();
        sys.registerListener(rec, as);
        rec.log.clear();
        ram.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        assertEquals(List.of(), rec.log);
        ram.setEnabled(true);
        assertEquals(List.of("begin", "add 0+1000 ram@0", "commit"), rec.log);
    }
}
