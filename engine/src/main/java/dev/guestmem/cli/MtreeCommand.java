package dev.guestmem.cli;

import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDocument;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeImport;
import dev.guestmem.debug.MtreeImporter;
import dev.guestmem.debug.MtreeParseException;
import dev.guestmem.debug.MtreeParser;
import dev.guestmem.debug.MtreeWriter;
import java.io.PrintStream;
import java.util.List;

/**
 * {@code ./guestmem mtree [-D] [--annotated] [--flat] FILE}: imports {@code info mtree} text (any
 * dialect; {@code -} reads standard input) into a fresh memory system and prints it back: the
 * plain tree by default, with disabled regions ({@code -D}), in the annotated dialect
 * ({@code --annotated}), or the flat views as {@code info mtree -f} ({@code --flat}).
 *
 * <p><b>Thread safety.</b> Runs on the launcher's main thread.
 */
public final class MtreeCommand {
    private static final String USAGE = """
            usage: ./guestmem mtree [-D] [--annotated] [--flat] FILE
              reads QEMU 'info mtree' text (plain, -D or annotated; FILE '-' is standard input) and prints the
              tree back: plain by default, with disabled regions (-D), annotated (--annotated), or the flat
              views as 'info mtree -f' prints them (--flat, also -f).""";

    private MtreeCommand() {
    }

    /**
     * Runs the command.
     *
     * @param args the arguments after {@code mtree}
     * @param out where the text goes
     * @param err where a problem is reported, in one line
     * @return {@link Command#OK}, {@link Command#FAILED} for an unreadable or unparsable file,
     *     {@link Command#USAGE} for a wrong command line
     */
    public static int run(List<String> args, PrintStream out, PrintStream err) {
        boolean disabled = false;
        boolean annotated = false;
        boolean flat = false;
        String file = null;
        if (Help.asked(args, USAGE, out)) {
            return Command.OK;
        }
        for (String a : args) {
            switch (a) {
                case "-D" -> disabled = true;
                case "--annotated" -> annotated = true;
                case "--flat", "-f" -> flat = true;
                default -> {
                    if (a.startsWith("-") && !a.equals("-")) {
                        err.println("guestmem mtree: unknown option '" + a + "'");
                        err.println(Help.synopsis(USAGE));
                        return Command.USAGE;
                    }
                    if (file != null) {
                        err.println("guestmem mtree: one FILE only ('" + file + "', '" + a + "')");
                        err.println(Help.synopsis(USAGE));
                        return Command.USAGE;
                    }
                    file = a;
                }
            }
        }
        if (file == null) {
            err.println(Help.synopsis(USAGE));
            return Command.USAGE;
        }
        if (flat && (disabled || annotated)) {
            err.println("guestmem mtree: --flat prints flat views; it takes neither -D nor --annotated");
            return Command.USAGE;
        }
        MtreeDocument doc;
        try {
            doc = MtreeParser.parse(TextInput.read(file, System.in));
        } catch (TextInput.UnusableException e) {
            err.println("guestmem mtree: " + e.getMessage());
            return Command.FAILED;
        } catch (MtreeParseException e) {
            err.println("guestmem mtree: " + file + ": " + e.getMessage());
            return Command.FAILED;
        }
        try (MtreeImport imp = MtreeImporter.importDocument(doc)) {
            if (flat) {
                out.print(FlatViewPrinter.print(imp.addressSpaces()));
            } else {
                MtreeDialect d = annotated ? MtreeDialect.ANNOTATED : disabled ? MtreeDialect.DISABLED : MtreeDialect.PLAIN;
                out.print(MtreeWriter.write(MtreeDumper.dump(imp.addressSpaces()), d));
            }
        } catch (MtreeParseException e) {
            err.println("guestmem mtree: " + file + ": " + e.getMessage());
            return Command.FAILED;
        }
        return Command.OK;
    }
}
