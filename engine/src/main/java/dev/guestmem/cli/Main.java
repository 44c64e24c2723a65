package dev.guestmem.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Command-line entry point behind the {@code ./guestmem} launcher: a table of subcommands. To add
 * one, add one {@code entry(...)} line to {@link #COMMANDS}.
 *
 * <p><b>Thread safety.</b> Runs on the launcher's main thread.
 */
public final class Main {
    /** Subcommand name, one-line usage, implementation. */
    private record Entry(String usage, Command command) {
    }

    private static final Map<String, Entry> COMMANDS = new LinkedHashMap<>();

    /** Commands the {@code ./guestmem} shell launcher runs itself (Maven, the JMH jar): listed, not run here. */
    private static final List<String> LAUNCHER_COMMANDS = List.of(
            "test [MAVEN ARGS]   build everything and run all tests (./mvnw verify), as CI does",
            "bench GROUP [--quick] [--prof NAME] [-p NAME=V,...] [--forks N]   run a JMH benchmark group (bench --help lists them)",
            "build   build the jars (./mvnw package without tests)");

    static {
        entry("demo", "demo   build a small PC-like machine, access it, and print its memory map", DemoCommand::run);
        entry("mtree", "mtree [-D] [--annotated] [--flat] FILE   print QEMU 'info mtree' text back, or its flat views",
                MtreeCommand::run);
        entry("xp", "xp --mtree MTREE --ram REGION=PATH [--as NAME] [/FMT] ADDR   print guest memory as QEMU's xp", XpCommand::run);
        entry("share", "share serve|attach SOCKET ...   share guest RAM with another process (SCM_RIGHTS)", ShareCommand::run);
    }

    private static void entry(String name, String usage, Command command) {
        COMMANDS.put(name, new Entry(usage, command));
    }

    private Main() {
    }

    /**
     * Runs one command and exits with its status.
     *
     * @param args the command and its arguments
     */
    public static void main(String[] args) {
        int status = run(args, System.out, System.err);
        System.out.flush();
        System.exit(status);
    }

    /**
     * Runs one command.
     *
     * @param args the command and its arguments
     * @param out standard output
     * @param err standard error
     * @return the exit status
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
            usage(args.length == 0 ? err : out);
            return args.length == 0 ? Command.USAGE : Command.OK;
        }
        Entry e = COMMANDS.get(args[0]);
        if (e == null && LAUNCHER_COMMANDS.stream().anyMatch(l -> l.startsWith(args[0] + " "))) {
            err.println("guestmem: '" + args[0] + "' is run by the ./guestmem launcher (Maven or the JMH jar), not by this JVM");
            return Command.USAGE;
        }
        if (e == null) {
            err.println("guestmem: unknown command '" + args[0] + "'");
            usage(err);
            return Command.USAGE;
        }
        List<String> rest = Arrays.asList(args).subList(1, args.length);
        return e.command().run(rest, out, err);
    }

    private static void usage(PrintStream s) {
        s.println("usage: ./guestmem COMMAND [ARGS]   (./guestmem COMMAND --help explains one)");
        for (Entry e : COMMANDS.values()) {
            s.println("  " + e.usage());
        }
        for (String l : LAUNCHER_COMMANDS) {
            s.println("  " + l);
        }
        s.println("exit status: 0 done, 1 an input could not be used or an access failed, 2 a wrong command line");
    }
}
