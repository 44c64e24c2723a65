package dev.guestmem.cli;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBackendException;
import dev.guestmem.share.LayoutChange;
import dev.guestmem.share.MemoryDump;
import dev.guestmem.share.Numbers;
import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.ShareException;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import dev.guestmem.share.XpFormat;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * {@code ./guestmem share serve|attach SOCKET ...}: two processes sharing guest RAM. {@code serve}
 * makes a memfd RAM block, lays it out at a guest address and hands its descriptor and layout to
 * every process that connects ({@code SCM_RIGHTS}); {@code attach} maps what it is given. Each side
 * then reads and writes through its own guestmem AddressSpace, so two terminals watch each other's
 * writes:
 * <pre>
 * terminal 1: ./guestmem share serve /tmp/ram.sock --size 64M
 *             &gt; write 0x1000 hello from one
 * terminal 2: ./guestmem share attach /tmp/ram.sock
 *             &gt; read 0x1000 14          prints "hello from one"
 *             &gt; write 0x2000 hi back
 * terminal 1: &gt; xp /8xb 0x2000
 * </pre>
 * Commands come from standard input, one a line, or from {@code --do CMD} options (then standard
 * input is not read).
 *
 * <p><b>Thread safety.</b> Runs on the launcher's main thread; {@code serve} accepts peers on one
 * daemon thread.
 */
public final class ShareCommand {
    private static final String USAGE = """
            usage: ./guestmem share serve SOCKET [--size 64M] [--addr 0x0] [--name ram0] [--linger SECONDS] [--do CMD]...
                   ./guestmem share attach SOCKET [--follow] [--timeout SECONDS] [--do CMD]...
            serve refuses a SOCKET a server answers on, or where a file other than a stale socket is;
            attach waits at most --timeout seconds (default 30) for the layout. attach --follow is told of every
            plug and unplug of the server from then on (printed as [plugged ...], [unplugged ...]) and maps or
            drops the region at once. Each mode takes only its own options.
            --do commands stop at the first that fails; from standard input all run, and the exit status is 1
            if any failed.
            commands (standard input, or --do):
              xp /FMT ADDR             print guest memory as QEMU's xp does (FMT: count, x|d|u|o|c, b|h|w|g)
              read ADDR LEN            print LEN bytes as a quoted string
              write ADDR TEXT          write TEXT's UTF-8 bytes
              writex ADDR HEXBYTES     write raw bytes, such as 0xdeadbeef
              wait ADDR TEXT [SECONDS] wait until the bytes at ADDR are TEXT (default 30 s)
              layout                   print the shared regions
              plug NAME ADDR SIZE      serve only: hotplug a new zeroed memfd region (following peers map it at once,
                                       others when they attach)
              unplug NAME              serve only: remove a region and close its block (following peers drop it too;
                                       one-shot peers keep theirs)
              quit""";

    /** Options of each mode; all but {@code --follow} take a value. */
    private static final Set<String> SERVE_OPTIONS = Set.of("--size", "--addr", "--name", "--linger", "--do");
    private static final Set<String> ATTACH_OPTIONS = Set.of("--timeout", "--do", "--follow");
    /** Options that take no value. */
    private static final Set<String> FLAGS = Set.of("--follow");
    /** Longest timeout in seconds: the most whole seconds a {@link Duration} holds in nanoseconds (292 years). */
    private static final long MAX_SECONDS = Long.MAX_VALUE / 1_000_000_000L;

    /** Longest {@code read}: it prints one quoted string. */
    private static final long MAX_READ = 1 << 20;

    private ShareCommand() {
    }

    /**
     * Runs the command with the process's standard input.
     *
     * @param args arguments after {@code share}
     * @param out standard output
     * @param err standard error
     * @return the exit status
     */
    public static int run(List<String> args, PrintStream out, PrintStream err) {
        return run(args, System.in, out, err);
    }

