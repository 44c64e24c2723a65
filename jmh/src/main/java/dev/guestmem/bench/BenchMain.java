package dev.guestmem.bench;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormat;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * {@code ./guestmem bench GROUP [--quick] [--prof NAME[:opts]]... [-p name=v1,v2]... [--forks N]}:
 * runs a group's JMH benchmarks, keeps JMH's log and JSON under {@code jmh/target/bench/GROUP/},
 * and ends with one line per target in the fixed form {@code P11 ratio=0.97 target=>=0.9 PASS}
 * (MISS when not met) that other tools read.
 *
 * <p>Exit status: 0 when the run completed (PASS or MISS), 1 if a target could not be measured or
 * JMH failed, 2 for a bad command line or unknown group.
 *
 * <p><b>Thread safety.</b> A command-line entry point; single-threaded.
 */
public final class BenchMain {
    private BenchMain() {
    }

    /**
     * Entry point.
     *
     * @param args {@code GROUP [--quick] [--prof NAME]... [-p name=values]... [--forks N]}
     */
    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    /**
     * Runs the command; separate from {@link #main} so that it can be tested.
     *
     * @param args the arguments
     * @param out where JMH's output and the target lines go
     * @param err where usage errors go
     * @return the exit status
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        String groupName = null;
        boolean quick = false;
        Integer forks = null;
        List<String> profilers = new ArrayList<>();
        List<String[]> params = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--quick" -> quick = true;
                case "--prof", "-prof" -> {
                    if (++i == args.length) {
                        return usage(err, "--prof needs a profiler name (gc, stack, perfasm...)");
                    }
                    profilers.add(args[i]);
                }
                case "-p", "--param" -> {
                    if (++i == args.length || !args[i].contains("=")) {
                        return usage(err, "-p needs name=value[,value]");
                    }
                    String[] kv = args[i].split("=", 2);
                    params.add(new String[] {kv[0], kv[1]});
                }
                case "--forks" -> {
                    if (++i == args.length) {
                        return usage(err, "--forks needs a number");
                    }
                    try {
                        forks = Integer.parseInt(args[i]);
                    } catch (NumberFormatException e) {
                        forks = -1;
                    }
                    if (forks < 0) { // JMH's own check throws, after the output directory is made
                        return usage(err, "--forks needs a number from 0 (0 runs in this JVM), got " + args[i]);
                    }
                }
                case "-h", "--help" -> {
                    usage(out, null);
                    return 0;
                }
                default -> {
                    if (a.startsWith("-")) {
                        return usage(err, "unknown option " + a);
                    }
                    if (groupName != null) {
                        return usage(err, "one group at a time (got " + groupName + " and " + a + ")");
                    }
                    groupName = a;
                }
            }
        }
        if (groupName == null) {
            return usage(err, "no group given");
        }
        BenchGroup group = BenchGroups.byName(groupName);
        if (group == null) {
            return usage(err, "unknown group '" + groupName + "'");
        }

        Path dir = Path.of(System.getProperty("guestmem.bench.dir", "jmh/target/bench"), group.name());
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            err.println("bench: cannot create " + dir + ": " + e.getMessage());
            return 1;
        }
        ChainedOptionsBuilder opts = new OptionsBuilder()
                .include(group.includeRegex())
                .resultFormat(ResultFormatType.JSON)
                .result(dir.resolve("result.json").toString())
                // Forked JVMs need native access like this one (the jar manifest only covers -jar).
                .jvmArgsAppend("--enable-native-access=ALL-UNNAMED");
        if (quick) {
            opts.forks(1)
                    .warmupIterations(2).warmupTime(TimeValue.seconds(1))
                    .measurementIterations(3).measurementTime(TimeValue.seconds(1))
                    .timeout(TimeValue.minutes(2));
        }
        if (forks != null) {
            opts.forks(forks);
        }
        List<String> allProfilers = new ArrayList<>(group.profilers());
        allProfilers.addAll(profilers);
        for (String p : allProfilers) {
            int colon = p.indexOf(':');
            if (colon < 0) {
                opts.addProfiler(p);
            } else {
                opts.addProfiler(p.substring(0, colon), p.substring(colon + 1));
            }
        }
        if (quick) {
            group.quickParams().forEach((k, v) -> {
                if (params.stream().noneMatch(kv -> kv[0].equals(k))) {
                    opts.param(k, v.split(","));
                }
            });
        }
        for (String[] kv : params) {
            opts.param(kv[0], kv[1].split(","));
        }

        Collection<RunResult> runs;
        try (OutputStream log = new FileOutputStream(dir.resolve("log.txt").toFile());
             PrintStream tee = new PrintStream(new Tee(out, log), true, StandardCharsets.UTF_8)) {
            OutputFormat format = OutputFormatFactory.createFormatInstance(tee, VerboseMode.NORMAL);
            long t0 = System.nanoTime();
            runs = new Runner(opts.build(), format).run();
            tee.printf(Locale.ROOT, "%nbench %s: %d runs in %d s; JSON %s, log %s%n", group.name(), runs.size(),
                    TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0), dir.resolve("result.json"), dir.resolve("log.txt"));
            int status = runs.isEmpty() ? 1 : 0;
            if (runs.isEmpty()) {
                tee.println("bench " + group.name() + ": no benchmark ran (include " + group.includeRegex() + ")");
            }
            StringBuilder lines = new StringBuilder();
            BenchResults results = new BenchResults(runs);
            for (Target t : group.targets()) {
                String line;
                try {
                    double v = t.measure().applyAsDouble(results);
                    boolean ok = !Double.isNaN(v) && t.pass().test(v);
                    line = targetLine(t.id(), v, t.targetText(), ok);
                } catch (RuntimeException e) {
                    tee.println("bench: cannot measure " + t.id() + ": " + e.getMessage());
                    line = targetLine(t.id(), Double.NaN, t.targetText(), false);
                    status = 1;
                }
                lines.append(line).append('\n');
            }
            tee.print(lines);
            Files.writeString(dir.resolve("targets.txt"), lines);
            return status;
        } catch (RunnerException e) {
            err.println("bench " + group.name() + ": JMH failed: " + e.getMessage());
            return 1;
        } catch (IOException e) {
            err.println("bench " + group.name() + ": " + e.getMessage());
            return 1;
        }
    }

    /**
     * Formats one target line: {@code ID ratio=X.XX target=T PASS|MISS}.
     *
     * @param id the target id
     * @param value the figure
     * @param targetText the target as text
     * @param pass whether it is met
     * @return the line, without a newline
     */
    public static String targetLine(String id, double value, String targetText, boolean pass) {
        return String.format(Locale.ROOT, "%s ratio=%.2f target=%s %s", id, value, targetText, pass ? "PASS" : "MISS");
    }

    private static int usage(PrintStream to, String problem) {
        if (problem != null) {
            to.println("bench: " + problem);
        }
        to.println("usage: ./guestmem bench GROUP [--quick] [--prof NAME[:opts]]... [-p name=v1,v2]... [--forks N]");
        StringBuilder names = new StringBuilder();
        for (BenchGroup g : BenchGroups.ALL) {
            names.append(names.isEmpty() ? "" : ", ").append(g.name());
        }
        to.println("groups: " + names);
        return 2;
    }

    /** Writes to the console and the log file. */
    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int c) throws IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws IOException {
            a.flush();
            b.flush();
        }

        @Override
        public void close() throws IOException {
            flush(); // the console is not ours to close; the log is closed by its owner
        }
    }
}
