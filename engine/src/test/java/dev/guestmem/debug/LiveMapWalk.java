package dev.guestmem.debug;

import dev.guestmem.debug.LivePci.Bar;
import dev.guestmem.debug.LivePci.Bdf;
import dev.guestmem.debug.LivePci.Write;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * A random walk over the registers of a live machine that move its memory map, the way
 * firmware and a guest OS program them: BARs and expansion ROMs (often overlapping each other, RAM,
 * the legacy VGA and PAM window, and at 64-bit addresses up to the top of the address space),
 * command registers (memory, I/O, bus master), bridge windows and bridge control (VGA), and on x86
 * the chipset's PAM, SMRAM/TSEG, PCIEXBAR, RCBA and power-management bases (q35's MCH and ICH9, the
 * i440FX and PIIX4). Functions are found by probing the buses, not named.
 *
 * <p>Behind a gpex host ({@link LiveGpex}: Arm's and RISC-V's {@code virt}) PCI addresses show only
 * through the host's windows, so half of the memory BARs and bridge windows go inside or across a
 * window's edges (where the alias clips them) and the rest anywhere, as on x86; I/O BARs go inside
 * the I/O window, at its end, or anywhere in the 32-bit I/O space beyond it.
 *
 * <p>Two rules keep the walk able to talk to an x86 QEMU: nothing is mapped over the configuration
 * ports 0xCF8-0xCFF (an I/O BAR, bridge I/O window or PM base there would cut the test off), and
 * SMRAM is never locked (D_LCK), so the SMRAM registers stay writable. A gpex machine's ECAM is
 * outside every window, out of reach of the walk.
 */
final class LiveMapWalk {
    private static final int Q35_MCH = 0x29C0_8086;
    private static final int ICH9_LPC = 0x2918_8086;
    private static final int I440FX = 0x1237_8086;
    private static final int PIIX4_PM = 0x7113_8086;
    private static final long CONFIG_PORTS = 0xCF8;

    private final LivePci pci;
    /** The host's windows, or null on x86 (PCI memory shows wherever nothing above it does). */
    private final LiveGpex gpex;
    /** Device registers outside configuration space the walk also turns (VT-d, VGA). */
    private final List<LiveKnob> knobs;
    private final SplittableRandom random;
    private final List<Bdf> functions = new ArrayList<>();
    private final List<Bdf> bridges = new ArrayList<>();
    private final List<Bar> bars = new ArrayList<>();
    private final List<Bdf> mch = new ArrayList<>();
    private final List<Bdf> lpc = new ArrayList<>();
    private final List<Bdf> i440fx = new ArrayList<>();
    private final List<Bdf> piix4pm = new ArrayList<>();

    /**
     * What one step wrote, which regions it re-added in place, and where it mapped several at once,
     * oldest first (see {@link LiveSiblingAges}).
     */
    record Step(List<Write> writes, List<String> reAdded, List<Long> mappedAt) {
    }

    /**
     * Numbers the buses behind bridges (bus 1, 2... depth first, as firmware does), then finds
     * every function, BAR and chipset register. The walk also turns {@code knobs} (one step in ten
     * when there are any).
     */
    LiveMapWalk(LivePci pci, Optional<LiveGpex> gpex, List<LiveKnob> knobs, SplittableRandom random) {
        this.pci = pci;
        this.gpex = gpex.orElse(null);
        this.knobs = List.copyOf(knobs);
        this.random = random;
        int[] nextBus = {1};
        enumerate(0, nextBus);
        for (Bdf f : functions) {
            bars.addAll(pci.bars(f));
            switch (pci.vendorDevice(f)) {
                case Q35_MCH -> mch.add(f);
                case ICH9_LPC -> lpc.add(f);
                case I440FX -> i440fx.add(f);
                case PIIX4_PM -> piix4pm.add(f);
                default -> { }
            }
        }
    }

