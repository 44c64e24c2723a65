package dev.guestmem.bench.ram;

import dev.guestmem.ram.RamBlock;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * P11 measured so that machine noise hits every backend alike: each operation writes the whole of
 * an anonymous, a memfd and a file block (256 MiB each, pre-faulted) one after the other, in an
 * order that rotates every operation, and times each write with {@code System.nanoTime()} into
 * auxiliary counters. P11 = anonymous nanoseconds / backend nanoseconds (a throughput ratio).
 * {@link RamWriteBench} measures the same writes one backend per JMH run, for the absolute table.
 *
 * <p><b>Thread safety.</b> JMH state, one benchmark thread.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 8, time = 2)
public class RamInterleavedBench {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;

    /** Write kernel: {@code fill} (memset) or {@code storeLongs} (8-byte store loop). */
    @Param({"fill", "storeLongs"})
    public String kernel;

    /** Block size in bytes. */
    @Param("268435456")
    public long size;

    /** Directory of the file backend's file. */
    @Param("/dev/shm")
    public String fileDir;

    private RamBlock anonymous;
    private RamBlock memfd;
    private RamBlock file;
    private Path path;
    private MemorySegment[] segments;
    private long op;
    private byte value;

    /** Nanoseconds spent writing each backend in an iteration (JMH reports them as secondary results). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Times {
        /** Time writing the anonymous block. */
        public long anonymousNs;
        /** Time writing the memfd block. */
        public long memfdNs;
        /** Time writing the file block. */
        public long fileNs;

        /** Clears the counters. */
        @Setup(Level.Iteration)
        public void reset() {
            anonymousNs = 0;
            memfdNs = 0;
            fileNs = 0;
        }
    }

    /** Creates and pre-faults the three blocks. */
    @Setup(Level.Trial)
    public void setUp() throws IOException {
        anonymous = RamBlock.anonymous("bench.anonymous", size);
        memfd = RamBlock.builder("bench.memfd", size).memfd().build();
        path = Files.createTempFile(Path.of(fileDir), "guestmem-bench-", ".ram");
        file = RamBlock.builder("bench.file", size).file(path).shared(true).build();
        segments = new MemorySegment[] {anonymous.segment(), memfd.segment(), file.segment()};
        for (MemorySegment s : segments) {
            s.fill((byte) 1); // pre-fault: measure stores, not page faults
        }
    }

    /** Releases the blocks and deletes the file. */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        anonymous.close();
        memfd.close();
        file.close();
        Files.deleteIfExists(path);
    }

    /**
     * Writes all three blocks once, rotating the order.
     *
     * @param t the per-backend time counters
     */
    @Benchmark
    public void interleaved(Times t) {
        int first = (int) (op++ % 3);
        boolean fill = kernel.equals("fill");
        byte v = ++value;
        for (int i = 0; i < 3; i++) {
            int which = (first + i) % 3;
            long t0 = System.nanoTime();
            if (fill) {
                segments[which].fill(v);
            } else {
                storeLongs(segments[which], v);
            }
            long dt = System.nanoTime() - t0;
            switch (which) {
                case 0 -> t.anonymousNs += dt;
                case 1 -> t.memfdNs += dt;
                default -> t.fileNs += dt;
            }
        }
    }

    private static void storeLongs(MemorySegment s, long v) {
        long n = s.byteSize();
        for (long off = 0; off < n; off += 8) {
            s.set(LONG, off, v);
        }
    }
}
