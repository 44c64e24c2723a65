package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/**
 * QEMU's {@code address_space_is_io}: translate the address and answer
 * {@code !(memory_region_is_ram(mr) || memory_region_is_romd(mr))}; unassigned addresses are I/O.
 */
class AddressSpaceIsIoTest {
    private static final MemoryRegionOps OPS = MemoryRegionOps.builder()
            .read((addr, size) -> 0)
            .write((addr, data, size) -> { })
            .build();

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);

    @Test
    void ramRomAndAliasesOfRamAreNotIo() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x2000);
        root.addSubregion(0x0, ram);
        root.addSubregion(0x4000, RamRegion.allocateRom(sys, null, "rom", 0x1000));
        root.addSubregion(0x6000, new AliasRegion(sys, null, "alias", ram, 0x1000, 0x1000));
        AddressSpace as = sys.addressSpace(root, "as");
        assertFalse(as.isIo(0x0));
        assertFalse(as.isIo(0x1fff));
        assertFalse(as.isIo(0x4000));
        assertFalse(as.isIo(0x6800));
    }

    @Test
    void mmioAndUnassignedAreIo() {
        root.addSubregion(0x1000, new IoRegion(sys, null, OPS, "mmio", 0x1000));
        AddressSpace as = sys.addressSpace(root, "as");
        assertTrue(as.isIo(0x1000));
        assertTrue(as.isIo(0x0), "nothing mapped: the unassigned section is I/O");
        assertTrue(as.isIo(-1L), "the top of a 2^64 space, unassigned");
    }

    @Test
    void romDeviceIsIoOnlyOutsideRomdMode() {
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, OPS, "flash", 0x1000);
        root.addSubregion(0x8000, flash);
        AddressSpace as = sys.addressSpace(root, "as");
        assertFalse(as.isIo(0x8000), "ROMD mode: reads go to memory");
        flash.setRomd(false);
        assertTrue(as.isIo(0x8000), "MMIO mode: every access goes to the ops");
    }

    @Test
    void ramDeviceIsNotIo() {
        try (Arena arena = Arena.ofShared()) {
            RamBlock block = RamBlock.builder("bar", 0x1000).ramDevice(arena.allocate(0x1000, 4096)).build();
            root.addSubregion(0x9000, new RamRegion(sys, null, "bar", block, false, true));
            AddressSpace as = sys.addressSpace(root, "as");
            assertFalse(as.isIo(0x9000), "memory_region_is_ram is true for a RAM device");
        }
    }
}