    private void enumerate(int bus, int[] nextBus) {
        for (Bdf f : pci.functions(bus)) {
            functions.add(f);
            if (pci.isBridge(f)) {
                bridges.add(f);
                int secondary = nextBus[0]++;
                pci.write(f, 0x18, 4, bus | secondary << 8 | 0xFF << 16); // primary, secondary, subordinate
                enumerate(secondary, nextBus);
                pci.write(f, 0x1A, 1, nextBus[0] - 1);
                // Windows closed (base above limit), as firmware leaves unused ones: at reset they
                // open at 0 with the command register, and an I/O window there hides 0xCF8.
                pci.write(f, 0x1C, 2, 0x00F0);
                pci.write(f, 0x20, 4, 0x0000_FFF0L);
                pci.write(f, 0x24, 4, 0x0000_FFF0L);
            }
        }
    }

    /** @return what the walk found, for the report */
    String describe() {
        return functions.size() + " functions, " + bridges.size() + " bridges, " + bars.size() + " BARs/ROMs"
                + (mch.isEmpty() ? "" : ", q35 MCH") + (lpc.isEmpty() ? "" : ", ICH9 LPC")
                + (i440fx.isEmpty() ? "" : ", i440FX") + (piix4pm.isEmpty() ? "" : ", PIIX4 PM")
                + knobs.stream().map(k -> ", " + k.name()).reduce("", String::concat);
    }

    /** Makes one random step: one register (or one 64-bit pair) written. */
    Step step() {
        List<Write> writes = new ArrayList<>();
        List<String> reAdded = new ArrayList<>();
        List<Long> mappedAt = List.of();
        int pick = random.nextInt(100);
        if (!knobs.isEmpty() && random.nextInt(10) == 0) {
            // Not a PCI register: the knob writes it now and returns a Write without a function.
            writes.add(knobs.get(random.nextInt(knobs.size())).turn(random, reAdded));
        } else if (pick < 45 && !bars.isEmpty()) {
            moveBar(bars.get(random.nextInt(bars.size())), writes, reAdded);
        } else if (pick < 60) {
            Bdf f = functions.get(random.nextInt(functions.size()));
            long command = pci.read(f, 0x04, 2);
            long bits = random.nextInt(8); // I/O, memory, bus master
            add(writes, f, 0x04, 2, command & ~7L | bits, "command");
            mappedAt = barBases(f); // pci_update_mappings maps what decoding turns on in BAR order
            if (bridges.contains(f)) {
                reAdded.addAll(BRIDGE_WINDOWS);
            }
        } else if (pick < 72 && !bridges.isEmpty()) {
            bridgeWindow(bridges.get(random.nextInt(bridges.size())), writes);
            reAdded.addAll(BRIDGE_WINDOWS);
        } else if (pick < 84 && (!mch.isEmpty() || !i440fx.isEmpty())) {
            pam(writes);
        } else if (pick < 90 && (!mch.isEmpty() || !i440fx.isEmpty())) {
            smram(writes, reAdded);
        } else if (!mch.isEmpty() && pick < 94) {
            pciexbar(mch.getFirst(), writes, reAdded);
        } else if (!lpc.isEmpty()) {
            ich9(lpc.getFirst(), writes, reAdded);
        } else if (!piix4pm.isEmpty()) {
            piix4(piix4pm.getFirst(), writes);
        } else {
            return step();
        }
        for (Write w : writes) {
            if (w.bdf() != null) { // a knob's write is done already
                pci.write(w.bdf(), w.reg(), w.size(), w.value());
            }
        }
        return new Step(writes, reAdded, mappedAt);
    }

    /** Where a function's BARs and ROM point now, in BAR order (the ROM last), as its bus sees them. */
    private List<Long> barBases(Bdf f) {
        List<Long> out = new ArrayList<>();
        for (Bar b : bars) {
            if (b.bdf().equals(f)) {
                long low = pci.read(f, b.reg(), 4);
                long base = b.io() ? low & ~3L : b.rom() ? low & 0xFFFF_F800L : low & 0xFFFF_FFF0L;
                if (b.wide()) {
                    base |= pci.read(f, b.reg() + 4, 4) << 32;
                }
                out.add(base);
            }
        }
        return out;
    }

