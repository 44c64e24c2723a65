package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Explores what the setup-API fuzzer's RAM model had to learn: a buffer read that starts in a
 * ROMD-mode ROM device is not clamped to the device's section (QEMU's
 * {@code address_space_translate_internal} clamps only {@code memory_region_is_ram}, which a ROM
 * device is not), so it reads on in the device's block, past what the view shows there. Records the
 * present behaviour (QEMU's); not a regression test.
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class RomDeviceReadPastSectionProbeTest {
    @Test
    void aReadFromAFlashRunsOnInItsBlockUnderTheRegionThatCoversIt() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null,
                    MemoryRegionOps.builder().read((a, n) -> 0).write((a, d, n) -> { }).build(), "flash", 0x2000);
            flash.ramBlock().segment().fill((byte) 0xf1);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
            ram.ramBlock().segment().fill((byte) 0x33);
            root.addSubregion(0x10000, flash);
            root.addSubregionOverlap(0x11000, ram, 1); // covers the flash's second page
            AddressSpace as = sys.addressSpace(root, "as");
            assertEquals(0x33, as.ldub(0x11000), "the view shows the RAM there");
            byte[] buf = new byte[16];
            assertEquals(MemTxResult.OK, as.read(0x10ff8, MemTxAttrs.UNSPECIFIED, buf, 0, 16));
            assertEquals((byte) 0xf1, buf[15], "the read ran on in the flash's block, not the RAM");
        } finally {
            sys.close();
        }
    }
}
