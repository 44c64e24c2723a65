package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link VcpuTlb}: what its hits and misses do, and that the memory of a kept entry stays mapped. */
class VcpuTlbTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    /** A failed access, as the TLB reported it. */
    private record Fault(long addr, int size, boolean isWrite, int result) {
    }

    @Test
    void hitsAndMissesReadAndWriteTheRamTheSpaceShows() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
            root.addSubregion(0x100000, ram);
            AddressSpace as = sys.addressSpace(root, "as");
            List<Fault> faults = new ArrayList<>();
            VcpuTlb tlb = new VcpuTlb(as, U, (a, s, w, r) -> faults.add(new Fault(a, s, w, r)));

            tlb.stlLe(0x100010, 0x11223344);          // miss, fill, direct store
            assertEquals(1, tlb.fills());
            assertEquals(0x11223344, as.ldlLe(0x100010));
            assertEquals(0x11223344, tlb.ldlLe(0x100010)); // hit
            assertEquals(0x44332211, tlb.ldlBe(0x100010));
            assertEquals(0x3344, tlb.lduwLe(0x100010));
            assertEquals(0x44, tlb.ldub(0x100010));
            tlb.stqBe(0x100020, 0x0102030405060708L);
            assertEquals(0x0807060504030201L, tlb.ldqLe(0x100020));
            assertEquals(1, tlb.fills(), "one page, one fill");
            assertEquals(1, tlb.heldBlocks());

            // an access across a page takes the address space, whole
            tlb.stqLe(0x100ffc, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, as.ldqLe(0x100ffc));
            assertEquals(0x1122334455667788L, tlb.ldqLe(0x100ffc));
            // nothing there: the fault hook hears it, the load returns what the space returns
            assertEquals(0, tlb.ldlLe(0x900000));
            tlb.stb(0x900000, 1);
            assertEquals(List.of(new Fault(0x900000, 4, false, MemTxResult.DECODE_ERROR),
                    new Fault(0x900000, 1, true, MemTxResult.DECODE_ERROR)), faults);
            tlb.close();
            assertEquals(0, tlb.heldBlocks());
        }
    }

    @Test
    void aMoveIsSeenAtTheNextBlockEntry() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
            root.addSubregion(0x100000, ram);
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb tlb = new VcpuTlb(as, U, null);
            tlb.stlLe(0x101000, 42);
            assertFalse(tlb.enterBlock(), "nothing changed");
            ram.setAddress(0x200000);
            assertTrue(tlb.enterBlock());
            assertEquals(0, tlb.ldlLe(0x101000), "gone from there");
            assertEquals(42, tlb.ldlLe(0x201000));
            tlb.close();
        }
    }

    /**
     * The safety argument of the class: a block an entry points into is referenced by the TLB, so
     * unplugging the RAM and closing its block leaves the memory mapped until the vCPU's next block
     * entry; a stale hit before it reads the old RAM, never unmapped memory.
     */
    @Test
    void unpluggedRamStaysMappedUntilTheNextBlockEntry() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamBlock block = RamBlock.anonymous("dimm", 0x10000);
            RamRegion dimm = new RamRegion(sys, null, "dimm", block, false, false);
            root.addSubregion(0x100000, dimm);
            AddressSpace as = sys.addressSpace(root, "as");
            List<Fault> faults = new ArrayList<>();
            VcpuTlb tlb = new VcpuTlb(as, U, (a, s, w, r) -> faults.add(new Fault(a, s, w, r)));
            tlb.stlLe(0x100040, 7);

            root.delSubregion(dimm);
            dimm.destroy();
            block.close();                        // the creator lets go: only the TLB holds it now
            assertFalse(block.isReleased(), "a kept entry points into it");
            assertEquals(7, tlb.ldlLe(0x100040), "stale hit, as a vCPU finishing its block: the old RAM");
            tlb.stlLe(0x100040, 8);               // into the old RAM, which nothing else sees

            assertTrue(tlb.enterBlock());
            assertTrue(block.isReleased(), "unmapped at the block entry");
            assertEquals(0, tlb.ldlLe(0x100040));
            assertEquals(List.of(new Fault(0x100040, 4, false, MemTxResult.DECODE_ERROR)), faults);
            tlb.close();
        }
    }

    @Test
    void romStoresAreDroppedAndMmioAndLoggedPagesTakeTheSpace() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
            rom.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x5a5a5a5a);
            root.addSubregion(0xf0000, rom);
            int[] reg = {0};
            IoRegion dev = new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((a, s) -> reg[0]).write((a, v, s) -> reg[0] = (int) v).build(), "dev", 0x1000);
            root.addSubregion(0x400000, dev);
            RamRegion vram = RamRegion.allocate(sys, null, "vram", 0x2000);
            root.addSubregion(0xa0000, vram);
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb tlb = new VcpuTlb(as, U, null);

            assertEquals(0x5a5a5a5a, tlb.ldlLe(0xf0000), "ROM reads directly");
            tlb.stlLe(0xf0000, 0);                // TCG drops a CPU store to ROM
            assertEquals(0x5a5a5a5a, tlb.ldlLe(0xf0000));

            tlb.stlLe(0x400000, 99);              // MMIO: the device's callbacks, every time
            reg[0]++;
            assertEquals(100, tlb.ldlLe(0x400000));

            vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            tlb.enterBlock();
            long ramAddr = vram.ramBlock().offset() + 0x1000;
            vram.resetDirty(0, 0x2000, DirtyMemory.DIRTY_MEMORY_VGA);
            tlb.stlLe(0xa1000, 1);                // logged: through the space, which marks it
            tlb.stlLe(0xa1004, 2);
            assertTrue(sys.dirtyMemory().getDirty(ramAddr, 8, DirtyMemory.DIRTY_MEMORY_VGA));
            assertEquals(2, tlb.ldlLe(0xa1004), "loads of a logged page stay direct");
            tlb.close();
        }
    }

    @Test
    void callerOwnedMemoryIsNeverKept() {
        try (MemorySystem sys = new MemorySystem(); Arena arena = Arena.ofShared()) {
            MemorySegment mine = arena.allocate(0x4000, 0x1000);
            RamBlock dev = RamBlock.builder("bar", 0x4000).ramDevice(mine).build();
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            root.addSubregion(0x10000, new RamRegion(sys, null, "bar", dev, false, true));
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb tlb = new VcpuTlb(as, U, null);
            tlb.stlLe(0x10010, 5);
            assertEquals(5, mine.get(ValueLayout.JAVA_INT_UNALIGNED, 0x10));
            assertEquals(5, tlb.ldlLe(0x10010));
            assertEquals(0, tlb.fills(), "its owner may free it at any time: every access takes the space");
            assertEquals(0, tlb.heldBlocks());
            tlb.close();
        }
    }

    @Test
    void pagesNearTwoTo64() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion top = RamRegion.allocate(sys, null, "top", 0x2000);
            root.addSubregion(-0x2000L, top);
            RamRegion bottom = RamRegion.allocate(sys, null, "bottom", 0x1000);
            root.addSubregion(0, bottom);
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb tlb = new VcpuTlb(as, U, null);
            tlb.stqLe(-8L, 0x1122334455667788L);   // the last 8 bytes of the address space
            assertEquals(0x1122334455667788L, tlb.ldqLe(-8L));
            assertEquals(0x1122334455667788L, as.ldqLe(-8L));
            tlb.stlLe(0, 0x01020304);
            // 4 bytes from 2^64 - 2: wraps to 0 in the address arithmetic; the TLB must not take it
            // as a hit of page 0 (or of the last page), but do what the address space does
            assertEquals(as.ldlLe(-2L), tlb.ldlLe(-2L));
            tlb.stlLe(-2L, 0x0a0b0c0d);
            assertEquals(0x01020304, as.ldlLe(0), "no wrap into page 0 unless the space does it");
            tlb.close();
        }
    }

    /** An IOMMU's UNMAP moves the space's generation: the next block entry drops what it mapped. */
    @Test
    void anIommuUnmapIsSeenAtTheNextBlockEntry() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            ContainerRegion behind = new ContainerRegion(sys, null, "behind", MemoryRegion.SIZE_2_64);
            RamRegion first = RamRegion.allocate(sys, null, "first", 0x1000);
            RamRegion second = RamRegion.allocate(sys, null, "second", 0x1000);
            first.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 1);
            second.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 2);
            behind.addSubregion(0x0, first);
            behind.addSubregion(0x1000, second);
            AddressSpace target = sys.addressSpace(behind, "behind");
            long[] to = {0x0};
            IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x1000, (addr, flag, idx, out) -> {
                out.iova = addr & ~0xFFFL;
                out.translatedAddr = to[0];
                out.addrMask = 0xFFF;
                out.perm = IommuTlbEntry.RW;
                out.targetAs = target;
            });
            root.addSubregion(0x80000, iommu);
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb tlb = new VcpuTlb(as, U, null);
            assertEquals(1, tlb.ldlLe(0x80000));
            assertEquals(1, tlb.fills(), "a direct page behind the IOMMU");
            to[0] = 0x1000;                        // the table first, then the event
            iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.NONE));
            assertTrue(tlb.enterBlock());
            assertEquals(2, tlb.ldlLe(0x80000));
            tlb.close();
        }
    }

    /** Between a topology change and the next block entry, a ROM store is still dropped, not a fault. */
    @Test
    void aRomStoreBeforeTheNextBlockEntryIsDroppedNotAFault() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
            root.addSubregion(0xf0000, rom);
            root.addSubregion(0x100000, RamRegion.allocate(sys, null, "ram", 0x1000));
            AddressSpace as = sys.addressSpace(root, "as");
            List<Fault> faults = new ArrayList<>();
            VcpuTlb tlb = new VcpuTlb(as, U, (a, s, w, r) -> faults.add(new Fault(a, s, w, r)));
            root.addSubregion(0x200000, RamRegion.allocate(sys, null, "more", 0x1000)); // no enterBlock yet
            tlb.stlLe(0xf0000, 1);
            assertEquals(List.of(), faults, "TCG drops a store to ROM; the map being newer changes nothing");
            assertEquals(0, tlb.ldlLe(0xf0000));
            assertEquals(0, tlb.fills(), "nothing kept from a map newer than the entries");
            tlb.enterBlock();
            assertEquals(0, tlb.ldlLe(0xf0000));
            assertEquals(1, tlb.fills());
            tlb.close();
        }
    }

    /**
     * A resizeable block shrunk under a kept entry: before the next block entry the stale hit reads
     * the block's reservation, which stays mapped; after it, the page is gone from the view.
     */
    @Test
    void aShrunkBlockKeepsItsReservationMappedForAStaleEntry() {
        try (MemorySystem sys = new MemorySystem();
             RamBlock block = RamBlock.builder("vram", 0x4000).resizeable(0x4000, null).build()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion vram = new RamRegion(sys, null, "vram", block, false, false);
            root.addSubregion(0x100000, vram);
            AddressSpace as = sys.addressSpace(root, "as");
            List<Fault> faults = new ArrayList<>();
            VcpuTlb tlb = new VcpuTlb(as, U, (a, s, w, r) -> faults.add(new Fault(a, s, w, r)));
            tlb.stlLe(0x103000, 0x77);
            vram.ramResize(0x1000);               // the page at 0x103000 leaves the view
            assertEquals(0x77, tlb.ldlLe(0x103000), "stale hit: the reservation, still mapped");
            assertTrue(tlb.enterBlock());
            assertEquals(0, tlb.ldlLe(0x103000));
            assertEquals(List.of(new Fault(0x103000, 4, false, MemTxResult.DECODE_ERROR)), faults);
            tlb.close();
        }
    }
}