    /**
     * The aliases a PCI bridge re-creates on every write to its windows, BARs, command or control,
     * oldest first (QEMU's {@code pci_bridge_region_init}: at one address {@code info mtree} prints
     * {@code pci_bridge_mem} before, i.e. newer than, {@code pci_bridge_pref_mem}). Their order
     * among themselves never shows (they map one bus the same way); against other regions they are
     * the newest of the step.
     */
    private static final List<String> BRIDGE_WINDOWS = List.of("pci_bridge_pref_mem", "pci_bridge_mem", "pci_bridge_io",
            "pci_bridge_vga_io_lo", "pci_bridge_vga_io_hi", "pci_bridge_vga_mem");

    private static void add(List<Write> writes, Bdf f, int reg, int size, long value, String what) {
        writes.add(new Write(f, reg, size, value, what));
    }

    private void moveBar(Bar bar, List<Write> writes, List<String> reAdded) {
        if (bridges.contains(bar.bdf())) {
            reAdded.addAll(BRIDGE_WINDOWS);
        }
        if (bar.io()) {
            long base = gpex != null ? gpexIoBase(bar.size()) : ioBase(bar.size());
            add(writes, bar.bdf(), bar.reg(), 4, base | 1, "I/O BAR");
            return;
        }
        long base = gpex != null && random.nextBoolean() ? nearWindow(bar.size(), bar.wide())
                : memoryBase(bar.size(), bar.wide());
        if (bar.rom()) {
            add(writes, bar.bdf(), bar.reg(), 4, base & 0xFFFF_F800L | (random.nextInt(4) == 0 ? 0 : 1), "ROM");
        } else if (bar.wide()) {
            add(writes, bar.bdf(), bar.reg(), 4, base & 0xFFFF_FFF0L, "BAR low");
            add(writes, bar.bdf(), bar.reg() + 4, 4, base >>> 32, "BAR high");
        } else {
            add(writes, bar.bdf(), bar.reg(), 4, base & 0xFFFF_FFF0L, "BAR");
        }
    }

    /** An I/O base of the given size, never over the configuration ports. */
    private long ioBase(long size) {
        for (;;) {
            long base = switch (random.nextInt(4)) {
                case 0 -> otherIoBar(size);
                case 1 -> random.nextLong(0x1000);
                case 2 -> 0;
                default -> random.nextLong(0x1000, 0x10000);
            } & -size;
            if (base + size <= CONFIG_PORTS || base >= CONFIG_PORTS + 8) {
                return base;
            }
        }
    }

    private long otherIoBar(long size) {
        List<Bar> io = bars.stream().filter(Bar::io).toList();
        Bar other = io.get(random.nextInt(io.size()));
        // x86 ports are 16 bits; a gpex host's I/O BARs take 32-bit port addresses (beyond its window)
        long otherBase = pci.read(other.bdf(), other.reg(), 4) & ~3L & (gpex != null ? 0xFFFF_FFFFL : 0xFFFF);
        return otherBase + random.nextLong(Math.max(other.size(), size));
    }

    /**
     * An I/O base behind a gpex host: inside its I/O window, at the window's end, over another I/O
     * BAR, or anywhere in the 32-bit I/O space (mostly beyond the window, where nothing shows).
     */
    private long gpexIoBase(long size) {
        LiveGpex.Window w = gpex.io();
        long base = switch (random.nextInt(4)) {
            case 0 -> w.first() + random.nextLong(w.size());
            case 1 -> w.last() + 1 + size * random.nextInt(-2, 2);
            case 2 -> otherIoBar(size);
            default -> random.nextLong(0x1_0000_0000L);
        };
        return base & -size & 0xFFFF_FFFFL;
    }

    /**
     * A memory base behind a gpex host, in a window a BAR of this kind can reach: anywhere inside,
     * or a few BARs' sizes around one of its edges (across an edge the size does not align to).
     */
    private long nearWindow(long size, boolean wide) {
        List<LiveGpex.Window> reach = gpex.memory().stream().filter(w -> wide || w.below4g()).toList();
        if (reach.isEmpty()) {
            return memoryBase(size, wide);
        }
        LiveGpex.Window w = reach.get(random.nextInt(reach.size()));
        long edge = random.nextBoolean() ? w.first() : w.last() + 1;
        long base = random.nextInt(3) == 0 ? w.first() + random.nextLong(w.size())
                : (edge & -size) + size * random.nextInt(-2, 2);
        return base & -size;
    }

