package dev.guestmem.scenario8;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * A machine laid out so that 64 KiB and 1 MiB copies cross every kind of boundary, with a model of
 * what each guest byte should read:
 * <pre>
 * 0x000000-0x0fffff  ram0 (anonymous)
 * 0x100000-0x1fffff  ram1 (memfd), adjacent to ram0
 * 0x200000-0x20ffff  dev: MMIO backed by a byte array, little-endian, any size, unaligned
 * 0x210000-...       unassigned
 * 0x10000000-0x1007ffff  window: alias of ram0 from 0x40000
 * 0x10080000-0x1008ffff  rom
 * </pre>
 */
final class BusMachine {
    static final long MIB = 1 << 20;
    static final long RAM1 = MIB;
    static final long DEV = 2 * MIB;
    static final int DEV_SIZE = 0x10000;
    static final long HOLE = DEV + DEV_SIZE;
    static final long WINDOW = 0x1000_0000L;
    static final long WINDOW_FROM = 0x40000;
    static final long WINDOW_SIZE = 0x80000;
    static final long ROM = WINDOW + WINDOW_SIZE;
    static final int ROM_SIZE = 0x10000;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram0 = RamRegion.allocate(sys, null, "ram0", MIB);
    final RamRegion ram1;
    final RamRegion rom = RamRegion.allocateRom(sys, null, "rom", ROM_SIZE);
    final byte[] devBytes = new byte[DEV_SIZE];
    int devCalls;
    final IoRegion dev;
    final AddressSpace as;

    BusMachine() {
        RamBlock mem1 = RamBlock.builder("ram1", MIB).memfd().build();
        ram1 = new RamRegion(sys, null, "ram1", mem1, false, false);
        mem1.close();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    devCalls++;
                    long v = 0;
                    for (int i = size - 1; i >= 0; i--) {
                        v = v << 8 | (devBytes[(int) addr + i] & 0xff);
                    }
                    return v;
                })
                .write((addr, data, size) -> {
                    devCalls++;
                    for (int i = 0; i < size; i++) {
                        devBytes[(int) addr + i] = (byte) (data >>> (8 * i));
                    }
                })
                .valid(1, 8, true)
                .impl(1, 8, true)
                .endianness(Endianness.LITTLE)
                .build();
        dev = new IoRegion(sys, new Object(), ops, "dev", DEV_SIZE);
        root.addSubregion(0, ram0);
        root.addSubregion(RAM1, ram1);
        root.addSubregion(DEV, dev);
        root.addSubregion(WINDOW, new AliasRegion(sys, null, "window", ram0, WINDOW_FROM, WINDOW_SIZE));
        root.addSubregion(ROM, rom);
        as = sys.addressSpace(root, "memory");
        Random r = new Random(7);
        byte[] fill = new byte[(int) MIB];
        r.nextBytes(fill);
        ram0.ramBlock().segment().copyFrom(java.lang.foreign.MemorySegment.ofArray(fill));
        r.nextBytes(fill);
        ram1.ramBlock().segment().copyFrom(java.lang.foreign.MemorySegment.ofArray(fill));
        r.nextBytes(devBytes);
        byte[] romImage = new byte[ROM_SIZE];
        r.nextBytes(romImage);
        rom.ramBlock().segment().copyFrom(java.lang.foreign.MemorySegment.ofArray(romImage));
    }

    /** @return what a read of the guest byte at {@code addr} gives, from the backing stores (0 for holes) */
    byte model(long addr) {
        if (Long.compareUnsigned(addr, RAM1) < 0) {
            return ram0.ramBlock().segment().get(ValueLayout.JAVA_BYTE, addr);
        } else if (Long.compareUnsigned(addr, DEV) < 0) {
            return ram1.ramBlock().segment().get(ValueLayout.JAVA_BYTE, addr - RAM1);
        } else if (Long.compareUnsigned(addr, HOLE) < 0) {
            return devBytes[(int) (addr - DEV)];
        } else if (Long.compareUnsigned(addr, WINDOW) >= 0 && Long.compareUnsigned(addr, ROM) < 0) {
            return ram0.ramBlock().segment().get(ValueLayout.JAVA_BYTE, addr - WINDOW + WINDOW_FROM);
        } else if (Long.compareUnsigned(addr, ROM) >= 0 && Long.compareUnsigned(addr, ROM + ROM_SIZE) < 0) {
            return rom.ramBlock().segment().get(ValueLayout.JAVA_BYTE, addr - ROM);
        }
        return 0;
    }

    /** @return the model's bytes for {@code [addr, addr + len)} */
    byte[] model(long addr, int len) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = model(addr + i);
        }
        return b;
    }
}
