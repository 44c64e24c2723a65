package dev.guestmem.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeSet;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;

/**
 * The results of one group run, looked up by {@code ClassSimpleName.method} and optional
 * parameters, as {@link Target} measures need them.
 *
 * {@snippet lang=java :
 * double anon = r.score("RamWriteBench.fill", "backend=anonymous");
 * double alloc = r.secondary("AccessBench.ldl", "", "gc.alloc.rate.norm");
 * }
 *
 * <p><b>Thread safety.</b> Immutable after construction.
 */
public final class BenchResults {
    private final List<RunResult> runs;

    /**
     * Wraps JMH's results.
     *
     * @param runs what {@code Runner.run()} returned
     */
    public BenchResults(Collection<RunResult> runs) {
        this.runs = List.copyOf(runs);
    }

    /**
     * Returns the primary score of the only run of a benchmark.
     *
     * @param benchmark {@code ClassSimpleName.method}
     * @return the score in the benchmark's unit
     * @throws NoSuchElementException if no run matches, or several do (give parameters)
     */
    public double score(String benchmark) {
        return score(benchmark, "");
    }

    /**
     * Returns the primary score of the run of a benchmark with the given parameters.
     *
     * @param benchmark {@code ClassSimpleName.method}
     * @param params {@code "name=value,name=value"}; parameters not named may have any value
     * @return the score in the benchmark's unit
     * @throws NoSuchElementException if no run matches, or several do
     */
    public double score(String benchmark, String params) {
        return find(benchmark, params).getPrimaryResult().getScore();
    }

    /**
     * Returns a secondary metric of a run, such as a profiler's {@code ·gc.alloc.rate.norm}.
     *
     * @param benchmark {@code ClassSimpleName.method}
     * @param params {@code "name=value,..."}, or empty
     * @param metric the label, with or without JMH's leading {@code ·}
     * @return the metric's score
     * @throws NoSuchElementException if the run or the metric is missing (run with the profiler)
     */
    public double secondary(String benchmark, String params, String metric) {
        RunResult run = find(benchmark, params);
        Map<String, Result> sec = run.getSecondaryResults();
        String label = metric.startsWith("·") ? metric : "·" + metric;
        Result r = sec.get(label);
        if (r == null) {
            r = sec.get(metric);
        }
        if (r == null) {
            throw new NoSuchElementException("no secondary metric " + metric + " for " + benchmark + " [" + params
                    + "]; present: " + sec.keySet() + " (is the profiler on?)");
        }
        return r.getScore();
    }

    /** @return every run as {@code ClassSimpleName.method [params]}, for messages */
    public List<String> names() {
        List<String> out = new ArrayList<>();
        for (RunResult r : runs) {
            out.add(simpleName(r.getParams()) + " " + params(r.getParams()));
        }
        return out;
    }

    /** @return the underlying JMH results */
    public List<RunResult> runs() {
        return runs;
    }

    private RunResult find(String benchmark, String params) {
        Map<String, String> want = parseParams(params);
        List<RunResult> hits = new ArrayList<>();
        for (RunResult r : runs) {
            BenchmarkParams p = r.getParams();
            if (!simpleName(p).equals(benchmark)) {
                continue;
            }
            boolean all = true;
            for (Map.Entry<String, String> e : want.entrySet()) {
                all &= e.getValue().equals(p.getParam(e.getKey()));
            }
            if (all) {
                hits.add(r);
            }
        }
        if (hits.size() != 1) {
            throw new NoSuchElementException((hits.isEmpty() ? "no run of " : hits.size() + " runs of ") + benchmark
                    + " [" + params + "]; runs: " + new TreeSet<>(names()));
        }
        return hits.get(0);
    }

    private static Map<String, String> parseParams(String params) {
        Map<String, String> m = new LinkedHashMap<>();
        if (params == null || params.isBlank()) {
            return m;
        }
        for (String kv : params.split(",")) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("parameter " + kv + " is not name=value in " + params);
            }
            m.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
        }
        return m;
    }

    /** {@code dev.guestmem.bench.ram.RamWriteBench.fill} becomes {@code RamWriteBench.fill}. */
    private static String simpleName(BenchmarkParams p) {
        String full = p.getBenchmark();
        int method = full.lastIndexOf('.');
        int cls = full.lastIndexOf('.', method - 1);
        return full.substring(cls + 1);
    }

    private static String params(BenchmarkParams p) {
        StringBuilder sb = new StringBuilder();
        for (String k : p.getParamsKeys()) {
            sb.append(sb.isEmpty() ? "" : ",").append(k).append('=').append(p.getParam(k));
        }
        return sb.toString();
    }
}
