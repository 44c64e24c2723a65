package dev.guestmem.scenario5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.HeldRamBlocks;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A DIMM hot-unplugged (unmapped, destroyed, its block let go) while a migration round is between
 * taking the block list and copying: QEMU's migration walks {@code ram_list} under RCU, so a block
 * it found stays mapped until the walk ends. Here the round must hold the blocks it walks
 * ({@link HeldRamBlocks}); a round that does not meets a closed segment (a clear
 * {@link IllegalStateException}, never unmapped memory) and, worse, a stale ram_addr that a new
 * block may already own.
 */
class HotUnplugDuringMigrationTest {
    private static final long MIB = 1L << 20;
    private static final long DIMM_BASE = 0x4000_0000L;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
    private final RamRegion dimm = RamRegion.allocate(sys, null, "dimm0", MIB);
    private final DirtyMemory dirty = sys.dirtyMemory();

    @BeforeEach
    void setUp() {
        root.addSubregion(0, ram);
        root.addSubregion(DIMM_BASE, dimm);
        sys.globalDirtyLogStart();
        for (RamBlock b : sys.ramList().blocks()) { // a first round has sent everything
            dirty.snapshotAndClearDirty(b.offset(), b.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        }
        as.stlLe(DIMM_BASE + 0x2000, 0x1234); // dirty in dimm0, to be sent by the next round
    }

    private void unplugDimm() {
        root.delSubregion(dimm);
        dimm.destroy();
    }

    /** The hot-plugged replacement, at the same guest address; it takes the freed ram_addr range if it can. */
    private RamRegion plugAnother() {
        RamRegion next = RamRegion.allocate(sys, null, "dimm1", MIB);
        root.addSubregion(DIMM_BASE, next);
        return next;
    }

    /** What happens to the recipe that keeps a plain {@code ramList().blocks()} across the round. */
    @Test
    void anUnheldRoundMeetsAClosedSegmentAndAStaleRamAddr() {
        List<RamBlock> blocks = sys.ramList().blocks(); // the round's walk begins
        RamBlock gone = blocks.get(1);
        unplugDimm();
        assertTrue(gone.isReleased(), "nothing held it: unmapped already");
        RamRegion next = plugAnother();
        assertEquals(gone.offset(), next.ramBlock().offset(), "the new block reuses the freed ram_addr range");
        as.stlLe(DIMM_BASE + 0x5000, 0x5678); // the guest writes the new DIMM

        dirty.snapshotAndClearDirty(gone.offset(), gone.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        MemorySegment dst = Arena.ofAuto().allocate(MIB);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> MemorySegment.copy(gone.segment(), 0, dst, 0, MIB));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertFalse(dirty.getDirty(next.ramBlock().offset() + 0x5000, 4, DirtyMemory.DIRTY_MEMORY_MIGRATION),
                "the stale snapshot cleared the new block's page: the next round would never send it");
    }

    /** The recipe: hold the blocks for the whole round; an unplug meanwhile waits for the round to let go. */
    @Test
    void aHeldRoundCopiesTheUnpluggedBlockAndSparesTheNewOne() {
        MemorySegment dst = Arena.ofAuto().allocate(MIB);
        RamBlock gone;
        RamRegion next;
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            List<RamBlock> blocks = held.blocks();
            gone = blocks.get(1);
            unplugDimm();
            assertFalse(gone.isReleased(), "the round's hold keeps it mapped and in the RAM list");
            next = plugAnother();
            assertNotEquals(gone.offset(), next.ramBlock().offset(), "its ram_addr range is still taken");
            as.stlLe(DIMM_BASE + 0x5000, 0x5678);

            DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(gone.offset(), gone.usedLength(),
                    DirtyMemory.DIRTY_MEMORY_MIGRATION);
            assertTrue(snap.nextDirtyPage(gone.offset()) == gone.offset() + 0x2000, "the page written before the unplug");
            MemorySegment.copy(gone.segment(), 0, dst, 0, MIB);
        }
        assertTrue(gone.isReleased(), "the round let go: the unplug completes");
        assertEquals(0x1234, dst.get(ValueLayout.JAVA_INT_UNALIGNED, 0x2000));
        assertTrue(dirty.getDirty(next.ramBlock().offset() + 0x5000, 4, DirtyMemory.DIRTY_MEMORY_MIGRATION),
                "the new block's page is still dirty for the next round");
        try (HeldRamBlocks held = sys.ramList().holdBlocks()) {
            assertEquals(List.of(ram.ramBlock(), next.ramBlock()), held.blocks(), "the next round walks the new list");
        }
    }

    /** A block whose last reference is already gone but which has not left the list yet is skipped, not an error. */
    @Test
    void aHoldSkipsABlockBeingReleasedAndLetsGoOnce() {
        RamBlock b = RamBlock.anonymous("loose", MIB);
        sys.ramList().add(b);
        HeldRamBlocks held = sys.ramList().holdBlocks();
        assertTrue(held.blocks().contains(b));
        b.close();
        assertFalse(b.isReleased(), "held");
        held.close();
        held.close(); // idempotent: no second unref
        assertTrue(b.isReleased());
        assertFalse(b.tryRef(), "a released block cannot be held");
        try (HeldRamBlocks again = sys.ramList().holdBlocks()) {
            assertFalse(again.blocks().contains(b));
        }
    }
}
