package dev.guestmem.scenario8;

import static dev.guestmem.scenario8.BusMachine.DEV;
import static dev.guestmem.scenario8.BusMachine.HOLE;
import static dev.guestmem.scenario8.BusMachine.MIB;
import static dev.guestmem.scenario8.BusMachine.RAM1;
import static dev.guestmem.scenario8.BusMachine.ROM;
import static dev.guestmem.scenario8.BusMachine.WINDOW;
import static dev.guestmem.scenario8.BusMachine.WINDOW_FROM;
import static dev.guestmem.scenario8.BusMachine.WINDOW_SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import org.junit.jupiter.api.Test;

/**
 * Measurement hygiene: for each kind of range a bulk copy meets, {@link HostLocation} (built on
 * {@code AddressSpace.translate}) names the host segment, the offset and the run length that serve
 * it, and whether the access there is a plain copy; checked against the blocks themselves.
 */
class HostLocationTest {

    @Test
    void ramRangesResolveToTheirBlockAndStopAtTheRegionEnd() {
        BusMachine m = new BusMachine();
        HostLocation a = HostLocation.of(m.as, RAM1 - 0x8000, MIB);
        assertSame(m.ram0.ramBlock(), a.section().ramBlock());
        assertEquals(m.ram0.ramBlock().hostAddress() + RAM1 - 0x8000, a.hostAddress());
        assertEquals(0x8000, a.length());
        assertTrue(a.directRead() && a.directWrite());

        HostLocation b = HostLocation.of(m.as, RAM1 + 0x10, MIB);
        assertSame(m.ram1.ramBlock(), b.section().ramBlock());
        assertEquals(m.ram1.ramBlock().hostAddress() + 0x10, b.hostAddress());
        assertEquals(MIB - 0x10, b.length());
        assertTrue(b.directRead() && b.directWrite(), "a sealed memfd is direct");
    }

    @Test
    void anAliasResolvesIntoTheMiddleOfItsTarget() {
        BusMachine m = new BusMachine();
        HostLocation w = HostLocation.of(m.as, WINDOW + 0x100, MIB);
        assertSame(m.ram0.ramBlock(), w.section().ramBlock());
        assertEquals(m.ram0.ramBlock().hostAddress() + WINDOW_FROM + 0x100, w.hostAddress());
        assertEquals(WINDOW_SIZE - 0x100, w.length());
        assertTrue(w.directRead());
    }

    @Test
    void romIsDirectForReadsOnly() {
        BusMachine m = new BusMachine();
        HostLocation r = HostLocation.of(m.as, ROM, 0x10);
        assertSame(m.rom.ramBlock(), r.section().ramBlock());
        assertTrue(r.directRead());
        assertFalse(r.directWrite());
    }

    @Test
    void mmioAndHolesHaveNoHostBytes() {
        BusMachine m = new BusMachine();
        HostLocation d = HostLocation.of(m.as, DEV, 0x100);
        assertNull(d.segment());
        assertFalse(d.directRead());
        assertSame(m.dev, d.section().region());
        HostLocation h = HostLocation.of(m.as, HOLE, 0x100);
        assertTrue(h.section().isUnassigned());
        assertFalse(h.directRead());
    }

    @Test
    void ramSharingAPageWithADeviceResolvesThroughTheSubpage() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x800);
        root.addSubregion(0x1000, ram);
        root.addSubregion(0x1800, new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(), "d", 0x800));
        AddressSpace as = sys.addressSpace(root, "memory");
        HostLocation l = HostLocation.of(as, 0x1100, 0x1000);
        assertSame(ram.ramBlock(), l.section().ramBlock());
        assertEquals(ram.ramBlock().hostAddress() + 0x100, l.hostAddress());
        assertEquals(0x700, l.length());
        assertTrue(l.directRead());
    }
}
