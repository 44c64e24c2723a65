package dev.guestmem.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** {@code memory_translate_iotlb}: from a MAP event's entry to the RAM a device may pin. */
class IommuRamTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
    private final AddressSpace memory;

    IommuRamTest() {
        root.addSubregion(0x100000, ram);
        root.addSubregion(0x200000, new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(),
                "mmio", 0x1000));
        root.addSubregion(0x300000, RamRegion.allocate(sys, null, "short", 0x1800));
        memory = sys.addressSpace(root, "memory");
    }

    private IommuTlbEntry map(long translated, long mask, int perm) {
        return new IommuTlbEntry(memory, 0x5000, translated, mask, perm);
    }

    @Test
    void aMappingOfRamGivesTheRegionTheOffsetAndTheMemory() {
        ram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x3000, 0xC0FFEE);
        IommuRam r = IommuRam.of(map(0x103000, 0xFFF, IommuTlbEntry.RW));
        assertSame(ram, r.region());
        assertEquals(0x3000, r.offset());
        assertEquals(0x1000, r.length());
        assertTrue(r.writable());
        assertSame(ram.ramBlock(), r.block());
        assertEquals(0xC0FFEE, r.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0));
        r.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 4, 7);
        assertEquals(7, memory.ldlLe(0x103004));
        // the low bits of translatedAddr are ignored, as the page is named by its first byte
        assertEquals(0x3000, IommuRam.of(map(0x103ABC, 0xFFF, IommuTlbEntry.RO)).offset());
    }

    @Test
    void aReadOnlyMappingGivesReadOnlyMemory() {
        IommuRam r = IommuRam.of(map(0x104000, 0xFFF, IommuTlbEntry.RO));
        assertFalse(r.writable());
        assertTrue(r.segment().isReadOnly());
        assertThrows(IllegalArgumentException.class, () -> r.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
    }

    @Test
    void whatIsNotWholeRamIsRefused() {
        IommuException mmio = assertThrows(IommuException.class, () -> IommuRam.of(map(0x200000, 0xFFF, 3)));
        assertTrue(mmio.getMessage().contains("non memory area"), mmio.getMessage());
        assertThrows(IommuException.class, () -> IommuRam.of(map(0x900000, 0xFFF, 3)), "unassigned");
        IommuException partial = assertThrows(IommuException.class, () -> IommuRam.of(map(0x301000, 0xFFF, 3)));
        assertTrue(partial.getMessage().contains("granularity"), partial.getMessage());
        assertThrows(IommuException.class, () -> IommuRam.of(map(0x10F000, 0x1FFFF, 3)), "runs past the region");
        assertThrows(IommuException.class, () -> IommuRam.of(new IommuTlbEntry(null, 0, 0x100000, 0xFFF, 3)));
        assertThrows(IommuException.class, () -> IommuRam.of(map(0, -1L, 3)), "2^64 bytes");
    }

    @Test
    void discardedMemoryIsRefusedAndPluggedMemoryIsNot() {
        RamRegion vmem = RamRegion.allocate(sys, null, "vmem", 0x400000);
        BitmapRamDiscardManager manager = BitmapRamDiscardManager.attach(vmem, 0x200000);
        root.addSubregion(0x4000_0000L, vmem);
        IommuException e = assertThrows(IommuException.class,
                () -> IommuRam.of(map(0x4000_1000L, 0xFFF, IommuTlbEntry.RW)));
        assertTrue(e.getMessage().contains("discarded"), e.getMessage());
        manager.plug(0, 0x200000);
        assertEquals(0x1000, IommuRam.of(map(0x4000_1000L, 0xFFF, IommuTlbEntry.RW)).offset());
        assertThrows(IommuException.class, () -> IommuRam.of(map(0x4020_0000L, 0xFFF, IommuTlbEntry.RW)),
                "the second block is still unplugged");
    }

    /** {@code address_space_get_iotlb_entry}: what a vhost-style device's IOTLB miss gets. */
    @Test
    void iotlbEntriesGoThroughEveryIommuWithTheSmallestPage() {
        assertEquals("IommuTlbEntry[iova=0x103000 -> 0x103000 mask=0xfff perm=3 as=memory]",
                memory.iotlbEntry(0x103456, true, dev.guestmem.access.MemTxAttrs.UNSPECIFIED).toString(),
                "no IOMMU: the 4 KiB page of this space");
        assertEquals(null, memory.iotlbEntry(0x900000, false, dev.guestmem.access.MemTxAttrs.UNSPECIFIED).targetAs);
        // bus -> (2 MiB pages, read-only) -> mid -> (4 KiB pages) -> memory
        ContainerRegion midRoot = new ContainerRegion(sys, null, "mid-root", -1L);
        midRoot.addSubregion(0, new IommuRegion(sys, null, "small", 0x400000, (addr, flag, idx, out) -> {
            out.targetAs = memory;
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = 0x100000 + (addr & 0xF000);
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        }));
        AddressSpace mid = sys.addressSpace(midRoot, "mid");
        ContainerRegion busRoot = new ContainerRegion(sys, null, "bus2", -1L);
        busRoot.addSubregion(0x4000_0000L, new IommuRegion(sys, null, "big", 0x400000, (addr, flag, idx, out) -> {
            out.targetAs = mid;
            out.iova = addr & ~0x1FFFFFL;
            out.translatedAddr = 0x200000;
            out.addrMask = 0x1FFFFF;
            out.perm = IommuTlbEntry.RO;
        }));
        AddressSpace bus = sys.addressSpace(busRoot, "bus2");
        IommuTlbEntry e = bus.iotlbEntry(0x4000_5678L, false, dev.guestmem.access.MemTxAttrs.UNSPECIFIED);
        assertSame(memory, e.targetAs);
        assertEquals(0x4000_5000L, e.iova);
        assertEquals(0xFFF, e.addrMask, "the smaller of 2 MiB and 4 KiB");
        assertEquals(0x105000, e.translatedAddr, "bus 0x40005678 -> mid 0x205678 -> memory 0x105678");
        assertEquals(IommuTlbEntry.RW, e.perm);
        assertEquals(null, bus.iotlbEntry(0x4000_5678L, true, dev.guestmem.access.MemTxAttrs.UNSPECIFIED).targetAs,
                "the big IOMMU grants reads only");
    }

    @Test
    void anotherIommuBehindTheTargetIsFollowed() {
        ContainerRegion busRoot = new ContainerRegion(sys, null, "bus", -1L);
        busRoot.addSubregion(0, new IommuRegion(sys, null, "second", 0x10000, (addr, flag, idx, out) -> {
            out.targetAs = memory;
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = 0x100000 + (addr & ~0xFFFL);
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        }));
        AddressSpace bus = sys.addressSpace(busRoot, "bus");
        IommuRam r = IommuRam.of(new IommuTlbEntry(bus, 0, 0x2000, 0xFFF, IommuTlbEntry.RW));
        assertSame(ram, r.region());
        assertEquals(0x2000, r.offset());
    }

    /**
     * A MAP event that overlaps a notifier's range only in part reaches it cropped (iova moved,
     * addrMask + 1 the overlap's length, translatedAddr moved with iova). vfio resolves that entry
     * with memory_translate_iotlb (IommuRam.of), which took translatedAddr's bits under the mask as
     * noise: a crop at a start not aligned to its length resolved to the page's first byte instead
     * of the cropped iova's, and a crop whose length is not a power of two failed the granularity
     * check (plen & mask) although the target held all of it.
     */
    @Test
    void aMapEventCroppedToANotifierResolvesToTheRamOfItsIova() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, (addr, flag, idx, out) -> { });
        java.util.List<IommuRam> seen = new java.util.ArrayList<>();
        IommuNotifier.Callback resolve = (n, e) -> seen.add(IommuRam.of(e));
        iommu.notifiers().register(new IommuNotifier(resolve, IommuNotifier.MAP, 0x1000, 0x2FFF, 0));
        iommu.notifiers().register(new IommuNotifier(resolve, IommuNotifier.MAP, 0x5000, 0xFFFFF, 0));
        // iova [0, 0x7FFF] -> ram [0, 0x7FFF]: [0x1000, 0x2FFF] and [0x5000, 0x7FFF] reach the notifiers
        iommu.notifiers().notify(0, IommuNotifier.MAP, new IommuTlbEntry(memory, 0, 0x100000, 0x7FFF,
                IommuTlbEntry.RW));
        assertEquals(2, seen.size());
        IommuRam low = seen.stream().filter(r -> r.length() == 0x2000).findFirst().orElseThrow();
        IommuRam high = seen.stream().filter(r -> r.length() == 0x3000).findFirst().orElseThrow();
        assertEquals(0x1000, low.offset(), "iova 0x1000 maps ram offset 0x1000");
        assertEquals(0x5000, high.offset(), "iova 0x5000 maps ram offset 0x5000");
    }
}
