package dev.guestmem.bench.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * TARGETS P12: 4-byte loads from two threads while a third changes the topology, against the same
 * loads with no topology change, both in one run. The third thread alternates 20 ms phases: in a
 * churn phase it moves a device region (a full commit and publication) and parks 100 us, in a quiet
 * phase it only parks 100 us. Each reader invocation (1024 loads) is timed and credited to the phase
 * it ran in (invocations that straddle a phase change are left out), so both sides of the ratio see
 * the same neighbours, the same JIT state and the same scheduling of three threads on two cores:
 * P12 = (churn invocations / churn ns) / (quiet invocations / quiet ns).
 *
 * <p>The writer is warmed in setup (thousands of commits), so the commits measured are steady-state
 * ones, not the first seconds of interpreted and C1 code. An earlier form ran the churn and quiet
 * groups as separate JMH runs; on this shared machine their quiet side alone swung 2x between runs.
 *
 * <p><b>Thread safety.</b> The machine is shared by the three threads of the group (Scope.Group);
 * the readers never lock; the phase is a volatile written by the writer only.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class ChurnBench {
    static final int OPS = 1024;
    static final long BASE = 1L << 30;
    static final long PHASE_NS = 20_000_000L;
    static final int WARM_COMMITS = 20_000;

    private RamBlock block;
    private AddressSpace as;
    private IoRegion dev;
    private long[] offsets;
    private long changes;
    private long phaseEnd;
    /** 1 during a churn phase, 0 during a quiet one; advanced by the writer only. */
    private volatile int phase;

    /** Per-reader time and invocations in each phase (JMH sums them over the readers). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Phases {
        /** Reader invocations completed inside churn phases. */
        public long churnInvocations;
        /** Their nanoseconds. */
        public long churnNs;
        /** Reader invocations completed inside quiet phases. */
        public long quietInvocations;
        /** Their nanoseconds. */
        public long quietNs;

        /** Clears the counters. */
        @Setup(Level.Iteration)
        public void reset() {
            churnInvocations = 0;
            churnNs = 0;
            quietInvocations = 0;
            quietNs = 0;
        }
    }

    /** Creates the state (JMH). */
    public ChurnBench() {
    }

    /** Builds the machine and warms the writer's commit path. */
    @Setup(Level.Trial)
    public void setUp() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        block = RamBlock.anonymous("pc.ram", 1 << 20);
        block.segment().fill((byte) 1);
        root.addSubregion(BASE, new RamRegion(sys, null, "pc.ram", block, false, false));
        for (int i = 0; i < 32; i++) { // some devices so each change renders a real view
            root.addSubregion(0xFE000000L + i * 0x2000L, new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((a, s) -> 0).build(), "dev" + i, 0x1000));
        }
        dev = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(), "bar", 0x1000);
        root.addSubregion(0xE0000000L, dev);
        as = sys.addressSpace(root, "memory");
        SplittableRandom rnd = new SplittableRandom(1);
        offsets = new long[OPS];
        for (int i = 0; i < OPS; i++) {
            offsets[i] = rnd.nextLong((16 << 10) / 4) * 4;
        }
        for (int i = 0; i < WARM_COMMITS; i++) {
            moveBar();
        }
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        block.close();
    }

    private void moveBar() {
        dev.setAddress((changes++ & 1) == 0 ? 0xE0100000L : 0xE0000000L);
    }

    /**
     * A reader: 1024 loads, credited to the phase they ran in.
     *
     * @param p the reader's counters
     * @return a sum
     */
    @Benchmark
    @Group("churn")
    @GroupThreads(2)
    public int reader(Phases p) {
        int before = phase;
        long t0 = System.nanoTime();
        AddressSpace a = as;
        long[] o = offsets;
        int sum = 0;
        for (int i = 0; i < o.length; i++) {
            sum += a.ldlLe(BASE + o[i]);
        }
        long dt = System.nanoTime() - t0;
        if (phase == before) {
            if (before == 1) {
                p.churnInvocations++;
                p.churnNs += dt;
            } else {
                p.quietInvocations++;
                p.quietNs += dt;
            }
        }
        return sum;
    }

    /** The third thread: in a churn phase one BAR move then a 100 us pause, in a quiet phase the pause only. */
    @Benchmark
    @Group("churn")
    @GroupThreads(1)
    public void writer() {
        long now = System.nanoTime();
        if (now - phaseEnd >= 0) {
            phase ^= 1;
            phaseEnd = now + PHASE_NS;
        }
        if (phase == 1) {
            moveBar();
        }
        LockSupport.parkNanos(100_000);
    }
}
