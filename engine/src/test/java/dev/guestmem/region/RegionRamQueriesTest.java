package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * QEMU's {@code memory_region_is_rom} ({@code mr->ram && mr->readonly}) and
 * {@code memory_region_get_ram_ptr} (follows aliases, adding their offsets, then the block's host
 * pointer; asserts a RAM block at the end of the chain), and {@code memory_region_is_iommu}, which
 * follows aliases ({@code memory_region_get_iommu}).
 */
class RegionRamQueriesTest {
    private static final MemoryRegionOps OPS = MemoryRegionOps.builder()
            .read((addr, size) -> 0)
            .write((addr, data, size) -> { })
            .build();

    private final MemorySystem sys = new MemorySystem();

    @Test
    void isRomIsRamThatIsReadonly() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
        assertFalse(ram.isRom());
        assertTrue(rom.isRom());
        ram.setReadonly(true);
        assertTrue(ram.isRom(), "memory_region_set_readonly turns RAM into ROM");
        ram.setReadonly(false);
        assertFalse(ram.isRom());
    }

    @Test
    void isRomIsFalseForWhatIsNotRamEvenIfReadonly() {
        IoRegion io = new IoRegion(sys, null, OPS, "io", 0x1000);
        io.setReadonly(true);
        assertFalse(io.isRom(), "an I/O region is not RAM");
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, OPS, "flash", 0x1000);
        assertFalse(flash.isRom(), "a ROM device is not RAM (mr->ram is false), even in ROMD mode");
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
        AliasRegion alias = new AliasRegion(sys, null, "alias", rom, 0, 0x1000);
        alias.setReadonly(true);
        assertFalse(alias.isRom(), "an alias is not RAM itself (mr->ram is false)");
    }

    @Test
    void isIommuFollowsAliasesAsQemu() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32);
        AliasRegion alias = new AliasRegion(sys, null, "alias", iommu, 0x1000, 0x1000);
        AliasRegion aliasOfAlias = new AliasRegion(sys, null, "alias2", alias, 0, 0x1000);
        assertTrue(iommu.isIommu());
        assertTrue(alias.isIommu(), "memory_region_get_iommu(mr) recurses into mr->alias");
        assertTrue(aliasOfAlias.isIommu());
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        assertFalse(new AliasRegion(sys, null, "ramAlias", ram, 0, 0x1000).isIommu());
        assertFalse(new ContainerRegion(sys, null, "box", 0x1000).isIommu());
    }

    @Test
    void anAliasOfAnIommuLogsForMigrationUnderGlobalTracking() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 1L << 32);
        AliasRegion alias = new AliasRegion(sys, null, "alias", iommu, 0, 0x1000);
        assertEquals(0, alias.dirtyLogMask());
        sys.globalDirtyLogStart();
        try {
            // memory_region_get_dirty_log_mask: MIGRATION for a migratable block or memory_region_is_iommu
            assertEquals(1 << MemoryRegion.DIRTY_MEMORY_MIGRATION, alias.dirtyLogMask());
        } finally {
            sys.globalDirtyLogStop();
        }
    }

    @Test
    void ramSegmentOfRamIsTheBlockFromByteZero() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x3000);
        MemorySegment seg = ram.ramSegment();
        assertEquals(ram.ramBlock().hostAddress(), seg.address());
        assertEquals(0x3000, seg.byteSize());
        seg.set(ValueLayout.JAVA_BYTE, 0x10, (byte) 0x5a);
        assertEquals((byte) 0x5a, ram.ramBlock().segment().get(ValueLayout.JAVA_BYTE, 0x10));
    }

    @Test
    void ramSegmentFollowsAliasesAddingTheirOffsets() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
        AliasRegion outer = new AliasRegion(sys, null, "outer", ram, 0x1000, 0x2000);
        AliasRegion inner = new AliasRegion(sys, null, "inner", outer, 0x800, 0x800);
        RamBlock block = ram.ramBlock();
        assertEquals(block.hostAddress() + 0x1000, outer.ramSegment().address());
        assertEquals(block.hostAddress() + 0x1800, inner.ramSegment().address());
        assertEquals(0x4000 - 0x1800, inner.ramSegment().byteSize(), "to the end of the block, as a pointer");
    }

    @Test
    void ramSegmentOfARomDeviceIsItsMemory() {
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, OPS, "flash", 0x1000);
        assertEquals(flash.ramBlock().hostAddress(), flash.ramSegment().address());
    }

    @Test
    void ramSegmentWithoutARamBlockThrows() {
        IoRegion io = new IoRegion(sys, null, OPS, "io", 0x1000);
        ContainerRegion c = new ContainerRegion(sys, null, "c", 0x1000);
        AliasRegion aliasOfIo = new AliasRegion(sys, null, "a", io, 0, 0x1000);
        assertThrows(RegionException.class, io::ramSegment);
        assertThrows(RegionException.class, c::ramSegment);
        assertThrows(RegionException.class, aliasOfIo::ramSegment);
    }

    @Test
    void ramSegmentOfAnAliasPastTheBlockThrows() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
        AliasRegion past = new AliasRegion(sys, null, "past", ram, 0x2000, 0x1000);
        assertThrows(InvalidRangeException.class, past::ramSegment);
    }
}
