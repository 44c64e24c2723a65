package dev.guestmem.scenario12;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.nio.ByteOrder;

/**
 * A big-endian board (a PowerPC SoC in spirit) on a little-endian host: a {@code MemorySystem}
 * created for a big-endian target, RAM at 0, four register devices of each byte order whose
 * {@code impl} sizes force QEMU's splitting and widening, a big-endian DMA engine with an ioeventfd
 * doorbell, a little-endian PCI memory space (a NIC's registers and a frame-buffer BAR) seen both
 * through a byte-swapping host-bridge window and through a plain alias, and a 16-bit big-endian
 * flash at the top of the 32-bit space.
 */
final class BeBoard implements AutoCloseable {
    static final long RAM_SIZE = 16L << 20;
    static final long BE_REGS = 0xf000_0000L;
    static final long LE_REGS = 0xf000_1000L;
    static final long NATIVE_REGS = 0xf000_2000L;
    static final long LE_BYTES = 0xf000_3000L;
    static final long DMA = 0xf000_4000L;
    static final int REGS_SIZE = 0x100;
    static final long PCI_SWAPPED = 0x8000_0000L;
    static final long PCI_DIRECT = 0x9000_0000L;
    static final long PCI_SIZE = 0x1000_0000L;
    static final long NIC = 0x0;
    static final long VRAM = 0x10_0000L;
    static final long VRAM_SIZE = 64 << 10;
    static final long FLASH_SIZE = 256 << 10;
    static final long FLASH = 0x1_0000_0000L - FLASH_SIZE;

    final MemorySystem sys = new MemorySystem(false, ByteOrder.BIG_ENDIAN);
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ppc.ram", RAM_SIZE);
    /** Big-endian registers, 16-bit wide: an 8-byte access is four calls, a byte one 2-byte call. */
    final RegisterBytes beRegs = new RegisterBytes(REGS_SIZE, ByteOrder.BIG_ENDIAN);
    /** Little-endian registers, 32-bit only: an 8-byte access is two calls, a byte one 4-byte call. */
    final RegisterBytes leRegs = new RegisterBytes(REGS_SIZE, ByteOrder.LITTLE_ENDIAN);
    /** NATIVE registers, 32/64-bit: big-endian on this board, as the model itself assumes. */
    final RegisterBytes nativeRegs = new RegisterBytes(REGS_SIZE, ByteOrder.BIG_ENDIAN);
    /** Little-endian registers, 8-bit only: an 8-byte access is eight calls. */
    final RegisterBytes leBytes = new RegisterBytes(REGS_SIZE, ByteOrder.LITTLE_ENDIAN);
    final ContainerRegion pciMem = new ContainerRegion(sys, null, "pci-mem", PCI_SIZE);
    /** A little-endian PCI device's BAR 0: 32-bit registers (impl 4), any valid size. */
    final RegisterBytes nic = new RegisterBytes(0x1000, ByteOrder.LITTLE_ENDIAN);
    final RamRegion vram = RamRegion.allocate(sys, null, "pci-vram", VRAM_SIZE);
    final AddressSpace pciSpace;
    final SwappingHostBridge bridge;
    final AliasRegion pciDirect;
    final BeDmaEngine dma;
    final BeFlash flash;
    final AddressSpace memory;

    BeBoard() {
        system.addSubregion(0, ram);
        system.addSubregion(BE_REGS, new IoRegion(sys, beRegs, beRegs.ops(Endianness.BIG, 1, 8, 2, 2), "be-regs", REGS_SIZE));
        system.addSubregion(LE_REGS, new IoRegion(sys, leRegs, leRegs.ops(Endianness.LITTLE, 1, 8, 4, 4), "le-regs", REGS_SIZE));
        system.addSubregion(NATIVE_REGS,
                new IoRegion(sys, nativeRegs, nativeRegs.ops(Endianness.NATIVE, 1, 8, 4, 8), "native-regs", REGS_SIZE));
        system.addSubregion(LE_BYTES, new IoRegion(sys, leBytes, leBytes.ops(Endianness.LITTLE, 1, 8, 1, 1), "le-bytes", REGS_SIZE));

        pciMem.addSubregion(NIC, new IoRegion(sys, nic, nic.ops(Endianness.LITTLE, 1, 8, 4, 4), "pci-nic", 0x1000));
        pciMem.addSubregion(VRAM, vram);
        pciSpace = sys.addressSpace(pciMem, "pci-memory");
        bridge = new SwappingHostBridge(sys, pciSpace, "pci-swap-window", PCI_SIZE);
        system.addSubregion(PCI_SWAPPED, bridge.window());
        pciDirect = new AliasRegion(sys, null, "pci-direct", pciMem, 0, PCI_SIZE);
        system.addSubregion(PCI_DIRECT, pciDirect);

        flash = new BeFlash(sys, "ppc.flash", FLASH_SIZE);
        system.addSubregion(FLASH, flash.region());
        memory = sys.addressSpace(system, "memory");
        dma = new BeDmaEngine(sys, memory);
        system.addSubregion(DMA, dma.regs());
    }

    @Override
    public void close() {
        sys.close();
    }
}
