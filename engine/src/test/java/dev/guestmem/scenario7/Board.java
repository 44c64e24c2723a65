package dev.guestmem.scenario7;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionTeardown;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A PC-like board, laid out as QEMU's {@code pc} machine does: one RAM block aliased below the PCI
 * hole and above 4 GiB; a PCI space at priority -1 under the system space holding the option ROM, the
 * legacy VGA registers, the BIOS flash (a ROM device) at the top of 4 GiB and its last 128 KiB again as
 * the read-only {@code isa-bios} alias at 0xe0000; PAM shadowing of 0xc0000-0xfffff; SMRAM (the RAM
 * under the VGA window) in a second, SMM address space only, unless the chipset opens it. The same
 * code builds the source and the destination of a migration, so blocks pair up by name.
 */
final class Board {
    static final long KIB = 1024;
    static final long MIB = 1024 * KIB;
    static final long RAM_SIZE = 4 * MIB;
    static final long BELOW_4G = 3 * MIB;
    static final long ABOVE_4G_BASE = 0x1_0000_0000L;
    static final long VGA_BASE = 0xa0000;
    static final long VGA_SIZE = 128 * KIB;
    static final long OPTION_ROM_BASE = 0xc0000;
    static final long OPTION_ROM_SIZE = 128 * KIB;
    static final long ISA_BIOS_BASE = 0xe0000;
    static final long ISA_BIOS_SIZE = 128 * KIB;
    static final long FLASH_SIZE = 256 * KIB;
    static final long FLASH_BASE = 0x1_0000_0000L - FLASH_SIZE;
    static final long CHIPSET_BASE = 0xfec00000L;

    final MemorySystem sys;
    final ContainerRegion system;
    final ContainerRegion pci;
    final RamRegion ram;
    final RamRegion optionRom;
    final CfiFlash flash;
    final RegisterFile vga;
    final Pam pam;
    final Chipset chipset;
    final AddressSpace memory;
    final AddressSpace smm;
    private final List<AddressSpace> spaces = new ArrayList<>();
    private final List<MemoryRegion> regions = new ArrayList<>();

    /**
     * @param flashReportsWrites whether the flash model reports its program/erase writes
     *        ({@code flushRomDevice})
     */
    Board(boolean flashReportsWrites) {
        sys = new MemorySystem(true); // a translator runs: the CODE client is on
        system = keep(new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64));
        pci = keep(new ContainerRegion(sys, null, "pci", MemoryRegion.SIZE_2_64));
        ram = keep(RamRegion.allocate(sys, null, "pc.ram", RAM_SIZE));
        system.addSubregion(0, keep(new AliasRegion(sys, null, "ram-below-4g", ram, 0, BELOW_4G)));
        system.addSubregion(ABOVE_4G_BASE,
                keep(new AliasRegion(sys, null, "ram-above-4g", ram, BELOW_4G, RAM_SIZE - BELOW_4G)));
        system.addSubregionOverlap(0, pci, -1);

        optionRom = keep(RamRegion.allocateRom(sys, null, "pc.rom", OPTION_ROM_SIZE));
        pci.addSubregionOverlap(OPTION_ROM_BASE, optionRom, 1);
        vga = new RegisterFile(sys, "vga-lowmem", VGA_SIZE);
        pci.addSubregionOverlap(VGA_BASE, keep(vga.mmio()), 1);
        flash = new CfiFlash(sys, "system.flash0", FLASH_SIZE, flashReportsWrites);
        pci.addSubregion(FLASH_BASE, keep(flash.region()));
        AliasRegion isaBios = keep(new AliasRegion(sys, null, "isa-bios", flash.region(),
                FLASH_SIZE - ISA_BIOS_SIZE, ISA_BIOS_SIZE));
        isaBios.setReadonly(true);
        pci.addSubregionOverlap(ISA_BIOS_BASE, isaBios, 1);

        // while SMRAM is closed, the VGA window shows the PCI space, not the RAM below it
        AliasRegion smramRegion = keep(new AliasRegion(sys, null, "smram-region", pci, VGA_BASE, VGA_SIZE));
        system.addSubregionOverlap(VGA_BASE, smramRegion, 1);
        ContainerRegion smmRoot = keep(new ContainerRegion(sys, null, "mem-container-smram", MemoryRegion.SIZE_2_64));
        smmRoot.addSubregionOverlap(0, keep(new AliasRegion(sys, null, "mem-smram", system, 0, MemoryRegion.SIZE_2_64)), 0);
        ContainerRegion smram = keep(new ContainerRegion(sys, null, "smram", 0x1_0000_0000L));
        smram.addSubregion(VGA_BASE, keep(new AliasRegion(sys, null, "smram-low", ram, VGA_BASE, VGA_SIZE)));
        smmRoot.addSubregionOverlap(0, smram, 10);

        AddressSpace romReads = space(pci, "pam-rom-reads");
        AddressSpace ramWrites = space(ram, "pam-ram-writes");
        Object host = new Object();
        pam = new Pam(sys, host, system, pci, ram, romReads, ramWrites);
        regions.addAll(pam.regions());
        chipset = new Chipset(sys, pam, smramRegion);
        pci.addSubregion(CHIPSET_BASE, keep(chipset.mmio()));
        memory = space(system, "memory");
        smm = space(smmRoot, "cpu-smm");
    }

    private <R extends MemoryRegion> R keep(R r) {
        regions.add(r);
        return r;
    }

    private AddressSpace space(MemoryRegion root, String name) {
        AddressSpace as = sys.addressSpace(root, name);
        spaces.add(as);
        return as;
    }

    /** Firmware images: recognisable bytes in the flash and the option ROM, and in RAM. */
    void load(long seed) {
        fill(flash.region().ramBlock().segment(), seed);
        fill(optionRom.ramBlock().segment(), seed * 7);
        fill(ram.ramBlock().segment(), seed * 13);
    }

    private static void fill(MemorySegment s, long seed) {
        for (long off = 0; off < s.byteSize(); off += 8) {
            s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, seed * 0x9e3779b97f4a7c15L + off);
        }
    }

    /** The block of a name (a migration's destination lookup: QEMU's {@code qemu_ram_block_by_name}). */
    RamBlock blockOf(String idstr) {
        RamBlock b = sys.ramList().blockByName(idstr);
        if (b == null) {
            throw new IllegalArgumentException("no block " + idstr);
        }
        return b;
    }

    /** What the migration stream carries besides RAM: chipset, flash and VGA register state. */
    record DeviceState(int[] chipset, CfiFlash.Mode flash, byte[] vga) {
    }

    DeviceState save() {
        return new DeviceState(chipset.save(), flash.save(), vga.save());
    }

    void load(DeviceState s) {
        chipset.load(s.chipset());
        flash.load(s.flash());
        vga.load(s.vga());
    }

    void destroy() {
        RegionTeardown.destroy(sys, List.copyOf(spaces).reversed(), regions);
    }
}
