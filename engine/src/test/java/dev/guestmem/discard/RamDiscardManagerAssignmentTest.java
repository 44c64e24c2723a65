package dev.guestmem.discard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link MemoryRegion#setRamDiscardManager} / {@link MemoryRegion#ramDiscardManager()} /
 * {@link MemoryRegion#hasRamDiscardManager()} with QEMU's rules ({@code system/memory.c}): RAM only,
 * unmapped only, one at a time; visible mapped or not (QEMU 8.1 on). Refusals change nothing.
 */
class RamDiscardManagerAssignmentTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);

    @Test
    void aRamRegionGetsOneManagerVisibleMappedOrNot() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 1 << 20);
        assertNull(ram.ramDiscardManager());
        assertFalse(ram.hasRamDiscardManager());
        RamDiscardManager m = new FixedRamDiscardManager(ram, 4096, true);
        ram.setRamDiscardManager(m);
        assertSame(m, ram.ramDiscardManager(), "QEMU 8.1 on answers for an unmapped region too");
        assertTrue(ram.hasRamDiscardManager());
        root.addSubregion(0x1000_0000L, ram);
        assertSame(m, ram.ramDiscardManager());
        assertTrue(ram.hasRamDiscardManager());
        root.delSubregion(ram);
        assertSame(m, ram.ramDiscardManager());
        // cleared while unmapped, then another one may be set
        ram.setRamDiscardManager(null);
        RamDiscardManager m2 = new FixedRamDiscardManager(ram, 8192, false);
        ram.setRamDiscardManager(m2);
        root.addSubregion(0, ram);
        assertSame(m2, ram.ramDiscardManager());
    }

    @Test
    void romAndRegionsMappedOnlyThroughAnAliasFollowTheRules() {
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 64 << 10);
        RamDiscardManager m = new FixedRamDiscardManager(rom, 4096, true);
        rom.setRamDiscardManager(m); // memory_region_is_ram is true for ROM
        AliasRegion window = new AliasRegion(sys, null, "window", rom, 0, 4096);
        root.addSubregion(0xe000_0000L, window);
        assertTrue(rom.isMapped());
        assertSame(m, rom.ramDiscardManager(), "mapped through an alias counts as mapped");
        assertThrows(RamDiscardManagerException.class, () -> rom.setRamDiscardManager(null), "mapped");
        assertSame(m, rom.ramDiscardManager());
    }

    @Test
    void refusalsChangeNothing() {
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 1 << 20);
        RamDiscardManager first = new FixedRamDiscardManager(ram, 4096, true);
        RamDiscardManager second = new FixedRamDiscardManager(ram, 4096, false);
        ram.setRamDiscardManager(first);
        RamDiscardManagerException twice = assertThrows(RamDiscardManagerException.class,
                () -> ram.setRamDiscardManager(second));
        assertTrue(twice.getMessage().contains("already has one"), twice.getMessage());
        root.addSubregion(0, ram);
        assertSame(first, ram.ramDiscardManager(), "the first manager stays");
        assertThrows(RamDiscardManagerException.class, () -> ram.setRamDiscardManager(null), "mapped: cannot clear");
        assertSame(first, ram.ramDiscardManager());

        RamRegion other = RamRegion.allocate(sys, null, "other", 1 << 20);
        BitmapRamDiscardManager bitmap = BitmapRamDiscardManager.attach(other, 64 << 10);
        RamRegion third = RamRegion.allocate(sys, null, "third", 1 << 20);
        assertThrows(RamDiscardManagerException.class, () -> third.setRamDiscardManager(bitmap),
                "a bitmap manager belongs to the region it was made for");
        root.addSubregion(0x1000_0000L, third);
        assertNull(third.ramDiscardManager());
    }

    @Test
    void nonRamRegionsAreRefused() {
        ContainerRegion c = new ContainerRegion(sys, null, "c", 4096);
        IoRegion io = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).write((a, d, s) -> { })
                .build(), "io", 4096);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 4096);
        AliasRegion alias = new AliasRegion(sys, null, "alias", ram, 0, 4096);
        for (MemoryRegion mr : List.of(c, io, alias)) {
            RamDiscardManager m = new FixedRamDiscardManager(mr, 4096, true);
            RegionException e = assertThrows(RamDiscardManagerException.class, () -> mr.setRamDiscardManager(m));
            assertTrue(e.getMessage().contains("not a RAM region"), e.getMessage());
            root.addSubregion(0x1000L * (1 + List.of(c, io, alias).indexOf(mr)), mr);
            assertNull(mr.ramDiscardManager());
            assertFalse(mr.hasRamDiscardManager());
        }
        assertEquals(0, root.subregions().stream().filter(MemoryRegion::hasRamDiscardManager).count());
    }
}
