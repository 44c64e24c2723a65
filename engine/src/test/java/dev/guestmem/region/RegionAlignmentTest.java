package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import org.junit.jupiter.api.Test;

/**
 * {@code memory_region_get_alignment} returns {@code mr->align}: set for RAM kinds by their block's
 * allocation, 0 for every other region, aliases included (QEMU does not follow them here).
 */
class RegionAlignmentTest {
    private final MemorySystem sys = new MemorySystem();

    @Test
    void ramKindsReportTheirBlocksAlignment() {
        RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", 4L << 20);
        assertEquals(2L << 20, ram.alignment(), "memory_region_init_ram: QEMU_VMALLOC_ALIGN");
        RamBlock file = RamBlock.builder("mem0", 0x10000).memfd().align(1L << 22).build();
        RamRegion fromFile = new RamRegion(sys, null, "mem0", file, false, false);
        file.close();
        assertEquals(1L << 22, fromFile.alignment(), "memory_region_init_ram_from_file's align");
        RamBlock plain = RamBlock.builder("mem1", 0x10000).memfd().build();
        RamRegion fromFd = new RamRegion(sys, null, "mem1", plain, false, false);
        plain.close();
        assertEquals(LinuxCalls.pageSize(), fromFd.alignment(), "MAX(page_size, 0)");
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, d, s) -> { }).build();
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, ops, "flash", 2L << 20);
        assertEquals(2L << 20, flash.alignment(), "memory_region_init_rom_device allocates anonymous RAM");
    }

    @Test
    void otherRegionsAndAliasesHaveNone() {
        RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", 4L << 20);
        assertEquals(0, new AliasRegion(sys, null, "below-4g", ram, 0, 0x1000).alignment(),
                "an alias's own mr->align is 0");
        assertEquals(0, new IoRegion(sys, null, null, "io", 0x1000).alignment());
        assertEquals(0, new ContainerRegion(sys, null, "box", 0x1000).alignment());
        assertEquals(0, new IommuRegion(sys, null, "iommu", 0x1000).alignment());
    }
}