    /**
     * Runs the command.
     *
     * @param args arguments after {@code share}
     * @param in where commands are read when no {@code --do} is given
     * @param out standard output
     * @param err standard error
     * @return the exit status
     */
    public static int run(List<String> args, InputStream in, PrintStream out, PrintStream err) {
        if (Help.asked(args, USAGE, out)) {
            return Command.OK;
        }
        if (args.isEmpty() || !(args.get(0).equals("serve") || args.get(0).equals("attach"))) {
            err.println(args.isEmpty() ? "guestmem share: serve or attach, and a SOCKET path, are needed"
                    : "guestmem share: unknown mode '" + args.get(0) + "' (serve or attach)");
            err.println(Help.synopsis(USAGE));
            return Command.USAGE;
        }
        String mode = args.get(0);
        boolean serving = mode.equals("serve");
        String socket = null;
        long size = 64L << 20;
        long addr = 0;
        String name = "ram0";
        long lingerSeconds = 0;
        long timeoutSeconds = 30;
        boolean follow = false;
        List<String> commands = new ArrayList<>();
        try {
            for (int i = 1; i < args.size(); i++) {
                String a = args.get(i);
                if (!a.startsWith("-")) { // the one word that is not an option or its value, wherever it is
                    if (socket != null) {
                        throw new IllegalArgumentException("one SOCKET only ('" + socket + "', '" + a + "')");
                    }
                    socket = a;
                    continue;
                }
                if (!(serving ? SERVE_OPTIONS : ATTACH_OPTIONS).contains(a)) {
                    throw new IllegalArgumentException((serving ? ATTACH_OPTIONS : SERVE_OPTIONS).contains(a)
                            ? "option " + a + " does not apply to " + mode + " (it is for " + (serving ? "attach" : "serve") + ")"
                            : "unknown option " + a);
                }
                if (FLAGS.contains(a)) {
                    follow = true; // --follow, the one flag
                    continue;
                }
                if (i + 1 >= args.size()) {
                    throw new IllegalArgumentException("option " + a + " needs a value");
                }
                String v = args.get(++i);
                switch (a) {
                    case "--size" -> size = Numbers.parseSize(v);
                    case "--addr" -> addr = Numbers.parseAddress(v);
                    case "--name" -> name = v;
                    case "--linger" -> lingerSeconds = seconds(a, v);
                    case "--timeout" -> timeoutSeconds = seconds(a, v);
                    case "--do" -> commands.add(v);
                    default -> throw new AssertionError(a); // the option lists above name every case
                }
            }
            if (socket == null) {
                throw new IllegalArgumentException(mode + " needs a SOCKET path");
            }
            if (socket.isEmpty()) {
                throw new IllegalArgumentException("the SOCKET path is empty");
            }
        } catch (IllegalArgumentException e) {
            err.println("guestmem share: " + e.getMessage());
            err.println(Help.synopsis(USAGE));
            return Command.USAGE;
        }
        try {
            if (serving) {
                return serve(socket, new SharedRamRegion(name, addr, size), lingerSeconds, commands, in, out, err);
            }
            Duration timeout = Duration.ofSeconds(timeoutSeconds);
            try (SharedMachine m = follow ? SharedMachine.attachFollowing(socket, timeout) : SharedMachine.attach(socket, timeout)) {
                synchronized (out) { // the first line first: a change pushed meanwhile is printed after it
                    List<SharedRamRegion> layout = follow ? m.addLayoutListener(c -> {
                        synchronized (out) {
                            out.println("[" + (c.kind() == LayoutChange.Kind.PLUGGED ? "plugged " : "unplugged ") + describe(c.region()) + "]");
                            out.flush();
                        }
                    }) : m.layout();
                    out.println((follow ? "following " : "attached to ") + socket + " (pid " + LinuxCalls.getpid() + "): " + describe(layout));
                    out.flush();
                }
                return console(m, false, commands, in, out, err);
            }
        } catch (ShareException | IllegalArgumentException | RamBackendException e) {
            // RamBackendException: the host cannot make or map the RAM (a --size too large for it)
            err.println("guestmem share: " + e.getMessage());
            return Command.FAILED;
        }
    }

    /**
     * Parses a number of seconds for a timeout, between 0 and {@link #MAX_SECONDS}.
     *
     * @throws IllegalArgumentException if it is not such a number
     */
    private static long seconds(String what, String v) {
        long s;
        try {
            s = Long.parseLong(v);
        } catch (NumberFormatException e) {
            s = -1;
        }
        if (s < 0 || s > MAX_SECONDS || !v.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException(what + " '" + v + "' is not a number of seconds from 0 to " + MAX_SECONDS);
        }
        return s;
    }

