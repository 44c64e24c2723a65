package dev.guestmem.debug;

import dev.guestmem.share.QtestClient;
import java.util.ArrayList;
import java.util.List;

/**
 * PCI configuration space of a live QEMU through qtest, by the machine's {@link ConfigAccess}
 * (x86 port I/O, or a PCIe host's memory-mapped ECAM), and the registers of its devices that change
 * the memory map: BARs and expansion ROMs, command registers, bridge windows and bridge control.
 */
final class LivePci {
    private final ConfigAccess config;

    LivePci(ConfigAccess config) {
        this.config = config;
    }

    /** A function's address: bus, device, function. */
    record Bdf(int bus, int dev, int fn) {
        @Override
        public String toString() {
            return String.format("%02x:%02x.%x", bus, dev, fn);
        }
    }

    /** How a machine reaches configuration space: 1-, 2- or 4-byte accesses at a register offset. */
    interface ConfigAccess {
        long read(Bdf f, int reg, int size);

        void write(Bdf f, int reg, int size, long value);

        /**
         * @return whether configuration space is reached through the I/O ports 0xCF8-0xCFF, which
         *     then must stay uncovered by BARs and windows
         */
        boolean usesConfigPorts();
    }

    /** Mechanism #1 of x86: the dword's address at 0xCF8, the data at 0xCFC (plus the offset in the dword). */
    static ConfigAccess portIo(QtestClient qtest) {
        return new ConfigAccess() {
            @Override
            public long read(Bdf f, int reg, int size) {
                qtest.out(4, 0xCF8, address(f, reg));
                return qtest.in(size, 0xCFC + (reg & 3));
            }

            @Override
            public void write(Bdf f, int reg, int size, long value) {
                qtest.out(4, 0xCF8, address(f, reg));
                qtest.out(size, 0xCFC + (reg & 3), value);
            }

            @Override
            public boolean usesConfigPorts() {
                return true;
            }

            private static long address(Bdf f, int reg) {
                return (0x8000_0000L | f.bus() << 16 | f.dev() << 11 | f.fn() << 8 | reg & 0xFC) & 0xFFFF_FFFFL;
            }
        };
    }

    /**
     * PCIe's enhanced configuration access: each function's 4 KiB at {@code base + (bus << 20 |
     * dev << 15 | fn << 12)}, read and written as memory (sub-dword registers with byte and word
     * accesses, as a guest does).
     *
     * @param base the guest-physical address of bus 0's configuration space
     */
    static ConfigAccess ecam(QtestClient qtest, long base) {
        return new ConfigAccess() {
            @Override
            public long read(Bdf f, int reg, int size) {
                return qtest.read(size, address(f, reg));
            }

            @Override
            public void write(Bdf f, int reg, int size, long value) {
                qtest.write(size, address(f, reg), value);
            }

            @Override
            public boolean usesConfigPorts() {
                return false;
            }

            private long address(Bdf f, int reg) {
                return base + ((long) f.bus() << 20 | f.dev() << 15 | f.fn() << 12 | reg & 0xFFF);
            }
        };
    }

    long read(Bdf f, int reg, int size) {
        return config.read(f, reg, size);
    }

    void write(Bdf f, int reg, int size, long value) {
        config.write(f, reg, size, value);
    }

    /** @return whether the configuration ports must stay uncovered (see {@link ConfigAccess#usesConfigPorts}) */
    boolean usesConfigPorts() {
        return config.usesConfigPorts();
    }

    /**
     * One register write a step makes: what, where, which value (for the failure report). A null
     * {@code bdf} is a device register outside configuration space (the walk says which).
     */
    record Write(Bdf bdf, int reg, int size, long value, String what) {
        @Override
        public String toString() {
            return String.format("%s %s [0x%02x]/%d := 0x%x", bdf == null ? "mmio" : bdf, what, reg, size, value);
        }
    }

    /**
     * A memory or I/O BAR, or an expansion ROM (reg 0x30, or 0x38 on a bridge), found by sizing.
     *
     * @param size its size in bytes (a power of two)
     * @param io whether it decodes I/O ports
     * @param wide whether it is a 64-bit memory BAR (the next register holds the high half)
     * @param rom whether it is the expansion ROM (bit 0 enables it)
     */
    record Bar(Bdf bdf, int reg, long size, boolean io, boolean wide, boolean rom) {
    }

    /** The functions on {@code bus} (function 0 of each device, and the others of multi-function devices). */
    List<Bdf> functions(int bus) {
        List<Bdf> out = new ArrayList<>();
        for (int dev = 0; dev < 32; dev++) {
            for (int fn = 0; fn < 8; fn++) {
                Bdf f = new Bdf(bus, dev, fn);
                long id = read(f, 0, 4);
                if (id == 0xFFFF_FFFFL || id == 0) {
                    if (fn == 0) {
                        break;
                    }
                    continue;
                }
                out.add(f);
                if (fn == 0 && (read(f, 0x0E, 1) & 0x80) == 0) {
                    break; // single-function device
                }
            }
        }
        return out;
    }

    int vendorDevice(Bdf f) {
        return (int) read(f, 0, 4);
    }

    boolean isBridge(Bdf f) {
        return (read(f, 0x0E, 1) & 0x7F) == 1;
    }

    /**
     * Sizes the BARs and the ROM of a function (the standard all-ones probe, with decoding off
     * meanwhile, as firmware does) and leaves every one of them as it found it.
     */
    List<Bar> bars(Bdf f) {
        boolean bridge = isBridge(f);
        long command = read(f, 0x04, 2);
        write(f, 0x04, 2, command & ~3L);
        List<Bar> out = new ArrayList<>();
        int last = bridge ? 0x14 : 0x24;
        for (int reg = 0x10; reg <= last; reg += 4) {
            long old = read(f, reg, 4);
            write(f, reg, 4, 0xFFFF_FFFFL);
            long probe = read(f, reg, 4);
            write(f, reg, 4, old);
            if (probe == 0) {
                continue;
            }
            boolean io = (probe & 1) != 0;
            boolean wide = !io && (probe & 6) == 4;
            long mask = io ? probe & ~3L : probe & ~0xFL;
            if (wide) {
                long oldHigh = read(f, reg + 4, 4);
                write(f, reg + 4, 4, 0xFFFF_FFFFL);
                long high = read(f, reg + 4, 4);
                write(f, reg + 4, 4, oldHigh);
                mask |= high << 32;
            } else {
                mask |= io ? 0xFFFF_FFFF_FFFF_0000L : 0xFFFF_FFFF_0000_0000L;
            }
            out.add(new Bar(f, reg, -mask, io, wide, false));
            if (wide) {
                reg += 4;
            }
        }
        int romReg = bridge ? 0x38 : 0x30;
        long oldRom = read(f, romReg, 4);
        write(f, romReg, 4, 0xFFFF_F800L);
        long romProbe = read(f, romReg, 4) & 0xFFFF_F800L;
        write(f, romReg, 4, oldRom);
        if (romProbe != 0) {
            out.add(new Bar(f, romReg, -(romProbe | 0xFFFF_FFFF_0000_0000L), false, false, true));
        }
        write(f, 0x04, 2, command);
        return out;
    }
}
