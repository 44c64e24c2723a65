package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link VcpuTlb} stores to dirty-logged RAM: written directly, then marked as TCG's
 * {@code notdirty_write} marks them, and left unmarked only while the page is known dirty for every
 * client that logs it: every clear makes the next store mark it again, translated code on the page
 * is invalidated by the first store after it was translated, and an entry of an older view takes
 * the new view's rules.
 */
class VcpuTlbDirtyTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final long RAM = 0x100000;
    private static final long PAGE = 0x100000 + 0x3000;

    /** A machine: 64 KiB of RAM at 1 MiB, a vCPU's TLB on it. */
    private static final class Machine implements AutoCloseable {
        final MemorySystem sys;
        final RamRegion ram;
        final AddressSpace as;
        final VcpuTlb tlb;
        final DirtyMemory dirty;
        final long pageRamAddr;

        Machine(boolean tcg) {
            sys = new MemorySystem(tcg);
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            ram = RamRegion.allocate(sys, null, "ram", 0x10000);
            root.addSubregion(RAM, ram);
            as = sys.addressSpace(root, "as");
            tlb = new VcpuTlb(as, U, null);
            dirty = sys.dirtyMemory();
            pageRamAddr = ram.ramBlock().offset() + (PAGE - RAM);
        }

        boolean vgaDirty() {
            return dirty.getDirty(pageRamAddr, 4096, DirtyMemory.DIRTY_MEMORY_VGA);
        }

        void clearVga() {
            dirty.resetDirty(pageRamAddr, 4096, DirtyMemory.DIRTY_MEMORY_VGA);
        }

        @Override
        public void close() {
            tlb.close();
            sys.close();
        }
    }

    @Test
    void everyClearMakesTheNextStoreMarkThePageAgain() {
        try (Machine m = new Machine(false)) {
            m.ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            m.tlb.enterBlock();
            for (int round = 0; round < 3; round++) {
                m.clearVga();
                assertFalse(m.vgaDirty());
                m.tlb.stlLe(PAGE + 8, round);      // after a clear: marked
                assertTrue(m.vgaDirty(), "round " + round);
                m.tlb.stqLe(PAGE + 16, round);     // the page is dirty for VGA now: nothing to mark
                m.tlb.stb(PAGE + 24, round);
                assertEquals(round, m.as.ldlLe(PAGE + 8));
                assertEquals(round, m.as.ldqLe(PAGE + 16));
                assertEquals(round, m.as.ldub(PAGE + 24));
            }
            m.clearVga();
            m.tlb.ldlLe(PAGE);                     // loads mark nothing
            assertFalse(m.vgaDirty());
        }
    }

    @Test
    void theFirstStoreAfterCodeWasTranslatedOnThePageInvalidatesIt() {
        try (Machine m = new Machine(true)) {     // TCG: RAM logs the CODE client
            List<String> heard = new ArrayList<>();
            m.dirty.setCodeInvalidator((ramAddr, length) -> {
                heard.add(Long.toHexString(ramAddr) + "+" + length);
                // every translation of the page is gone: it is dirty for CODE again (tlb_unprotect_code)
                m.dirty.setDirtyRange(ramAddr & -4096, 4096, DirtyMemory.MASK_CODE);
            });
            m.tlb.enterBlock();
            m.tlb.stlLe(PAGE, 1);                  // no code there: nothing to invalidate
            assertEquals(List.of(), heard);
            m.dirty.resetDirty(m.pageRamAddr, 4096, DirtyMemory.DIRTY_MEMORY_CODE); // code translated from it
            m.tlb.stwLe(PAGE + 0x10, 2);
            assertEquals(List.of(Long.toHexString(m.pageRamAddr + 0x10) + "+2"), heard);
            m.tlb.stlLe(PAGE + 0x20, 3);           // its translations are gone
            assertEquals(1, heard.size());
            m.dirty.resetDirty(m.pageRamAddr, 4096, DirtyMemory.DIRTY_MEMORY_CODE); // translated again
            m.tlb.stqBe(PAGE + 0x30, 4);
            assertEquals(List.of(Long.toHexString(m.pageRamAddr + 0x10) + "+2",
                    Long.toHexString(m.pageRamAddr + 0x30) + "+8"), heard);
            assertEquals(4L << 56, m.as.ldqLe(PAGE + 0x30));
        }
    }

    @Test
    void anEntryOfAnOlderViewTakesTheNewViewsRules() {
        try (Machine m = new Machine(false)) {
            m.ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            m.tlb.enterBlock();
            m.tlb.stlLe(PAGE, 1);                  // the entry is a logged one
            m.ram.setLog(false, DirtyMemory.DIRTY_MEMORY_VGA); // a new view; no block entry since
            m.clearVga();
            m.tlb.stlLe(PAGE + 4, 2);              // the space's store: nobody logs the page now
            assertFalse(m.vgaDirty());
            assertEquals(2, m.as.ldlLe(PAGE + 4));
            m.ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            m.clearVga();
            m.tlb.stlLe(PAGE + 8, 3);              // and logged again, still before the block entry
            assertTrue(m.vgaDirty());
        }
    }
}
