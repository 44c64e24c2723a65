package dev.guestmem.scenario6;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Probe: what the generic replay (a model without its own {@code replay}) gives a notifier whose
 * range is a window of the IOMMU, as vfio registers one per section. As QEMU's
 * {@code memory_region_iommu_replay} walk, it neither filters by the notifier's range nor merges a
 * large page's steps: a vfio port handed this would map the page outside its window, 512 times
 * (EEXIST from the second on). Models behind vfio therefore override {@code replay}, as VT-d,
 * SMMUv3 and virtio-iommu do; {@code ViommuMachine}'s model does.
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class GenericReplayAuditTest {
    @Test
    void genericReplayIgnoresTheNotifiersWindowAsQemu() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", 8 << 20));
        AddressSpace memory = sys.addressSpace(system, "memory");
        // one 2 MiB page at iova 0, nothing else
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 8 << 20, (addr, flag, idx, out) -> {
            out.iova = addr & ~0x1fffffL;
            out.addrMask = 0x1fffff;
            if (addr < 0x200000) {
                out.targetAs = memory;
                out.translatedAddr = 0x400000;
                out.perm = IommuTlbEntry.RW;
            }
        });
        List<String> seen = new ArrayList<>();
        IommuNotifier n = new IommuNotifier((x, e) -> seen.add(Long.toHexString(e.iova) + "+" + Long.toHexString(e.addrMask)),
                IommuNotifier.IOTLB_EVENTS, 0x400000, 0x7fffff, 0);
        iommu.notifiers().register(n);
        iommu.notifiers().replay(n);
        assertEquals(512, seen.size(), "one entry per 4 KiB step of the mapped 2 MiB page");
        assertEquals("0+1fffff", seen.get(0), "outside the notifier's window [0x400000, 0x7fffff]");
    }
}
