package dev.guestmem.scenario4;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;
import dev.guestmem.region.RamRegion;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The machine around the device: two adjacent 1 MiB RAM regions, an MMIO scratch device (buffers
 * there bounce), an MSI sink at 0xfee00000 recording message data, and a PCI host bridge at I/O
 * ports 0xcf8/0xcfc that forwards config cycles to the function's config region with
 * {@code dispatchRead}/{@code dispatchWrite}. The test thread plays the guest driver.
 */
final class VirtioMachine {
    static final long MIB = 1 << 20;
    static final long RAM_HI = MIB;
    static final long SCRATCH = 0xd000_0000L;
    static final long MSI = 0xfee0_0000L;
    static final int DEVFN = 3 << 3;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ramLo = RamRegion.allocate(sys, null, "ram-lo", MIB);
    RamRegion ramHi = RamRegion.allocate(sys, null, "ram-hi", MIB);
    final byte[] scratch = new byte[0x1000];
    final List<Integer> msiData = new CopyOnWriteArrayList<>();
    final AddressSpace as;
    final AddressSpace io;
    final BlkBackend backend = new BlkBackend(sys, 64);
    VirtioPciBlk dev;
    private int cf8;

    VirtioMachine() {
        system.addSubregion(0, ramLo);
        system.addSubregion(RAM_HI, ramHi);
        system.addSubregion(SCRATCH, new IoRegion(sys, scratch, MemoryRegionOps.builder()
                .read((a, s) -> scratch[(int) a] & 0xff)
                .write((a, d, s) -> scratch[(int) a] = (byte) d)
                .impl(1, 1, false).build(), "scratch", scratch.length));
        system.addSubregion(MSI, new IoRegion(sys, msiData, MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, d, s) -> msiData.add((int) d))
                .valid(4, 4, false).endianness(Endianness.LITTLE).build(), "msi", 0x1000));
        as = sys.addressSpace(system, "memory");
        ContainerRegion ioRoot = new ContainerRegion(sys, null, "io", 0x10000);
        MmioValue fwd = new MmioValue();
        ioRoot.addSubregion(0xcf8, new IoRegion(sys, "i440fx", MemoryRegionOps.builder()
                .read((a, s) -> {
                    if (a == 0) {
                        return cf8;
                    }
                    int r = dev.config.dispatchRead(reg() + a - 4, s, false, MemTxAttrs.UNSPECIFIED, fwd);
                    return r == MemTxResult.OK ? fwd.value : -1L; // a master abort reads all ones
                })
                .write((a, d, s) -> {
                    if (a == 0) {
                        cf8 = (int) d;
                    } else {
                        dev.config.dispatchWrite(reg() + a - 4, d, s, false, MemTxAttrs.UNSPECIFIED);
                    }
                })
                .valid(1, 4, false).endianness(Endianness.LITTLE).build(), "pci-conf", 8));
        io = sys.addressSpace(ioRoot, "I/O");
    }

    /** The register the last 0xcf8 write selected (bus 0, {@link #DEVFN} only). */
    private long reg() {
        return cf8 & 0xfc;
    }

    /** Plugs the device with its DMA going to {@code dma}. */
    VirtioPciBlk plug(AddressSpace dma) {
        dev = new VirtioPciBlk(sys, system, dma, as, backend);
        return dev;
    }

    // ------------------------------------------------------------------ the guest's config cycles

    void configWritel(int reg, int v) {
        io.stlLe(0xcf8, 0x8000_0000 | DEVFN << 8 | reg);
        io.stlLe(0xcfc, v);
    }

    void configWritew(int reg, int v) {
        io.stlLe(0xcf8, 0x8000_0000 | DEVFN << 8 | reg);
        io.stwLe(0xcfc, v);
    }

    int configReadl(int reg) {
        io.stlLe(0xcf8, 0x8000_0000 | DEVFN << 8 | reg);
        return io.ldlLe(0xcfc);
    }

    /** The guest's PCI enumeration: size BAR0, place it, enable memory decode and bus mastering. */
    long enumerate(long barAddr) {
        configWritel(VirtioPciBlk.PCI_BAR0, -1);
        int sizeMask = configReadl(VirtioPciBlk.PCI_BAR0);
        configWritel(VirtioPciBlk.PCI_BAR0, (int) barAddr);
        configWritew(VirtioPciBlk.PCI_COMMAND, VirtioPciBlk.CMD_MEMORY | VirtioPciBlk.CMD_MASTER);
        return ~sizeMask + 1L & 0xffffffffL;
    }

    void close() throws InterruptedException {
        if (dev != null) {
            dev.close();
        }
    }
}
