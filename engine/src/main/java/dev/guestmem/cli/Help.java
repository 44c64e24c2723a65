package dev.guestmem.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code --help} and the short usage printed after a wrong command line, from one usage text per
 * command: its synopsis lines (starting {@code usage:}, and indented continuations that start with
 * {@code [} or {@code ./guestmem}), then lines of explanation that only {@code --help} prints.
 *
 * <p><b>Thread safety.</b> Stateless.
 */
final class Help {
    private Help() {
    }

    /**
     * Prints the whole usage on standard output when the first argument asks for help.
     *
     * @param args the command's arguments
     * @param usage its usage text
     * @param out standard output
     * @return whether help was asked for (and printed)
     */
    static boolean asked(List<String> args, String usage, PrintStream out) {
        if (args.isEmpty() || !(args.getFirst().equals("--help") || args.getFirst().equals("-h"))) {
            return false;
        }
        out.println(usage);
        return true;
    }

    /**
     * The synopsis of a usage text and where the rest is: what follows a one-line error.
     *
     * @param usage the usage text, starting {@code usage: ./guestmem CMD}
     * @return the synopsis lines and a pointer to {@code --help}
     */
    static String synopsis(String usage) {
        String command = usage.split("\\s+")[2];
        String lines = usage.lines()
                .takeWhile(l -> l.startsWith("usage:") || l.matches("\\s+[\\[.].*"))
                .collect(Collectors.joining("\n"));
        return lines + "\n(./guestmem " + command + " --help explains)";
    }
}
