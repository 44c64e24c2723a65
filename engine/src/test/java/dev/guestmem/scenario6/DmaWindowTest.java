package dev.guestmem.scenario6;

import static dev.guestmem.scenario6.HostIommu.PAGE;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A device whose DMA space is a window of system memory at an offset (a host bridge with a DMA
 * offset: the space's root is an alias): the container's iovas are the window's addresses, and the
 * expected map is computed from the RAM's own segment, not from the engine's views.
 */
class DmaWindowTest {
    static final long MIB = 1 << 20;
    static final long WINDOW = 0x100000;

    @Test
    void aWindowedDmaSpaceMapsEachIovaToRamAtTheWindowsOffset() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * MIB);
        system.addSubregion(0, ram);
        IoRegion bar = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(), "bar", 0x4000);
        system.addSubregionOverlap(0x300000, bar, 1);
        AddressSpace memory = sys.addressSpace(system, "memory");
        AddressSpace dma = sys.addressSpace(new AliasRegion(sys, null, "dma-window", system, WINDOW, 8 * MIB), "dma");
        HostIommu container = new HostIommu();
        VfioListener vfio = new VfioListener(sys, container, memory, new FakeDevice(container));
        sys.registerListener(vfio, dma);

        TreeMap<Long, String> expected = new TreeMap<>(Long::compareUnsigned);
        long base = ram.ramBlock().segment().address();
        for (long iova = 0; iova < 8 * MIB; iova += PAGE) {
            long gpa = iova + WINDOW;
            if (gpa < 0x300000 || gpa >= 0x304000) { // the BAR hides four pages
                expected.put(iova, HostIommu.describe(base + gpa, false));
            }
        }
        VfioMirrorTest.assertMirror(expected, container.pages(), "window at 0x100000");
        assertEquals(List.of(), vfio.errors);

        bar.setAddress(0x200000);
        expected.clear();
        for (long iova = 0; iova < 8 * MIB; iova += PAGE) {
            long gpa = iova + WINDOW;
            if (gpa < 0x200000 || gpa >= 0x204000) {
                expected.put(iova, HostIommu.describe(base + gpa, false));
            }
        }
        VfioMirrorTest.assertMirror(expected, container.pages(), "BAR moved to 0x200000");
        assertEquals(List.of(), vfio.errors);
        assertEquals(List.of(), container.refusals);
    }
}
