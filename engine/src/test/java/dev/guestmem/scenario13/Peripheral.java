package dev.guestmem.scenario13;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;

/** A peripheral behind the PPC: sixteen 32-bit little-endian registers, 32-bit accesses only. */
final class Peripheral {
    static final int SIZE = 0x40;
    final int[] regs = new int[SIZE / 4];
    final IoRegion region;

    Peripheral(MemorySystem sys, String name) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> regs[(int) addr >>> 2] & 0xffffffffL)
                .write((addr, data, size) -> regs[(int) addr >>> 2] = (int) data)
                .valid(4, 4, false)
                .endianness(Endianness.LITTLE)
                .build();
        region = new IoRegion(sys, this, ops, name, SIZE);
    }
}
