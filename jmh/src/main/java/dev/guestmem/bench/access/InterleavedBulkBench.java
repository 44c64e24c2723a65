package dev.guestmem.bench.access;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
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
 * P5 measured as P1-P4 are: every invocation runs {@link BulkBench}'s guest read and raw read back
 * to back, then its guest write and raw write, the order alternating, and times each arm into
 * counters; a pair over 3x its recent typical time (a preemption) is left out whole ({@link ArmPair}). Separate JMH
 * runs of the bulk arms moved P5 between 0.86 and 0.97 on this shared machine, across its 0.9 line.
 * P5 = the worst of raw ns / guest ns over read and write at both sizes.
 *
 * <p><b>Thread safety.</b> JMH state, one benchmark thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class InterleavedBulkBench {
    /** Bytes per call. */
    @Param({"65536", "1048576"})
    public int size;

    private BulkBench bulk;
    private long op;
    private ArmPair reads;
    private ArmPair writes;

    /** Nanoseconds per arm in an iteration (JMH reports them as secondary results). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Times {
        /** {@code AddressSpace.read}. */
        public long readGuestNs;
        /** {@code MemorySegment.copy} out of RAM. */
        public long readRawNs;
        /** {@code AddressSpace.write}. */
        public long writeGuestNs;
        /** {@code MemorySegment.copy} into RAM. */
        public long writeRawNs;
        /** Arm pairs counted. */
        public long keptPairs;

        /** Clears the counters. */
        @Setup(Level.Iteration)
        public void reset() {
            readGuestNs = 0;
            readRawNs = 0;
            writeGuestNs = 0;
            writeRawNs = 0;
            keptPairs = 0;
        }
    }

    /** Creates the state (JMH). */
    public InterleavedBulkBench() {
    }

    /** Builds {@link BulkBench}'s machine and buffer for {@link #size}. */
    @Setup(Level.Trial)
    public void setUp() {
        bulk = new BulkBench();
        bulk.size = size;
        bulk.setUp();
        reads = new ArmPair(this::guestRead, this::rawRead);
        writes = new ArmPair(this::guestWrite, this::rawWrite);
    }

    /** Releases them. */
    @TearDown(Level.Trial)
    public void tearDown() {
        bulk.tearDown();
    }

    /**
     * One invocation: the read pair, then the write pair.
     *
     * @param t the counters
     */
    @Benchmark
    public void interleaved(Times t) {
        boolean guestFirst = (op++ & 1) == 0;
        if (reads.run(guestFirst)) {
            t.readGuestNs += reads.guestNs();
            t.readRawNs += reads.rawNs();
            t.keptPairs++;
        }
        if (writes.run(guestFirst)) {
            t.writeGuestNs += writes.guestNs();
            t.writeRawNs += writes.rawNs();
        }
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void guestRead() {
        bulk.read();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void rawRead() {
        bulk.rawRead();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void guestWrite() {
        bulk.write();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void rawWrite() {
        bulk.rawWrite();
    }
}