    /** A memory base of the given size (aligned to it), in the places where maps get interesting. */
    private long memoryBase(long size, boolean wide) {
        long base = switch (random.nextInt(wide ? 18 : 10)) { // a 64-bit BAR goes high 8 times in 18
            case 0 -> 0;                                                   // unmapped (a base of 0)
            case 1, 2 -> otherMemoryBar(size);                             // over another BAR
            case 3 -> random.nextLong(0x2000_0000L);                       // under RAM (PCI is prio -1)
            case 4 -> 0xA_0000L + random.nextLong(0x6_0000L);              // VGA window, PAM segments
            case 5, 6, 7 -> 0xC000_0000L + random.nextLong(0x4000_0000L);  // the PCI hole, IOAPIC, BIOS
            case 8 -> random.nextLong(0x1_0000_0000L);                     // anywhere below 4 GiB
            case 9 -> 0xFFFF_FFFFL & -size;                                // the top of 32-bit space
            case 10, 11, 12, 13 -> 0x1_0000_0000L + random.nextLong(1L << 40); // above 4 GiB
            default -> random.nextBoolean()
                    ? (1L << 63) - size * random.nextInt(0, 3)              // around 2^63
                    : -size * random.nextInt(1, 4);                        // the top of 64-bit space
        };
        return base & -size;
    }

    private long otherMemoryBar(long size) {
        List<Bar> mem = bars.stream().filter(b -> !b.io()).toList();
        Bar other = mem.get(random.nextInt(mem.size()));
        long otherBase = pci.read(other.bdf(), other.reg(), 4) & 0xFFFF_FFF0L;
        if (other.wide()) {
            otherBase |= pci.read(other.bdf(), other.reg() + 4, 4) << 32;
        }
        return otherBase + random.nextLong(Math.max(other.size(), size));
    }

    private void bridgeWindow(Bdf bridge, List<Write> writes) {
        switch (random.nextInt(5)) {
            case 0 -> { // memory window, 1 MiB granules
                long base = gpex != null && random.nextBoolean() ? windowNearWindow(false) : memoryWindowEnd();
                long limit = random.nextInt(5) == 0 ? base - 0x10_0000L : base + random.nextLong(4) * 0x10_0000L;
                add(writes, bridge, 0x20, 4, (base >>> 16 & 0xFFF0) | (limit >>> 16 & 0xFFF0) << 16, "memory window");
            }
            case 1 -> { // prefetchable window, 64-bit
                long base = gpex != null && random.nextBoolean() ? windowNearWindow(true)
                        : random.nextInt(4) == 0 ? 0x1_0000_0000L * random.nextInt(1, 8) : memoryWindowEnd();
                long limit = random.nextInt(5) == 0 ? base - 0x10_0000L : base + random.nextLong(4) * 0x10_0000L;
                add(writes, bridge, 0x24, 4, (base >>> 16 & 0xFFF0 | 1) | (limit >>> 16 & 0xFFF0 | 1) << 16,
                        "prefetchable window");
                add(writes, bridge, 0x28, 4, base >>> 32, "prefetchable base upper");
                add(writes, bridge, 0x2C, 4, limit >>> 32, "prefetchable limit upper");
            }
            case 2 -> { // I/O window, 4 KiB granules, never over the configuration ports
                long base = random.nextLong(1, 16) << 12;
                long limit = random.nextInt(5) == 0 ? base - 0x1000 : Math.min(base + random.nextLong(3) * 0x1000, 0xF000);
                add(writes, bridge, 0x1C, 2, (base >>> 8 & 0xF0) | (limit >>> 8 & 0xF0) << 8, "I/O window");
            }
            default -> add(writes, bridge, 0x3E, 2, random.nextInt(4) == 0 ? 0 : random.nextInt(2) << 3 | random.nextInt(2) << 4,
                    "bridge control (VGA, VGA16)");
        }
    }

