package dev.guestmem.cli;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeWriter;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * {@code ./guestmem demo}: assembles a small PC-like machine (RAM behind an alias, a BIOS ROM and its
 * ISA window under a low-priority PCI hole, an HPET-like timer, a PCI BAR, a serial port in the I/O
 * space), makes a few guest accesses, moves the BAR in a transaction while a listener watches, and
 * prints the result as QEMU's {@code info mtree} and {@code info mtree -f} would.
 *
 * <p><b>Thread safety.</b> Runs on the launcher's main thread; builds its own {@link MemorySystem}.
 */
final class DemoCommand {
    private static final long MIB = 1L << 20;
    private static final String USAGE = """
            usage: ./guestmem demo
              builds a small PC-like machine, makes a few guest accesses, moves a PCI BAR while a listener
              watches, and prints the memory map as 'info mtree' and 'info mtree -f'.""";

    private DemoCommand() {
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        if (Help.asked(args, USAGE, out)) {
            return Command.OK;
        }
        if (!args.isEmpty()) {
            err.println("guestmem demo: takes no arguments ('" + args.getFirst() + "')");
            err.println(Help.synopsis(USAGE));
            return Command.USAGE;
        }
        MemorySystem sys = new MemorySystem();

        // Memory space: QEMU's pc layout in miniature.
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", 128 * MIB);
        system.addSubregion(0, new AliasRegion(sys, null, "ram-below-4g", ram, 0, 128 * MIB));
        ContainerRegion pci = new ContainerRegion(sys, null, "pci", MemoryRegion.SIZE_2_64);
        system.addSubregionOverlap(0, pci, -1);
        RamRegion bios = RamRegion.allocateRom(sys, null, "pc.bios", 256 * 1024);
        pci.addSubregion(0xfffc0000L, bios);
        pci.addSubregionOverlap(0xe0000, new AliasRegion(sys, null, "isa-bios", bios, 0x20000, 0x20000), 1);
        long[] ticks = {0};
        MemoryRegionOps hpetOps = MemoryRegionOps.builder()
                .read((addr, size) -> addr == 0xf0 ? ++ticks[0] : 0)
                .write((addr, data, size) -> { })
                .valid(4, 8, false)
                .build();
        system.addSubregion(0xfed00000L, new IoRegion(sys, "hpet", hpetOps, "hpet", 0x400));
        IoRegion bar = new IoRegion(sys, "e1000", MemoryRegionOps.builder()
                .read((addr, size) -> 0x8086)
                .write((addr, data, size) -> { })
                .build(), "e1000-mmio", 0x20000);
        pci.addSubregion(0xfebc0000L, bar);

        // I/O space: a serial port that collects what the guest writes.
        StringBuilder serial = new StringBuilder();
        IoRegion io = new IoRegion(sys, null, null, "io", 0x10000);
        io.addSubregion(0x3f8, new IoRegion(sys, "serial", MemoryRegionOps.builder()
                .read((addr, size) -> addr == 5 ? 0x60 : 0)
                .write((addr, data, size) -> {
                    if (addr == 0) {
                        serial.append((char) data);
                    }
                })
                .build(), "serial", 8));

        AddressSpace memory = sys.addressSpace(system, "memory");
        AddressSpace ioSpace = sys.addressSpace(io, "I/O");

        out.println("== guest accesses");
        byte[] hello = "hello, guest RAM".getBytes(StandardCharsets.US_ASCII);
        int r = memory.write(0x1000, MemTxAttrs.UNSPECIFIED, hello, 0, hello.length);
        out.printf("write 16 bytes at 0x1000 -> %s; ldq_le(0x1000) = 0x%016x%n", MemTxResult.toString(r),
                memory.ldqLe(0x1000));
        out.printf("ldl_le(0xfed000f0) (HPET counter) = %d, then %d%n", memory.ldlLe(0xfed000f0L),
                memory.ldlLe(0xfed000f0L));
        out.printf("stl_le(0xfffc0000) into the BIOS ROM -> %s (dropped: a ROM has no write callback)%n",
                MemTxResult.toString(memory.stlLe(0xfffc0000L, 0xdeadbeef)));
        for (byte b : "hi from the guest".getBytes(StandardCharsets.US_ASCII)) {
            ioSpace.stb(0x3f8, b);
        }
        out.printf("serial port received: \"%s\"%n", serial);
        out.printf("ldl_le(0x100000000) (nothing mapped) -> 0x%x%n", memory.ldlLe(0x1_0000_0000L));

        out.println();
        out.println("== info mtree");
        out.print(MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN));
        out.println("== info mtree -f");
        out.print(FlatViewPrinter.print(sys));

        out.println("== moving the e1000 BAR to 0xfeb80000 in a transaction; a listener sees:");
        boolean[] watching = {false}; // registration replays the whole map: show only the move
        MemoryListener printer = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (watching[0]) {
                    out.printf("  region_add %s%n", describe(s));
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                if (watching[0]) {
                    out.printf("  region_del %s%n", describe(s));
                }
            }
        };
        sys.registerListener(printer, memory);
        watching[0] = true;
        sys.transactionBegin();
        try {
            bar.setAddress(0xfeb80000L);
        } finally {
            sys.transactionCommit();
        }
        watching[0] = false;
        sys.unregisterListener(printer);
        out.printf("ldl_le(0xfeb80000) now reads the BAR: 0x%x%n", memory.ldlLe(0xfeb80000L));
        return Command.OK;
    }

    private static String describe(MemoryRegionSection s) {
        return String.format("%016x-%016x %s", s.offsetWithinAddressSpace(), s.lastAddress(), s.region().name());
    }
}
