package dev.guestmem.scenario6;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;

/**
 * A small PC-like machine: RAM split by the PCI hole into below-4G and above-4G aliases, a BIOS ROM
 * with its ISA alias over RAM, MMIO BARs, a sub-page MMIO register block, an mmap'd BAR (RAM
 * device), a VGA-like RAM, a DIMM for hotplug, a virtio-mem region and an alias whose offset is not
 * page-aligned.
 */
final class PcMachine {
    static final long KIB = 1024;
    static final long MIB = 1024 * KIB;
    static final long GIB = 1024 * MIB;
    static final long BELOW_4G = 24 * MIB;
    static final long DIMM_BASE = 0x1_8000_0000L;
    static final long VMEM_BASE = 0x2_0000_0000L;
    static final long VMEM_BLOCK = 2 * MIB;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", 32 * MIB);
    /** Below 4G in two aliases that meet: the flat view merges them into one range until one moves. */
    final AliasRegion below = new AliasRegion(sys, null, "ram-below-4g", ram, 0, BELOW_4G / 2);
    final AliasRegion below2 = new AliasRegion(sys, null, "ram-below-4g-2", ram, BELOW_4G / 2, BELOW_4G / 2);
    final AliasRegion above = new AliasRegion(sys, null, "ram-above-4g", ram, BELOW_4G, 32 * MIB - BELOW_4G);
    final RamRegion bios = RamRegion.allocateRom(sys, null, "pc.bios", 256 * KIB);
    final AliasRegion isaBios = new AliasRegion(sys, null, "isa-bios", bios, 128 * KIB, 128 * KIB);
    final IoRegion[] bars = {
        mmio("bar0", 0x1000), mmio("bar1", 0x4000), mmio("bar2", 0x10000),
    };
    final IoRegion subpage = mmio("regs", 0x100);
    final RamRegion ramDevice;
    final RamRegion vram = RamRegion.allocate(sys, null, "vga.vram", MIB);
    final RamRegion dimm = RamRegion.allocate(sys, null, "dimm0", 4 * MIB);
    /** A twin of {@link #dimm}: swapped in at the same address, the ranges differ only in region. */
    final RamRegion dimmTwin = RamRegion.allocate(sys, null, "dimm1", 4 * MIB);
    final RamRegion vmem = RamRegion.allocate(sys, null, "vmem0", 16 * MIB);
    final BitmapRamDiscardManager vmemManager;
    /** A resizeable RAM (an option ROM or ACPI blob QEMU resizes on incoming migration). */
    final RamRegion blob = new RamRegion(sys, null, "etc-blob",
            RamBlock.builder("etc-blob", 64 * KIB).resizeable(MIB, (id, size, host) -> { }).build(), false, false);
    final AliasRegion oddAlias = new AliasRegion(sys, null, "odd-alias", ram, 0x800, 0x3000);
    final AddressSpace as;
    /** A vCPU's space over the same root: it shares the view, and vfio must hear each change once. */
    final AddressSpace cpuAs;

    PcMachine() {
        RamBlock devBlock = RamBlock.builder("vfio-bar", 0x2000)
                .ramDevice(Arena.ofAuto().allocate(0x2000, 4096)).build();
        ramDevice = new RamRegion(sys, null, "vfio-bar", devBlock, false, true);
        vmemManager = BitmapRamDiscardManager.attach(vmem, VMEM_BLOCK);
        system.addSubregion(0, below);
        system.addSubregion(BELOW_4G / 2, below2);
        system.addSubregion(4 * GIB, above);
        system.addSubregion(0xfffc0000L, bios);
        system.addSubregionOverlap(0xe0000, isaBios, 1);
        system.addSubregionOverlap(0x1000000, bars[0], 1);
        system.addSubregionOverlap(0x2000000, bars[1], 1);
        system.addSubregionOverlap(0x3000000, bars[2], 1);
        system.addSubregionOverlap(0x10080, subpage, 2);
        system.addSubregionOverlap(0x1100000, ramDevice, 1);
        system.addSubregion(0x8000_0000L, vram);
        system.addSubregion(VMEM_BASE, vmem);
        system.addSubregion(0x9000_0000L, oddAlias);
        system.addSubregion(0xa000_0000L, blob);
        as = sys.addressSpace(system, "memory");
        cpuAs = sys.addressSpace(system, "cpu-memory-0");
    }

    private IoRegion mmio(String name, long size) {
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, d, s) -> { }).build();
        return new IoRegion(sys, name, ops, name, size);
    }
}
