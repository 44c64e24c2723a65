package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockNotifier;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import org.junit.jupiter.api.Test;

/** Adversarial review of {@link VcpuTlb}: the sequences that could break its hits, one test each. */
class VcpuTlbReviewTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    /**
     * 16 KiB of RAM at 0x100000 whose first 8 KiB also show read-only at 0x200000 (a PAM-like shadow).
     */
    private static RamRegion ramBehindReadOnlyAlias(MemorySystem sys, ContainerRegion root) {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
        root.addSubregion(0x100000, ram);
        AliasRegion ro = new AliasRegion(sys, null, "ram-ro", ram, 0, 0x2000);
        ro.setReadonly(true);
        root.addSubregion(0x200000, ro);
        return ram;
    }

    /**
     * TCG drops a CPU store to RAM the view makes read-only page by page ({@code do_st_leN}), so a
     * store that crosses into or out of such a page writes only the bytes of a writable page.
     */
    @Test
    void aStoreAcrossAPageDropsTheBytesOfReadOnlyRamPages() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = ramBehindReadOnlyAlias(sys, root);
            root.addSubregion(0x202000, new AliasRegion(sys, null, "ram-rw", ram, 0x2000, 0x2000));
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb tlb = new VcpuTlb(as, U, null);

            tlb.stlLe(0x200ffe, 0x11223344);           // both pages read-only: dropped whole
            assertEquals(0, as.ldlLe(0x100ffe));
            tlb.stqLe(0x201ffc, 0x1122334455667788L);  // read-only page, then writable page
            assertEquals(0, as.ldlLe(0x101ffc), "the read-only page's half is dropped");
            assertEquals(0x11223344, as.ldlLe(0x102000), "the writable page's half is written");
            tlb.stlBe(0x201ffe, 0xaabbccdd);            // big-endian: the last two bytes land in the writable page
            assertEquals(0xccdd, as.lduwBe(0x102000));
            assertEquals(0, as.lduwLe(0x101ffe));
            tlb.close();
        }
    }

    /**
     * After {@code close()} every access takes the address space, with the TLB's own rules: a store
     * to RAM the view makes read-only is still dropped, whether or not it crosses a page (it was
     * dropped only across pages: a single-page store wrote the RAM behind a read-only alias, and one
     * to ROM reported a {@code DECODE_ERROR} fault).
     */
    @Test
    void aClosedTlbStillDropsStoresToReadOnlyRam() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = ramBehindReadOnlyAlias(sys, root);
            root.addSubregion(0x300000, RamRegion.allocateRom(sys, null, "rom", 0x1000));
            AddressSpace as = sys.addressSpace(root, "as");
            int[] faults = {0};
            VcpuTlb tlb = new VcpuTlb(as, U, (addr, size, isWrite, result) -> faults[0]++);
            tlb.close();

            tlb.stlLe(0x200010, 0x11223344);
            assertEquals(0, as.ldlLe(0x100010), "a store through the read-only alias is dropped");
            tlb.stlLe(0x200ffe, 0x11223344);
            assertEquals(0, as.ldlLe(0x100ffe), "and so is one across its pages");
            tlb.stlLe(0x300010, 0x11223344);
            assertEquals(0, faults[0], "a store to ROM is dropped without a fault");
            tlb.stlLe(0x100010, 0x55667788);
            assertEquals(0x55667788, as.ldlLe(0x100010), "writable RAM is written, through the space");
            assertEquals(0, tlb.heldBlocks(), "a closed TLB keeps no entry");
            assertEquals(0, tlb.fills());
        }
    }

    /** Closing the machine under a TLB's entries: they stay usable until the flush, which then unmaps. */
    @Test
    void aMachineClosedUnderTheEntriesKeepsTheirBlockUntilTheFlush() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x2000);
        root.addSubregion(0x100000, ram);
        AddressSpace as = sys.addressSpace(root, "as");
        RamBlock block = ram.ramBlock();
        VcpuTlb tlb = new VcpuTlb(as, U, null);
        tlb.stlLe(0x100010, 0x5a5a5a5a);
        sys.close();
        assertFalse(block.isReleased(), "the TLB's reference keeps it mapped");
        assertEquals(0x5a5a5a5a, tlb.ldlLe(0x100010), "a stale hit reads the RAM the page had");
        assertTrue(tlb.enterBlock(), "the space was destroyed: its generation moved");
        assertEquals(0, tlb.heldBlocks());
        assertTrue(block.isReleased());
        assertEquals(0, tlb.ldlLe(0x100010), "a destroyed space shows nothing");
        assertEquals(0, tlb.heldBlocks());
        tlb.close();
    }

    /** A block whose release throws (a RAM list notifier) does not keep the others referenced. */
    @Test
    void aFlushWhoseUnrefThrowsStillLetsEveryBlockGo() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion a = RamRegion.allocate(sys, null, "a", 0x1000);
            RamRegion b = RamRegion.allocate(sys, null, "b", 0x1000);
            root.addSubregion(0x100000, a);
            root.addSubregion(0x200000, b);
            AddressSpace as = sys.addressSpace(root, "as");
            RamBlock ba = a.ramBlock();
            RamBlock bb = b.ramBlock();
            sys.ramList().addNotifier(new RamBlockNotifier() {
                @Override
                public void ramBlockRemoved(RamBlock block) {
                    throw new IllegalStateException("notifier");
                }
            });
            VcpuTlb tlb = new VcpuTlb(as, U, null);
            tlb.stb(0x100000, 1);
            tlb.stb(0x200000, 2);
            assertEquals(2, tlb.heldBlocks());
            try {
                root.delSubregion(a);
                a.destroy();
                root.delSubregion(b);
                b.destroy();
            } catch (IllegalStateException expected) {
                // not from here: the regions' references are not the last
            }
            assertFalse(ba.isReleased());
            assertThrows(IllegalStateException.class, tlb::enterBlock);
            assertEquals(0, tlb.heldBlocks());
            assertTrue(ba.isReleased());
            assertTrue(bb.isReleased());
            assertFalse(tlb.enterBlock(), "the generation was taken with the flush");
            tlb.close();
        }
    }

    /** A block made fault-prone after a fill (a lazy restore starting) is not filled directly again. */
    @Test
    void aBlockHeldFaultProneAfterAFillIsSlowFromTheNextBlockEntry() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x2000);
            root.addSubregion(0x100000, ram);
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb tlb = new VcpuTlb(as, U, null);
            tlb.stlLe(0x100000, 7);
            assertEquals(1, tlb.fills());
            var hold = ram.ramBlock().holdFaultProne("review");
            try {
                tlb.stlLe(0x101000, 8);                 // a fill after the hold, before the block entry
                assertEquals(1, tlb.fills(), "a fill from a map newer than the entries is not kept");
                assertTrue(tlb.enterBlock());
                assertEquals(7, tlb.ldlLe(0x100000));
                assertEquals(8, tlb.ldlLe(0x101000));
                assertEquals(1, tlb.fills(), "fault-prone pages are never direct");
                assertEquals(0, tlb.heldBlocks());
            } finally {
                hold.close();
            }
            assertTrue(tlb.enterBlock());
            assertEquals(7, tlb.ldlLe(0x100000));
            assertEquals(2, tlb.fills(), "direct again once the hold is closed");
            tlb.close();
        }
    }
}
