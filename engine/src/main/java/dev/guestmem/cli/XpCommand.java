package dev.guestmem.cli;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.debug.MtreeDocument;
import dev.guestmem.debug.MtreeParseException;
import dev.guestmem.debug.MtreeParser;
import dev.guestmem.ram.RamBackendException;
import dev.guestmem.share.MappedMachine;
import dev.guestmem.share.Numbers;
import dev.guestmem.share.XpFormat;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code ./guestmem xp --mtree MTREE.txt --ram REGION=PATH [--ram ...] [--as NAME] [/FMT] ADDR}:
 * QEMU's monitor command {@code xp} run from outside the emulator. The machine's layout comes from
 * its {@code info mtree} text, the RAM regions' bytes from their files ({@code mem-path} of a
 * {@code memory-backend-file,share=on}, or {@code /proc/PID/fd/N} of a memfd backend), mapped
 * shared; the output is {@link dev.guestmem.share.MemoryDump}'s, line for line QEMU's. {@code --write ADDR HEXBYTES}
 * (repeatable) writes bytes first. Addresses that are not in a mapped RAM region print QEMU's
 * {@code Cannot access memory} plus the reason and the status is 1.
 *
 * <p>QEMU's {@code xp} reads through the monitor CPU's address space ({@code cpu-memory-0} on x86,
 * the same tree as {@code memory} outside SMM); the default here is {@code memory}.
 *
 * <p><b>Thread safety.</b> Runs on the launcher's main thread.
 */
public final class XpCommand {
    private static final String USAGE = """
            usage: ./guestmem xp --mtree MTREE.txt --ram REGION=PATH [--ram ...] [--as NAME] [--big-endian]
                                 [--write ADDR HEXBYTES]... [/FMT] [ADDR]
              prints guest-physical memory as QEMU's monitor 'xp /FMT ADDR' does. FMT is a count, a format
              (x hex, d signed, u unsigned, o octal, c char) and a size (b 1, h 2, w 4, g 8), defaults /1xw.
              MTREE.txt is QEMU's 'info mtree' text (plain or annotated); each --ram maps a RAM region's file
              (a memory-backend-file's mem-path, or /proc/PID/fd/N of a memory-backend-memfd) shared.
              --as picks the address space (default 'memory'; QEMU's xp uses the CPU's, cpu-memory-0,
              which shows the same memory outside SMM). --write writes bytes before the dump.""";

    /** One {@code --write ADDR HEXBYTES}, parsed. */
    private record Write(long at, byte[] data) {
    }

    private XpCommand() {
    }

    /**
     * Runs the command.
     *
     * @param args arguments after {@code xp}
     * @param out standard output (the dump, QEMU's text)
     * @param err standard error
     * @return 0 when everything was printed or written, 1 when an address was not readable RAM or
     *     an input could not be used, 2 for a wrong command line
     */
    public static int run(List<String> args, PrintStream out, PrintStream err) {
        Path mtree = null;
        List<MappedMachine.RamFile> files = new ArrayList<>();
        String asName = "memory";
        boolean asGiven = false;
        boolean bigEndian = false;
        List<Write> writes = new ArrayList<>();
        XpFormat fmt = null;
        Long addr = null;
        if (Help.asked(args, USAGE, out)) {
            return Command.OK;
        }
        try {
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                switch (a) {
                    case "--mtree" -> {
                        once(mtree != null, a);
                        mtree = Path.of(value(args, i++, a));
                    }
                    case "--ram" -> files.add(MappedMachine.RamFile.parse(value(args, i++, a)));
                    case "--as" -> {
                        once(asGiven, a);
                        asGiven = true;
                        asName = value(args, i++, a);
                    }
                    case "--big-endian" -> bigEndian = true;
                    case "--write" -> {
                        // parsed here with the rest of the command line: a malformed one is a usage error
                        long at = Numbers.parseAddress(value(args, i++, a));
                        writes.add(new Write(at, Numbers.parseHexBytes(value(args, i++, a))));
                    }
                    default -> {
                        if (a.startsWith("/") && fmt == null && addr == null) {
                            fmt = XpFormat.parse(a);
                        } else if (!a.startsWith("--") && addr == null) {
                            addr = Numbers.parseAddress(a);
                        } else if (a.startsWith("/") && addr != null) {
                            throw new IllegalArgumentException("/FMT '" + a + "' comes before ADDR, as in QEMU's xp /FMT ADDR");
                        } else {
                            throw new IllegalArgumentException("unexpected argument '" + a + "'");
                        }
                    }
                }
            }
            if (mtree == null) {
                throw new IllegalArgumentException("--mtree is required");
            }
            if (addr == null && (fmt != null || writes.isEmpty())) {
                throw new IllegalArgumentException("an address is required");
            }
        } catch (IllegalArgumentException e) {
            err.println("guestmem xp: " + e.getMessage());
            err.println(Help.synopsis(USAGE));
            return Command.USAGE;
        }
        MtreeDocument doc;
        try {
            doc = MtreeParser.parse(TextInput.read(mtree.toString(), System.in));
        } catch (TextInput.UnusableException e) {
            err.println("guestmem xp: " + e.getMessage());
            return Command.FAILED;
        } catch (MtreeParseException e) {
            err.println("guestmem xp: " + mtree + ": " + e.getMessage());
            return Command.FAILED;
        }
        try (MappedMachine m = MappedMachine.open(doc, files)) {
            AddressSpace as = m.addressSpace(asName);
            for (Write w : writes) {
                long at = w.at();
                byte[] data = w.data();
                String why = m.unreadable(as, at, data.length, true);
                if (why != null) {
                    err.println("guestmem xp: cannot write " + data.length + " bytes at 0x" + Long.toHexString(at) + ": " + why);
                    return Command.FAILED;
                }
                int r = as.write(at, MemTxAttrs.UNSPECIFIED, data, 0, data.length);
                if (r != MemTxResult.OK) {
                    err.println("guestmem xp: write at 0x" + Long.toHexString(at) + " failed: " + MemTxResult.toString(r));
                    return Command.FAILED;
                }
            }
            if (addr == null) {
                return Command.OK;
            }
            boolean all = DumpPrinter.print(fmt == null ? XpFormat.DEFAULT : fmt, addr, bigEndian, m.lineReader(as), out);
            return all ? Command.OK : Command.FAILED;
        } catch (IllegalArgumentException | RamBackendException | MtreeParseException e) {
            err.println("guestmem xp: " + e.getMessage());
            return Command.FAILED;
        }
    }

    private static void once(boolean given, String option) {
        if (given) {
            throw new IllegalArgumentException("option " + option + " is given more than once");
        }
    }

    private static String value(List<String> args, int i, String option) {
        if (i + 1 >= args.size()) {
            throw new IllegalArgumentException("option " + option + " needs a value");
        }
        return args.get(i + 1);
    }
}
