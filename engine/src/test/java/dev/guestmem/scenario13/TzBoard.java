package dev.guestmem.scenario13;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;

/**
 * An Arm TrustZone board in the spirit of QEMU's mps2-an505: non-secure RAM at 0, an SRAM behind a
 * {@link TzMpc} (its registers in the secure-only peripheral range), two peripherals behind a
 * {@link TzPpc}, and a secure-only RAM that exists only in the secure CPU's view.
 *
 * <p>The CPU has QEMU's two address spaces ({@code cpu_asidx_from_attrs}: the access's
 * {@code secure} bit picks one): "cpu-memory" over the system tree, and "cpu-secure-memory" over a
 * root that holds the system tree (an alias at priority 0) and the secure-only RAM. A DMA master
 * ({@link TzDma}) has its own space over the system tree and tags each transfer with its world.
 */
final class TzBoard implements AutoCloseable {
    static final long NS_RAM = 0x0000_0000L;
    static final long NS_RAM_SIZE = 1L << 20;
    static final long SSRAM = 0x2800_0000L;
    static final long SSRAM_SIZE = 256L << 10;
    static final long BLOCK = 4096;
    static final long SECURE_RAM = 0x3000_0000L;
    static final long SECURE_RAM_SIZE = 64L << 10;
    static final long PPC_TIMER = 0x4000_0000L;
    static final long PPC_UART = 0x4000_1000L;
    static final long MPC_REGS = 0x5800_7000L;

    static final MemTxAttrs SECURE = new MemTxAttrs(false, true, false, false, false, 0);
    static final MemTxAttrs NON_SECURE = MemTxAttrs.NONE;
    static final MemTxAttrs NON_SECURE_USER = new MemTxAttrs(false, false, true, false, false, 0);

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion nsRam = RamRegion.allocate(sys, null, "ns-ram", NS_RAM_SIZE);
    final RamRegion ssram = RamRegion.allocate(sys, null, "ssram", SSRAM_SIZE);
    final RamRegion secureRam = RamRegion.allocate(sys, null, "secure-ram", SECURE_RAM_SIZE);
    final ContainerRegion secureRoot = new ContainerRegion(sys, null, "secure-root", MemoryRegion.SIZE_2_64);
    final TzMpc mpc;
    final Peripheral timer = new Peripheral(sys, "timer");
    final Peripheral uart = new Peripheral(sys, "uart");
    final TzPpc ppc;
    final AddressSpace nsSpace;
    final AddressSpace sSpace;
    final AddressSpace dmaSpace;

    TzBoard() {
        system.addSubregion(NS_RAM, nsRam);
        mpc = new TzMpc(sys, "tz-mpc-ssram", ssram, BLOCK);
        system.addSubregion(SSRAM, mpc.upstream());
        system.addSubregion(MPC_REGS, mpc.regs());
        ppc = new TzPpc(sys, "tz-ppc", timer.region, uart.region);
        ppc.setNonSecure(1, true); // the UART is the non-secure world's; the timer stays secure
        system.addSubregion(PPC_TIMER, ppc.port(0));
        system.addSubregion(PPC_UART, ppc.port(1));
        secureRoot.addSubregionOverlap(0, new AliasRegion(sys, null, "secure-system", system, 0,
                MemoryRegion.SIZE_2_64), 0);
        secureRoot.addSubregionOverlap(SECURE_RAM, secureRam, 1);
        nsSpace = sys.addressSpace(system, "cpu-memory");
        sSpace = sys.addressSpace(secureRoot, "cpu-secure-memory");
        dmaSpace = sys.addressSpace(system, "dma");
    }

    /** {@code cpu_asidx_from_attrs}: the secure bit picks the CPU's space. */
    AddressSpace cpuSpace(MemTxAttrs attrs) {
        return attrs.secure() ? sSpace : nsSpace;
    }

    /** A secure-world register write, as the secure firmware does it. */
    int secureWrite(long addr, int value) {
        return sSpace.stlLe(addr, value, SECURE);
    }

    /** Programs one LUT word through BLK_IDX and BLK_LUT, as the secure firmware does. */
    void setLutWord(int index, int word) {
        secureWrite(MPC_REGS + TzMpc.BLK_IDX, index);
        secureWrite(MPC_REGS + TzMpc.BLK_LUT, word);
    }

    @Override
    public void close() {
        sys.close();
    }
}
