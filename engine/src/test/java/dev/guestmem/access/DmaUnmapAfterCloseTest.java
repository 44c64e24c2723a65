package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A direct DMA write mapping still held when its machine closes: {@code close()} takes the block out
 * of the machine's RAM list, so the mapping's {@code unmap} must not mark the closed machine's dirty
 * bitmaps (at the block's old ram_addr, or at the one another machine gave it since) nor call its
 * code invalidator; the memory stays mapped until that unmap.
 */
class DmaUnmapAfterCloseTest {
    private static final long DIMM = 0x100_0000L;
    private static final long SIZE = 0x1_0000L;

    @Test
    void aDirectWriteMappingUnmappedAfterCloseMarksNothingInTheClosedMachine() {
        MemorySystem a = new MemorySystem(true); // TCG: RAM logs CODE, so a logged write calls the invalidator
        List<Long> invalidated = new ArrayList<>();
        a.dirtyMemory().setCodeInvalidator((ramAddr, len) -> invalidated.add(ramAddr));
        try (RamBlock dimm = RamBlock.anonymous("dimm", SIZE)) {
            ContainerRegion root = new ContainerRegion(a, null, "root", -1L);
            root.addSubregion(0, RamRegion.allocate(a, null, "low", SIZE)); // ram_addr 0
            root.addSubregion(DIMM, new RamRegion(a, null, "dimm", dimm, false, false));
            AddressSpace as = a.addressSpace(root, "dma");
            long oldOffset = dimm.offset();
            assertNotEquals(0, oldOffset);
            DmaMapping m = as.map(DIMM, 4096, true, MemTxAttrs.UNSPECIFIED);
            assertFalse(m.isBounce());
            DirtyMemory bitmaps = a.dirtyMemory();
            long ramSize = bitmaps.sizeBytes();
            bitmaps.clearDirtyRange(0, ramSize); // every page clean, CODE included ("has translations")

            a.close();
            assertNull(dimm.ramList(), "close() took the block out of the closed machine's list");
            try (MemorySystem b = new MemorySystem()) {
                b.ramList().add(dimm); // the DIMM moves to another machine, at ram_addr 0 there
                assertEquals(0, dimm.offset());
                m.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1122334455667788L); // the device's write lands
                assertEquals(MemTxResult.OK, m.unmap(8));
                assertEquals(0x1122334455667788L, dimm.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0));
                b.ramList().remove(dimm);
            }
            assertEquals(List.of(), invalidated, "no code invalidation in the closed machine");
            for (int client = 0; client < 3; client++) {
                assertFalse(bitmaps.getDirty(0, ramSize, client), "no dirty bit of client " + client
                        + " in the closed machine (old ram_addr 0x" + Long.toHexString(oldOffset) + ")");
            }
        }
    }

    @Test
    void beforeCloseTheSameUnmapMarksTheBlocksPages() {
        try (MemorySystem a = new MemorySystem(true)) {
            List<Long> invalidated = new ArrayList<>();
            a.dirtyMemory().setCodeInvalidator((ramAddr, len) -> invalidated.add(ramAddr));
            ContainerRegion root = new ContainerRegion(a, null, "root", -1L);
            root.addSubregion(0, RamRegion.allocate(a, null, "low", SIZE));
            RamRegion dimm = RamRegion.allocate(a, null, "dimm", SIZE);
            root.addSubregion(DIMM, dimm);
            AddressSpace as = a.addressSpace(root, "dma");
            DmaMapping m = as.map(DIMM, 4096, true, MemTxAttrs.UNSPECIFIED);
            a.dirtyMemory().clearDirtyRange(0, a.dirtyMemory().sizeBytes());
            m.unmap(8);
            long ramAddr = dimm.ramBlock().offset();
            assertEquals(List.of(ramAddr), invalidated, "the written page's translations dropped");
            assertFalse(a.dirtyMemory().getDirty(0, SIZE, DirtyMemory.DIRTY_MEMORY_CODE), "nothing at ram_addr 0");
        }
    }
}
