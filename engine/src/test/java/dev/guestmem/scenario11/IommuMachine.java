package dev.guestmem.scenario11;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;

/**
 * The machine: 16 MiB of RAM at 0 holding the IOMMU's tables (first MiB) and the pages the guest
 * hands to devices; a peer device's BAR (MMIO backed by an array, a peer-to-peer DMA target) at
 * {@link #BAR}; and the PCI bus's DMA space, all of it behind one {@link PasidIommu}.
 */
final class IommuMachine {
    static final long MIB = 1 << 20;
    static final long RAM_SIZE = 16 * MIB;
    static final long DIR = 0x1000;
    static final long TABLES = 0x2000;
    static final long TABLES_END = MIB;
    static final long DATA = MIB;
    /** The last 64 KiB of RAM: pages for a test's own mappings, never in the driver's pool. */
    static final long RESERVED_RAM = RAM_SIZE - 0x10000;
    static final long BAR = 0x8000_0000L;
    static final int BAR_SIZE = 0x10000;

    final MemorySystem sys = new MemorySystem();
    final RamRegion ram;
    final AddressSpace memory;
    final PasidIommu iommu;
    final IommuRegion iommuRegion;
    final AddressSpace dma;
    /** The peer BAR's memory; guarded by itself. */
    final byte[] bar = new byte[BAR_SIZE];

    IommuMachine() {
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        ram = RamRegion.allocate(sys, null, "ram", RAM_SIZE);
        system.addSubregion(0, ram);
        system.addSubregion(BAR, new IoRegion(sys, this, MemoryRegionOps.builder()
                .read((addr, size) -> barRead(addr, size))
                .write((addr, data, size) -> barWrite(addr, data, size))
                .valid(1, 8, false)
                .impl(1, 8, false)
                .build(), "peer-bar", BAR_SIZE));
        memory = sys.addressSpace(system, "memory");
        iommu = new PasidIommu(memory, DIR);
        iommuRegion = new IommuRegion(sys, this, "viommu", MemoryRegion.SIZE_2_64, iommu);
        iommu.region = iommuRegion;
        ContainerRegion pci = new ContainerRegion(sys, null, "pci", MemoryRegion.SIZE_2_64);
        pci.addSubregion(0, iommuRegion);
        dma = sys.addressSpace(pci, "pci-dma");
    }

    private long barRead(long addr, int size) {
        synchronized (bar) {
            long v = 0;
            for (int i = size - 1; i >= 0; i--) {
                v = v << 8 | (bar[(int) addr + i] & 0xff);
            }
            return v;
        }
    }

    private void barWrite(long addr, long data, int size) {
        synchronized (bar) {
            for (int i = 0; i < size; i++) {
                bar[(int) addr + i] = (byte) (data >>> (8 * i));
            }
        }
    }

    long barLong(int off) {
        return barRead(off, 8);
    }
}
