package dev.guestmem.scenario7;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;

/**
 * A small MMIO device (the legacy VGA window's registers in this board): 256 byte registers mirrored
 * over the region; reads have no side effects, so two machines in the same state read the same.
 */
final class RegisterFile {
    private final byte[] regs = new byte[256];
    private final IoRegion mmio;

    RegisterFile(MemorySystem sys, String name, long size) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size1) -> read(addr, size1))
                .write((addr, data, size1) -> write(addr, data, size1))
                .valid(1, 8, true)
                .endianness(Endianness.LITTLE)
                .build();
        this.mmio = new IoRegion(sys, this, ops, name, size);
    }

    IoRegion mmio() {
        return mmio;
    }

    private synchronized long read(long addr, int size) {
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (regs[(int) ((addr + i) & 0xff)] & 0xff);
        }
        return v;
    }

    private synchronized void write(long addr, long data, int size) {
        for (int i = 0; i < size; i++) {
            regs[(int) ((addr + i) & 0xff)] = (byte) (data >>> (8 * i));
        }
    }

    synchronized byte[] save() {
        return regs.clone();
    }

    synchronized void load(byte[] state) {
        System.arraycopy(state, 0, regs, 0, regs.length);
    }
}
