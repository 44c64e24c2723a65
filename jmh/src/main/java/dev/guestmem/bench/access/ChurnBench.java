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
 * TARGETS P12: 4-byte loads from two threads while a third changes the topology (moves a device
 * region, every 100 us) against the same loads while the third thread only sleeps as long. Reported
 * per group as the secondary results {@code churnLoads} and {@code quietLoads}: invocations per us
 * of the two reader threads together, one invocation being 256 loads. (An earlier version declared
 * {@code @OperationsPerInvocation(256)} on the readers; JMH does not apply it to secondary results
 * of a group, so the figures were invocations labelled as loads and looked ~100x slower than
 * {@code LoadStoreBench}. A stand-alone loop of the same loads runs at ~2.1 ns a load, i.e. ~550 ns
 * an invocation, which is what the group reported. The churn/quiet ratio was never affected.)
 *
 * <p><b>Thread safety.</b> The machine is shared by the three threads of a group (Scope.Group); the
 * readers never lock.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ChurnBench {
    static final int OPS = 256;
    static final long BASE = 1L << 30;

    private RamBlock block;
    private AddressSpace as;
    private IoRegion dev;
    private long[] offsets;
    private long changes;

    /** Creates the state (JMH). */
    public ChurnBench() {
    }

    /** Builds the machine. */
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
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        block.close();
    }

    private int loads() {
        AddressSpace a = as;
        long[] o = offsets;
        int sum = 0;
        for (int i = 0; i < o.length; i++) {
            sum += a.ldlLe(BASE + o[i]);
        }
        return sum;
    }

    /**
     * Reader while the topology changes.
     *
     * @return a sum
     */
    @Benchmark
    @Group("churn")
    @GroupThreads(2)
    public int churnLoads() {
        return loads();
    }

    /** The topology writer: one BAR move (a full commit and publication), then a 100 us pause. */
    @Benchmark
    @Group("churn")
    @GroupThreads(1)
    public void churnWriter() {
        dev.setAddress((changes++ & 1) == 0 ? 0xE0100000L : 0xE0000000L);
        LockSupport.parkNanos(100_000);
    }

    /**
     * Reader with no topology change.
     *
     * @return a sum
     */
    @Benchmark
    @Group("quiet")
    @GroupThreads(2)
    public int quietLoads() {
        return loads();
    }

    /** The idle third thread: the same pause, no change. */
    @Benchmark
    @Group("quiet")
    @GroupThreads(1)
    public void quietWriter() {
        LockSupport.parkNanos(100_000);
    }
}