    /** A bridge window's base (1 MiB granules) inside or a few MiB around an edge of a gpex window. */
    private long windowNearWindow(boolean wide) {
        List<LiveGpex.Window> reach = gpex.memory().stream().filter(w -> wide || w.below4g()).toList();
        LiveGpex.Window w = reach.isEmpty() ? gpex.memory().getFirst() : reach.get(random.nextInt(reach.size()));
        long edge = random.nextBoolean() ? w.first() : w.last() + 1;
        long base = random.nextInt(3) == 0 ? w.first() + random.nextLong(w.size())
                : edge + 0x10_0000L * random.nextInt(-3, 2);
        return base & -0x10_0000L;
    }

    private long memoryWindowEnd() {
        return switch (random.nextInt(3)) {
            case 0 -> 0xC000_0000L + random.nextLong(0x400) * 0x10_0000L;
            case 1 -> random.nextLong(0x200) * 0x10_0000L;
            default -> random.nextLong(0x1000) * 0x10_0000L;
        };
    }

    private void pam(List<Write> writes) {
        int value = random.nextInt(4) | random.nextInt(4) << 4;
        if (!mch.isEmpty()) {
            add(writes, mch.getFirst(), 0x90 + random.nextInt(7), 1, value, "PAM");
        } else {
            add(writes, i440fx.getFirst(), 0x59 + random.nextInt(7), 1, value, "PAM");
        }
    }

    private void smram(List<Write> writes, List<String> reAdded) {
        int smram = random.nextInt(0x100) & ~0x10 | 0x02; // never D_LCK; C_BASE_SEG reads 010
        if (!mch.isEmpty()) {
            reAdded.add("tseg-blackhole");
            if (random.nextBoolean()) {
                add(writes, mch.getFirst(), 0x9D, 1, smram, "SMRAM");
            } else {
                add(writes, mch.getFirst(), 0x9E, 1, random.nextInt(0x100), "ESMRAMC");
            }
        } else {
            add(writes, i440fx.getFirst(), 0x72, 1, smram, "SMRAM");
        }
    }

    private void pciexbar(Bdf f, List<Write> writes, List<String> reAdded) {
        reAdded.add("pcie-mmcfg-mmio");
        int length = random.nextInt(3); // 256, 128 or 64 MiB
        long base = random.nextInt(3) == 0 ? random.nextLong(1L << 36) : 0x8000_0000L + random.nextLong(0x8000_0000L);
        base &= -(0x1000_0000L >>> length);
        long low = base & 0xFFFF_FFFFL | (long) length << 1 | (random.nextInt(4) == 0 ? 0 : 1);
        add(writes, f, 0x64, 4, base >>> 32, "PCIEXBAR high");
        add(writes, f, 0x60, 4, low, "PCIEXBAR");
    }

    private void ich9(Bdf f, List<Write> writes, List<String> reAdded) {
        if (random.nextBoolean()) {
            reAdded.add("lpc-rcrb-mmio");
            long base = random.nextBoolean() ? random.nextLong(0x1_0000_0000L) : 0xFED0_0000L + random.nextLong(0x10_0000L);
            add(writes, f, 0xF0, 4, base & ~0x3FFFL | (random.nextInt(4) == 0 ? 0 : 1), "RCBA");
        } else if (random.nextBoolean()) {
            add(writes, f, 0x40, 4, pmBase(), "PMBASE");
        } else {
            add(writes, f, 0x44, 1, random.nextBoolean() ? 0x80 : 0, "ACPI_CNTL");
        }
    }

    private void piix4(Bdf f, List<Write> writes) {
        if (random.nextBoolean()) {
            add(writes, f, 0x40, 4, pmBase(), "PMBA");
        } else {
            add(writes, f, 0x80, 1, random.nextInt(2), "PMREGMISC");
        }
    }

    /** A 128-byte power-management I/O base, never over the configuration ports. */
    private long pmBase() {
        for (;;) {
            long base = random.nextLong(0x10000) & ~0x7FL;
            if (base + 0x80 <= CONFIG_PORTS || base >= CONFIG_PORTS + 8) {
                return base | 1;
            }
        }
    }
}
