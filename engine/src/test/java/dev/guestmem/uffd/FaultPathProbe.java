package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Exploratory probe of the page server's random-fault path (TARGETS P10b), the shape of
 * {@code RestoreBench.javaRandomFaults}: a fresh server per round, no prefetch, random distinct
 * pages touched once. Prints per round the wall time, the server's fault service times and the
 * CPU time of each server thread (from {@code /proc/PID/task/TID/stat}): how much of the serving
 * is the main thread and how much the JIT compilers competing for the two cores. Not a benchmark
 * and not a CI test: {@code -Dguestmem.audit=true}; {@code guestmem.probe.rounds},
 * {@code guestmem.probe.faults}, {@code guestmem.probe.mib}, {@code guestmem.probe.jvm} (server
 * JVM options, comma-separated), {@code guestmem.probe.perf} (a {@code perf record} output file
 * prefix: the server recorded while it serves), {@code guestmem.probe.c} (the bench's C handler,
 * compiled: the same faults served by it first).
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class FaultPathProbe {
    private static final long PAGE = 4096;

    @Test
    void randomFaults() throws Exception {
        int rounds = Integer.getInteger("guestmem.probe.rounds", 3);
        int faults = Integer.getInteger("guestmem.probe.faults", 16384);
        long size = Long.getLong("guestmem.probe.mib", 128L) << 20;
        String jvm = System.getProperty("guestmem.probe.jvm", "");
        List<String> opts = jvm.isEmpty() ? List.of() : List.of(jvm.split(","));
        Path dir = Files.createTempDirectory("gm-fault-probe");
        Path snap = dir.resolve("ram.gms");
        MemorySegment src = map(size);
        for (long o = 0; o < size; o += 8) {
            src.set(ValueLayout.JAVA_LONG, o, o | 1);
        }
        SnapshotWriter.write(snap, List.of(new SnapshotBlock("pc.ram", src, PAGE)), ProgressListener.NONE);
        LinuxCalls.munmap(src, size);
        long[] pages = randomPages(size / PAGE, faults);
        String cHandler = System.getProperty("guestmem.probe.c");
        if (cHandler != null) {
            cRounds(Path.of(cHandler), dir, size, pages, rounds);
        }
        try (SnapshotFile file = SnapshotFile.open(snap)) {
            SnapshotChain chain = SnapshotChain.of(file);
            for (int round = 0; round < rounds; round++) {
                MemorySegment ram = map(size);
                long s0 = System.nanoTime();
                try (PageServerProcess server = PageServerProcess.start(opts)) {
                    long startNanos = System.nanoTime() - s0;
                    LazyRestore restore = LazyRestore.start(server, chain, List.of(new SnapshotBlock("pc.ram", ram, PAGE)),
                            new LazyRestore.Options(false, false));
                    Map<String, Long> before = threadCpu(server.pid());
                    String perfOut = System.getProperty("guestmem.probe.perf");
                    Process perf = perfOut == null ? null : new ProcessBuilder("perf", "record", "-F", "4999", "-g", "-o",
                            perfOut + "." + round, "-p", Long.toString(server.pid())).inheritIO().start();
                    if (perf != null) {
                        Thread.sleep(1000); // perf attached
                    }
                    long t0 = System.nanoTime();
                    long sum = 0;
                    for (long p : pages) {
                        sum += ram.get(ValueLayout.JAVA_LONG, p * PAGE);
                    }
                    long wall = System.nanoTime() - t0;
                    Map<String, Long> after = threadCpu(server.pid());
                    if (perf != null) {
                        new ProcessBuilder("kill", "-INT", Long.toString(perf.pid())).start().waitFor();
                        perf.waitFor();
                    }
                    FaultMetrics m = restore.metrics();
                    restore.close();
                    long expect = 0;
                    for (long p : pages) {
                        expect += p * PAGE | 1;
                    }
                    assertEquals(expect, sum, "the restored words");
                    StringBuilder cpu = new StringBuilder();
                    after.forEach((k, v) -> {
                        long d = v - before.getOrDefault(k, 0L);
                        if (d > 0) {
                            cpu.append(' ').append(k).append('=').append(d * 10).append("ms");
                        }
                    });
                    System.out.printf("PROBE round %d: server started in %.0f ms; %d faults in %.1f ms (%.1f us/fault); %s;%s%n", round,
                            startNanos / 1e6, faults, wall / 1e6, wall / 1e3 / faults, m, cpu);
                } finally {
                    LinuxCalls.munmap(ram, size);
                }
            }
        } finally {
            Files.deleteIfExists(snap);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * The same faults served by the bench's C handler (binary given), the target registered here
     * and the uffd handed over as {@code RestoreBench.CFaulting} does; the raw image holds the
     * snapshot's words.
     */
    private static void cRounds(Path bin, Path dir, long size, long[] pages, int rounds) throws Exception {
        Path image = dir.resolve("ram.raw");
        int fd = LinuxCalls.open(image.toString(), Linux.O_RDWR() | Linux.O_CREAT() | Linux.O_TRUNC(), 0600);
        LinuxCalls.ftruncate(fd, size);
        MemorySegment img = LinuxCalls.mmap(MemorySegment.NULL, size, Linux.PROT_READ() | Linux.PROT_WRITE(), Linux.MAP_SHARED(), fd, 0);
        for (long o = 0; o < size; o += 8) {
            img.set(ValueLayout.JAVA_LONG, o, o | 1);
        }
        LinuxCalls.munmap(img, size);
        LinuxCalls.close(fd);
        try {
            for (int round = 0; round < rounds; round++) {
                MemorySegment ram = map(size);
                Uffd u = Uffd.open(new long[1], false);
                u.registerMissing(ram.address(), size);
                String sock = dir.resolve("c.sock").toString();
                int listen = LinuxCalls.unixListen(sock);
                Process h = new ProcessBuilder(bin.toString(), sock, image.toString()).inheritIO().start();
                int conn = LinuxCalls.unixAccept(listen);
                LinuxCalls.sendWithFds(conn, (ram.address() + " " + size + "\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII), u.fd);
                LinuxCalls.recvWithFds(conn, 1, 0);
                Map<String, Long> before = threadCpu(h.pid());
                String perfOut = System.getProperty("guestmem.probe.perf");
                Process perf = perfOut == null ? null : new ProcessBuilder("perf", "record", "-F", "4999", "-g", "-o",
                        perfOut + ".c" + round, "-p", Long.toString(h.pid())).inheritIO().start();
                if (perf != null) {
                    Thread.sleep(1000); // perf attached
                }
                long t0 = System.nanoTime();
                long sum = 0;
                for (long p : pages) {
                    sum += ram.get(ValueLayout.JAVA_LONG, p * PAGE);
                }
                long wall = System.nanoTime() - t0;
                Map<String, Long> after = threadCpu(h.pid());
                if (perf != null) {
                    new ProcessBuilder("kill", "-INT", Long.toString(perf.pid())).start().waitFor();
                    perf.waitFor();
                }
                LinuxCalls.close(conn);
                LinuxCalls.close(listen);
                h.waitFor();
                u.close();
                LinuxCalls.munmap(ram, size);
                Files.deleteIfExists(Path.of(sock));
                StringBuilder cpu = new StringBuilder();
                after.forEach((k, v) -> cpu.append(' ').append(k).append('=').append((v - before.getOrDefault(k, 0L)) * 10).append("ms"));
                System.out.printf("PROBE C round %d: %d faults in %.1f ms (%.1f us/fault), sum %d;%s%n", round, pages.length,
                        wall / 1e6, wall / 1e3 / pages.length, sum, cpu);
            }
        } finally {
            Files.deleteIfExists(image);
        }
    }

    private static long[] randomPages(long total, int n) {
        long[] order = new long[(int) total];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        SplittableRandom r = new SplittableRandom(7);
        for (int i = order.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            long t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        return java.util.Arrays.copyOf(order, Math.min(n, order.length));
    }

    /** User and system clock ticks per thread name (threads of one name summed). */
    private static Map<String, Long> threadCpu(long pid) throws java.io.IOException {
        Map<String, Long> out = new TreeMap<>();
        List<Path> tasks = new ArrayList<>();
        try (var s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            s.forEach(tasks::add);
        }
        for (Path t : tasks) {
            String stat;
            try {
                stat = Files.readString(t.resolve("stat"));
            } catch (java.io.IOException e) {
                continue; // thread gone
            }
            String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(' ', '_');
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            String key = name.replaceAll("#?\\d+$", "");
            out.merge(key + ".usr", Long.parseLong(f[11]), Long::sum);
            out.merge(key + ".sys", Long.parseLong(f[12]), Long::sum);
        }
        return out;
    }

    private static MemorySegment map(long size) {
        return LinuxCalls.mmap(MemorySegment.NULL, size, Linux.PROT_READ() | Linux.PROT_WRITE(),
                Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS() | Linux.MAP_NORESERVE(), -1, 0);
    }
}
