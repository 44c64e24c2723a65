package dev.guestmem.scenario13;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;

/**
 * QEMU's {@code -machine q35 -m 128M} memory map as {@code x86_64-q35-128m.mtree.txt} shows it
 * (RAM, the PCI space at priority -1 with the BIOS and option ROM, the PAM windows onto PCI, the
 * interrupt controllers), with the host bridge's SMRAM logic ({@link Q35Mch}), the per-CPU SMM space
 * "cpu-smm-0" (a root "memory" holding the "smram" container at priority 1 over an alias of the
 * system memory, as {@code tcg_cpu_realizefn} builds it), and in the I/O space the PCI configuration
 * ports (0xcf8/0xcfc) and the APM control port (0xb2) whose write raises an SMI.
 *
 * <p>Optionally a VGA's legacy window ("vga-lowmem", an I/O region in the PCI space at 0xa0000,
 * priority 1, as QEMU's VGA maps it); the captured machine has none.
 */
final class Q35Machine implements AutoCloseable {
    static final long RAM_SIZE = 128L << 20;
    static final long BELOW_4G = RAM_SIZE;
    static final long VGA_VALUE = 0x5a5a5a5aL;
    static final MemTxAttrs NORMAL = MemTxAttrs.NONE;
    /** {@code x86_get_mem_attrs}: SMM is the secure bit. */
    static final MemTxAttrs SMM = new MemTxAttrs(false, true, false, false, false, 0);

    final MemorySystem sys = new MemorySystem();
    final RamRegion pcRam = RamRegion.allocate(sys, null, "pc.ram", RAM_SIZE);
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final ContainerRegion pci = new ContainerRegion(sys, null, "pci", MemoryRegion.SIZE_2_64);
    final Q35Mch mch;
    final ContainerRegion smmRoot = new ContainerRegion(sys, null, "memory", MemoryRegion.SIZE_2_64);
    final IoRegion io;
    final AddressSpace ioSpace;
    final AddressSpace cpuMemory;
    final AddressSpace memory;
    final AddressSpace cpuSmm;
    final int[] vgaWrites = new int[1];
    private int configAddress;
    private Runnable smi = () -> { };

    Q35Machine(boolean withVga) {
        system.addSubregion(0, new AliasRegion(sys, null, "ram-below-4g", pcRam, 0, BELOW_4G));
        system.addSubregionOverlap(0, pci, -1);
        RamRegion pcRom = RamRegion.allocateRom(sys, null, "pc.rom", 0x20000);
        pci.addSubregionOverlap(0xc0000, pcRom, 1);
        RamRegion pcBios = RamRegion.allocateRom(sys, null, "pc.bios", 0x40000);
        AliasRegion isaBios = new AliasRegion(sys, null, "isa-bios", pcBios, 0x20000, 0x20000);
        isaBios.setReadonly(true);
        pci.addSubregionOverlap(0xe0000, isaBios, 1);
        pci.addSubregion(0xfffc0000L, pcBios);
        mch = new Q35Mch(sys, system, pci, pcRam, BELOW_4G);
        for (long a = 0xc0000; a < 0xf0000; a += 0x4000) { // PAM segments, all "PCI" at reset
            system.addSubregionOverlap(a, new AliasRegion(sys, mch, "pam-pci", pci, a, 0x4000), 1);
        }
        system.addSubregionOverlap(0xf0000, new AliasRegion(sys, mch, "pam-pci", pci, 0xf0000, 0x10000), 1);
        system.addSubregion(0xfec00000L, device("ioapic", 0x1000));
        system.addSubregion(0xfed00000L, device("hpet", 0x400));
        system.addSubregionOverlap(0xfee00000L, device("apic-msi", 0x100000), 4096);
        if (withVga) {
            MemoryRegionOps vga = MemoryRegionOps.builder()
                    .read((addr, size) -> VGA_VALUE & ((1L << size * 8) - 1))
                    .write((addr, data, size) -> vgaWrites[0]++)
                    .valid(1, 4, false)
                    .endianness(Endianness.LITTLE)
                    .build();
            pci.addSubregionOverlap(0xa0000, new IoRegion(sys, new Object(), vga, "vga-lowmem", 0x20000), 1);
        }

        smmRoot.addSubregionOverlap(0, new AliasRegion(sys, null, "smram", mch.smram, 0, 1L << 32), 1);
        smmRoot.addSubregionOverlap(0, new AliasRegion(sys, null, "memory", system, 0, MemoryRegion.SIZE_2_64), 0);

        io = new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((addr, size) -> -1L) // unassigned_io_ops
                .write((addr, data, size) -> { })
                .build(), "io", 0x10000);
        io.addSubregion(0xb2, new IoRegion(sys, this, MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> {
                    if (addr == 0) {
                        smi.run(); // APMC write: ich9_apm_ctrl_changed raises the SMI
                    }
                })
                .valid(1, 1, false)
                .build(), "apm-io", 2));
        io.addSubregion(0xcf8, new IoRegion(sys, this, MemoryRegionOps.builder()
                .read((addr, size) -> configAddress & 0xffffffffL)
                .write((addr, data, size) -> {
                    if (addr == 0 && size == 4) {
                        configAddress = (int) data; // pci_host_config_write: 32-bit only
                    }
                })
                .endianness(Endianness.LITTLE)
                .build(), "pci-conf-idx", 4));
        io.addSubregion(0xcfc, new IoRegion(sys, this, MemoryRegionOps.builder()
                .read((addr, size) -> configData(addr, size, 0, false))
                .write((addr, data, size) -> configData(addr, size, data, true))
                .endianness(Endianness.LITTLE)
                .build(), "pci-conf-data", 4));

        ioSpace = sys.addressSpace(io, "I/O");
        cpuMemory = sys.addressSpace(system, "cpu-memory-0");
        memory = sys.addressSpace(system, "memory");
        cpuSmm = sys.addressSpace(smmRoot, "cpu-smm-0");
    }

    private IoRegion device(String name, long size) {
        return new IoRegion(sys, new Object(), MemoryRegionOps.builder()
                .read((addr, s) -> 0)
                .write((addr, data, s) -> { })
                .build(), name, size);
    }

    /** {@code pci_data_read/write}: only the host bridge (bus 0, device 0, function 0) answers. */
    private long configData(long addr, int size, long data, boolean write) {
        boolean enabled = configAddress < 0;
        boolean bridge = (configAddress & 0x00ffff00) == 0;
        int reg = (configAddress & 0xfc) | (int) (addr & 3);
        if (!enabled || !bridge) {
            return (1L << size * 8) - 1;
        }
        if (write) {
            mch.writeConfig(reg, data, size);
            return 0;
        }
        return mch.readConfig(reg, size);
    }

    void onSmi(Runnable r) {
        smi = r;
    }

    /** What firmware does: {@code outl(0xcf8, 0x80000000 | reg & ~3); outb(0xcfc + (reg & 3), v)}. */
    int outConfigByte(int reg, int value) {
        ioSpace.stlLe(0xcf8, 0x8000_0000 | reg & 0xfc);
        return ioSpace.stb(0xcfc + (reg & 3), value);
    }

    int inConfigByte(int reg) {
        ioSpace.stlLe(0xcf8, 0x8000_0000 | reg & 0xfc);
        return ioSpace.ldub(0xcfc + (reg & 3));
    }

    @Override
    public void close() {
        sys.close();
    }
}
