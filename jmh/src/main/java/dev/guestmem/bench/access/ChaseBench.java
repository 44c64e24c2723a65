package dev.guestmem.bench.access;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * TARGETS P2 as a memory-latency-bound loop: the same 4-byte load and store as
 * {@link LoadStoreBench}, over 256 MiB, where each guest address comes from the word loaded before
 * (a random cyclic walk through 2^20 cache lines spread over the whole block, as a guest walking a
 * linked structure). Each access then waits for memory, and what the access path adds shows as
 * added latency per access rather than as fewer misses in flight.
 *
 * <p>{@code LoadStoreBench} with {@code set=random} keeps the independent-address form, where the
 * loop is bound by how many misses the core keeps in flight (its instruction window), not by memory:
 * a longer path there means fewer overlapping misses. Both are reported; see docs/benchmarks.md.
 *
 * <p>Both arms have the emulator-loop shape of {@code LoadStoreBench} (exit-request poll, memory
 * from a field) and walk the same chain from the same place.
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ChaseBench {
    static final int OPS = 1024;
    static final long BASE = LoadStoreBench.BASE;
    static final long RAM = 256L << 20;
    /** One chain slot per 256 bytes: 2^20 slots, each on its own cache line. */
    static final int SLOTS = 1 << 20;
    private static final ValueLayout.OfInt LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RamBlock block;
    private MemorySegment seg;
    private AddressSpace as;
    /** Where each arm's walk goes on from (guest address). */
    private long rawNext;
    private long asNext;
    /** The CPU loop's exit request; never set (see LoadStoreBench). */
    private volatile boolean exitRequest;

    /** Creates the state (JMH). */
    public ChaseBench() {
    }

    /** Builds the machine and writes one random cycle through all slots into guest RAM. */
    @Setup(Level.Trial)
    public void setUp() {
        block = RamBlock.anonymous("pc.ram", RAM);
        seg = block.segment();
        seg.fill((byte) 0); // pre-fault every page
        as = LoadStoreBench.pcLikeMachine(block); // the same map as P1
        int[] order = new int[SLOTS];
        for (int i = 0; i < SLOTS; i++) {
            order[i] = i;
        }
        SplittableRandom rnd = new SplittableRandom(2);
        for (int i = SLOTS - 1; i > 0; i--) { // Fisher-Yates: one random cycle order[0] -> order[1] -> ...
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < SLOTS; i++) {
            long here = (long) order[i] * 256;
            long next = (long) order[(i + 1) % SLOTS] * 256;
            seg.set(LE, here, (int) (next >>> 2)); // the word holds the next slot's word index
        }
        rawNext = BASE + (long) order[0] * 256;
        asNext = rawNext;
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        block.close();
    }

    /**
     * Baseline: load, store back, follow, straight on the segment.
     *
     * @return the last word, so nothing is dead code
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int raw() {
        long addr = rawNext;
        int v = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            MemorySegment s = seg;
            v = s.get(LE, addr - BASE);
            s.set(LE, addr - BASE, v);
            addr = BASE + ((long) v << 2);
        }
        rawNext = addr;
        return v;
    }

    /**
     * The same walk through the address space.
     *
     * @return the last word
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int addressSpace() {
        long addr = asNext;
        int v = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            AddressSpace a = as;
            v = a.ldlLe(addr);
            a.stlLe(addr, v);
            addr = BASE + ((long) v << 2);
        }
        asNext = addr;
        return v;
    }
}