    private static int serve(String socket, SharedRamRegion region, long lingerSeconds, List<String> commands,
                             InputStream in, PrintStream out, PrintStream err) {
        try (SharedMachine m = SharedMachine.createMemfd(List.of(region));
             RamShareServer server = RamShareServer.listen(socket, m)) {
            Thread acceptor = Thread.ofPlatform().daemon().name("share-accept").start(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        if (server.serveOne(Duration.ofMillis(200))) {
                            err.println("[served peer #" + server.served() + "]");
                        }
                    } catch (ShareException e) {
                        err.println("[" + e.getMessage() + "]");
                    } catch (RuntimeException e) {
                        return; // closed under us
                    }
                }
            });
            out.println("serving " + describe(m) + " on " + socket + " (pid " + LinuxCalls.getpid() + ")");
            out.flush();
            int status = console(m, true, commands, in, out, err);
            if (lingerSeconds > 0) {
                try {
                    Thread.sleep(Duration.ofSeconds(lingerSeconds));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            acceptor.interrupt();
            try {
                acceptor.join(Duration.ofSeconds(2));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return status;
        }
    }

    private static String describe(SharedMachine m) {
        return describe(m.layout());
    }

    private static String describe(List<SharedRamRegion> layout) {
        StringBuilder sb = new StringBuilder();
        for (SharedRamRegion r : layout) {
            sb.append(sb.isEmpty() ? "" : ", ").append(describe(r));
        }
        return sb.toString();
    }

    private static String describe(SharedRamRegion r) {
        return "memfd RAM '" + r.name() + "' 0x" + Long.toHexString(r.size()) + " bytes at guest 0x" + Long.toHexString(r.guestAddr());
    }

    /** Runs commands from the list, or from {@code in} when the list is empty; {@code serving} for serve's side. */
    private static int console(SharedMachine m, boolean serving, List<String> commands, InputStream in, PrintStream out,
                               PrintStream err) {
        if (!commands.isEmpty()) {
            for (String c : commands) {
                if (c.strip().equals("quit")) {
                    break; // as on the console: the commands after it are not run
                }
                int s = execute(m, serving, c, out, err);
                if (s != Command.OK) {
                    return s;
                }
            }
            return Command.OK;
        }
        out.println("type 'help' for commands");
        out.flush();
        int failed = 0; // each failure printed its own line
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            String line;
            while ((line = r.readLine()) != null) {
                if (line.strip().equals("quit")) {
                    break;
                }
                if (execute(m, serving, line, out, err) != Command.OK) {
                    failed++; // the console goes on; the exit status tells a script that something failed
                }
                out.flush();
            }
        } catch (IOException e) {
            err.println("guestmem share: reading commands: " + e.getMessage());
            return Command.FAILED;
        }
        return failed > 0 ? Command.FAILED : Command.OK;
    }

    /**
     * Runs one console command against a machine.
     *
     * @param serving whether this is the serving side (the only one that plugs and unplugs)
     * @return {@link Command#OK}, or {@link Command#FAILED} with a message on {@code err}
     */
    static int execute(SharedMachine m, boolean serving, String line, PrintStream out, PrintStream err) {
        String[] w = line.strip().split("\\s+", 3);
        AddressSpace as = m.addressSpace();
        try {
            switch (w[0]) {
                case "" -> {
                    return Command.OK;
                }
                case "help" -> out.println(USAGE.substring(USAGE.indexOf("commands (standard input")));
                case "layout" -> out.println(describe(m));
                case "xp" -> {
                    need(w, 3, "xp /FMT ADDR");
                    DumpPrinter.print(XpFormat.parse(w[1]), Numbers.parseAddress(w[2]), false, (a, buf, len) ->
                            as.read(a, MemTxAttrs.UNSPECIFIED, buf, 0, len) == MemTxResult.OK ? null : MemoryDump.CANNOT_ACCESS, out);
                }
                case "read" -> {
                    need(w, 3, "read ADDR LEN");
                    long len = Numbers.parseAddress(w[2]);
                    if (Long.compareUnsigned(len, MAX_READ) > 0) { // the bytes are allocated before the read
                        throw new IllegalArgumentException("read LEN " + w[2] + " is too long: at most " + MAX_READ
                                + " bytes (xp /FMT ADDR prints more)");
                    }
                    byte[] buf = new byte[(int) len];
                    int r = as.read(Numbers.parseAddress(w[1]), MemTxAttrs.UNSPECIFIED, buf, 0, buf.length);
                    if (r != MemTxResult.OK) {
                        throw new IllegalArgumentException("read failed: " + MemTxResult.toString(r));
                    }
                    out.println(quote(buf));
                }
                case "write", "writex" -> {
                    need(w, 3, w[0] + " ADDR " + (w[0].equals("write") ? "TEXT" : "HEXBYTES"));
                    byte[] data = w[0].equals("write") ? w[2].getBytes(StandardCharsets.UTF_8) : Numbers.parseHexBytes(w[2]);
                    long a = Numbers.parseAddress(w[1]);
                    int r = as.write(a, MemTxAttrs.UNSPECIFIED, data, 0, data.length);
                    if (r != MemTxResult.OK) {
                        throw new IllegalArgumentException("write failed: " + MemTxResult.toString(r));
                    }
                    out.println("wrote " + data.length + " bytes at 0x" + Long.toHexString(a));
                }
                case "wait" -> {
                    need(w, 3, "wait ADDR TEXT [SECONDS]");
                    return await(as, Numbers.parseAddress(w[1]), w[2], out, err);
                }
                case "plug" -> {
                    servingOnly(serving, w[0]);
                    String[] p = line.strip().split("\\s+");
                    if (p.length != 4) {
                        throw new IllegalArgumentException("usage: plug NAME ADDR SIZE");
                    }
                    SharedRamRegion r = new SharedRamRegion(p[1], Numbers.parseAddress(p[2]), Numbers.parseSize(p[3]));
                    m.plug(r);
                    out.println("plugged " + describe(r));
                }
                case "unplug" -> {
                    servingOnly(serving, w[0]);
                    if (w.length != 2) {
                        throw new IllegalArgumentException("usage: unplug NAME");
                    }
                    m.unplug(w[1]);
                    out.println("unplugged '" + w[1] + "'");
                }
                default -> throw new IllegalArgumentException("unknown command '" + w[0] + "' (try help)");
            }
            return Command.OK;
        } catch (IllegalArgumentException | ArithmeticException e) {
            err.println("guestmem share: " + e.getMessage());
            return Command.FAILED;
        } catch (IllegalStateException | RamBackendException | ShareException e) {
            // plug/unplug: a closed machine, no memfd to be had, a server that cannot pass the
            // block on; nothing changed (a region still managed is an IllegalArgumentException)
            err.println("guestmem share: " + w[0] + ": " + e.getMessage());
            return Command.FAILED;
        }
    }

    private static void servingOnly(boolean serving, String command) {
        if (!serving) {
            throw new IllegalArgumentException(command + ": only the serving side plugs and unplugs regions; "
                    + "attach with --follow to be told of the server's changes");
        }
    }

    private static int await(AddressSpace as, long addr, String rest, PrintStream out, PrintStream err) {
        String text = rest;
        long seconds = 30;
        int sp = rest.lastIndexOf(' ');
        if (sp > 0 && rest.substring(sp + 1).chars().allMatch(Character::isDigit)) {
            text = rest.substring(0, sp);
            seconds = seconds("wait", rest.substring(sp + 1));
        }
        byte[] want = text.getBytes(StandardCharsets.UTF_8);
        byte[] have = new byte[want.length];
        long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        while (true) {
            as.read(addr, MemTxAttrs.UNSPECIFIED, have, 0, have.length);
            if (Arrays.equals(want, have)) {
                out.println("saw " + quote(want) + " at 0x" + Long.toHexString(addr));
                return Command.OK;
            }
            if (System.nanoTime() - deadline > 0) {
                err.println("guestmem share: timed out after " + seconds + " s waiting for " + quote(want) + " at 0x"
                        + Long.toHexString(addr) + "; it holds " + quote(have));
                return Command.FAILED;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Command.FAILED;
            }
        }
    }

    private static void need(String[] w, int n, String usage) {
        if (w.length < n) {
            throw new IllegalArgumentException("usage: " + usage);
        }
    }

    private static String quote(byte[] b) {
        StringBuilder sb = new StringBuilder("\"");
        for (byte x : b) {
            int c = x & 0xff;
            if (c == '"' || c == '\\') {
                sb.append('\\').append((char) c);
            } else if (c >= 32 && c < 127) {
                sb.append((char) c);
            } else {
                sb.append(String.format("\\x%02x", c));
            }
        }
        return sb.append('"').toString();
    }
}
