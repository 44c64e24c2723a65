/**
 * The {@code ./guestmem} command line: {@link dev.guestmem.cli.Main} dispatches to one
 * {@link dev.guestmem.cli.Command} per subcommand ({@code demo}, {@code mtree}, {@code xp},
 * {@code share}). Exit status 0 on success, 1 on a failure, 2 on a wrong command line; errors are one
 * line on standard error.
 */
package dev.guestmem.cli;
