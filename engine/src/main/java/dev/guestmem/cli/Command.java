package dev.guestmem.cli;

import java.io.PrintStream;
import java.util.List;

/**
 * One {@code ./guestmem} subcommand.
 *
 * <p><b>Thread safety.</b> Implementations are called from the launcher's main thread only.
 */
@FunctionalInterface
public interface Command {
    /** Exit status of a command that did its job. */
    int OK = 0;
    /** Exit status when the input could not be used (unreadable or unparsable file). */
    int FAILED = 1;
    /** Exit status for a wrong command line. */
    int USAGE = 2;

    /**
     * Runs the command.
     *
     * @param args the arguments after the command's name
     * @param out where results go
     * @param err where diagnostics go (one clear line per problem)
     * @return the exit status
     */
    int run(List<String> args, PrintStream out, PrintStream err);
}
