package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBlock;
import org.junit.jupiter.api.Test;

/** A RAM region's block joins the system's RAM list and is unmapped only after the region is gone. */
class RamRegionLifetimeTest {
    @Test
    void blockIsPlacedInTheSystemsRamListAndStartsDirty() {
        MemorySystem sys = new MemorySystem();
        RamRegion a = RamRegion.allocate(sys, null, "a", 0x10000);
        RamRegion b = RamRegion.allocate(sys, null, "b", 0x10000);
        assertSame(a.ramBlock(), sys.ramList().blockByName("a"));
        assertSame(b.ramBlock(), sys.ramList().blockByName("b"));
        assertTrue(Long.compareUnsigned(a.ramBlock().offset(), b.ramBlock().offset()) != 0);
        assertTrue(sys.dirtyMemory().allDirty(b.ramBlock().offset(), 0x10000, 7), "new blocks start dirty");
    }

    @Test
    void blockIsReleasedOnlyWhenTheRegionIsDestroyedAndNoViewShowsIt() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
        RamBlock block = ram.ramBlock();
        root.addSubregion(0x1000, ram);
        AddressSpace as = sys.addressSpace(root, "as");
        as.stlLe(0x1000, 0x1234_5678);
        assertEquals(1, block.refCount(), "only the region holds the block");

        root.delSubregion(ram);
        assertFalse(block.isReleased(), "not destroyed yet: the owner may map it again");
        ram.destroy();
        assertTrue(block.isReleased(), "destroyed and shown by no view: unmapped");
        assertNull(sys.ramList().blockByName("ram"));
    }

    @Test
    void aViewStillShowingTheRegionKeepsTheBlockMapped() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
        root.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(root, "as");
        sys.transactionBegin();
        root.delSubregion(ram);
        ram.destroy();
        assertFalse(ram.ramBlock().isReleased(), "the published view still shows it until the commit");
        assertEquals(0, as.ldlLe(0));
        sys.transactionCommit();
        assertTrue(ram.ramBlock().isReleased());
    }

    /** A ROM device refused for its null ops took no reference: the block is the creator's alone. */
    @Test
    void aRomDeviceWithoutOpsLeavesItsBlockUntouched() {
        MemorySystem sys = new MemorySystem();
        RamBlock block = RamBlock.anonymous("flash", 0x1000);
        assertThrows(NullPointerException.class, () -> new RomDeviceRegion(sys, null, null, "flash", block));
        assertEquals(1, block.refCount(), "no reference left behind");
        assertNull(block.ramList(), "not placed in the system's RAM list either");
        block.close();
        assertTrue(block.isReleased());
    }

    @Test
    void aBlockWithATakenNameIsRefusedAndLeftUntouched() {
        MemorySystem sys = new MemorySystem();
        RamRegion.allocate(sys, null, "dup", 0x1000);
        RamBlock other = RamBlock.anonymous("dup", 0x1000);
        assertThrows(InvalidRamBlockException.class, () -> new RamRegion(sys, null, "dup", other, false, false));
        assertEquals(1, other.refCount(), "still the creator's alone");
        other.close();
        assertTrue(other.isReleased());
    }
}
