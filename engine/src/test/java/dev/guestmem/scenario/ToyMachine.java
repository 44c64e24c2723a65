package dev.guestmem.scenario;

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
 * Program 1's machine, written from the guide only: 64 MiB RAM at 0, a byte-register UART at
 * 0x1000_0000, a 64 KiB boot ROM at 0xFFFF_0000 with an alias at 0 (over the RAM, priority 1).
 */
final class ToyMachine {
    static final long KIB = 1024, MIB = 1024 * KIB;
    static final long RAM_SIZE = 64 * MIB;
    static final long UART_BASE = 0x1000_0000L;
    static final long ROM_BASE = 0xFFFF_0000L;
    static final long ROM_SIZE = 64 * KIB;
    /** UART registers (16550-like, byte wide). */
    static final int UART_THR = 0, UART_LSR = 5;
    static final int LSR_THRE = 0x20;

    final MemorySystem sys;
    final ContainerRegion system;
    final RamRegion ram;
    final RamRegion rom;
    final AliasRegion romAlias;
    final IoRegion uart;
    final AddressSpace as;
    final StringBuilder uartOut = new StringBuilder();
    int lsrReads;
    /** Every second LSR read says "busy", so a driver really has to poll. */
    boolean busyToggle;

    ToyMachine(boolean tcg) {
        sys = new MemorySystem(tcg);
        system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        ram = RamRegion.allocate(sys, null, "ram", RAM_SIZE);
        system.addSubregion(0, ram);
        rom = RamRegion.allocateRom(sys, null, "bootrom", ROM_SIZE);
        system.addSubregion(ROM_BASE, rom);
        romAlias = new AliasRegion(sys, null, "bootrom-alias", rom, 0, ROM_SIZE);
        system.addSubregionOverlap(0, romAlias, 1);   // reset vector at 0 shows the ROM
        Object uartDevice = new Object();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    if (addr == UART_LSR) {
                        lsrReads++;
                        busyToggle = !busyToggle;
                        return busyToggle ? 0 : LSR_THRE;
                    }
                    return 0;
                })
                .write((addr, data, size) -> {
                    if (addr == UART_THR) {
                        uartOut.append((char) (data & 0xff));
                    }
                })
                .valid(1, 1, false)
                .endianness(Endianness.LITTLE)
                .build();
        uart = new IoRegion(sys, uartDevice, ops, "uart", 4 * KIB);
        system.addSubregion(UART_BASE, uart);
        as = sys.addressSpace(system, "memory");
    }

    void loadRom(int[] words, int offset) {
        byte[] b = ToyCpu.bytes(words);
        as.writeRom(ROM_BASE + offset, MemTxAttrs.UNSPECIFIED, b, 0, b.length);
    }

    void loadRomBytes(byte[] b, int offset) {
        as.writeRom(ROM_BASE + offset, MemTxAttrs.UNSPECIFIED, b, 0, b.length);
    }

    void loadRam(int[] words, long addr) {
        byte[] b = ToyCpu.bytes(words);
        as.write(addr, MemTxAttrs.UNSPECIFIED, b, 0, b.length);
    }

    /** The boot ROM: prints {@code msg} on the UART, polling LSR, then jumps to {@code entry} in RAM. */
    void installBootRom(String msg, long entry) {
        int strOff = 0x800;
        int[] code = {
            ToyCpu.li(1, 0), ToyCpu.lih(1, (int) (UART_BASE >>> 16)),  // r1 = UART
            ToyCpu.li(2, strOff), ToyCpu.lih(2, 0),                     // r2 = string (via the alias at 0)
            /* 4 loop: */ ToyCpu.ldb(3, 2, 0),
            /* 5 */ ToyCpu.bz(3, 7),                                     // -> 12 done
            /* 6 wait: */ ToyCpu.ldb(4, 1, UART_LSR),
            /* 7 */ ToyCpu.andi(4, LSR_THRE),
            /* 8 */ ToyCpu.bz(4, -2),                                    // -> 6 wait
            /* 9 */ ToyCpu.stb(3, 1, UART_THR),
            /* 10 */ ToyCpu.addi(2, 1),
            // fallthrough would be 11: jump back
            ToyCpu.br(-7),                                               // 11 -> 4
            /* 12 done: */ ToyCpu.li(5, (int) (entry & 0xffff)), ToyCpu.lih(5, (int) (entry >>> 16)),
            ToyCpu.jr(5),
        };
        // branch offsets count instructions from the branch itself
        loadRom(code, 0);
        byte[] s = (msg + "\0").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        loadRomBytes(s, strOff);
    }
}
