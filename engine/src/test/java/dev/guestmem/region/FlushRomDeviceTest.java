package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** QEMU's {@code memory_region_flush_rom_device} and {@code memory_region_is_logging}. */
class FlushRomDeviceTest {
    @Test
    void aDeviceSideWriteIsLoggedAsAGuestWriteWouldBe() {
        MemorySystem sys = new MemorySystem(true); // TCG: the CODE client logs RAM
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        sys.addressSpace(root, "memory");
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, v, s) -> { }).build();
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, ops, "flash", 0x4000);
        root.addSubregion(0xffff_0000L, flash);
        List<long[]> invalidated = new ArrayList<>();
        DirtyMemory dirty = sys.dirtyMemory();
        dirty.setCodeInvalidator((ramAddr, len) -> invalidated.add(new long[] {ramAddr, len}));
        long base = flash.ramBlock().offset();
        sys.globalDirtyLogStart();
        dirty.testAndClearDirty(base, 0x4000, DirtyMemory.DIRTY_MEMORY_CODE);
        dirty.testAndClearDirty(base, 0x4000, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertTrue(flash.isLogging(MemoryRegion.DIRTY_MEMORY_CODE));
        assertTrue(flash.isLogging(MemoryRegion.DIRTY_MEMORY_MIGRATION));
        assertFalse(flash.isLogging(MemoryRegion.DIRTY_MEMORY_VGA));

        // the flash model programs a word in its own memory, then tells the memory API
        flash.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x2010, 0x12345678);
        flash.flushRomDevice(0x2010, 4);

        assertEquals(1, invalidated.size(), "translated code on that page is dropped");
        assertEquals(base + 0x2010, invalidated.get(0)[0]);
        assertTrue(dirty.getDirty(base + 0x2000, 0x1000, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        assertFalse(dirty.getDirty(base + 0x3000, 0x1000, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        sys.globalDirtyLogStop();
    }

    @Test
    void onlyRomDevicesAndRangesInsideThem() {
        MemorySystem sys = new MemorySystem();
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, v, s) -> { }).build();
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, ops, "flash", 0x1000);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        assertThrows(RegionException.class, () -> ram.flushRomDevice(0, 4));
        assertThrows(InvalidRangeException.class, () -> flash.flushRomDevice(0xffe, 4));
        assertThrows(IllegalArgumentException.class, () -> flash.isLogging(3));
        flash.flushRomDevice(0, 0x1000); // nothing logs: no effect, no error
    }
}
