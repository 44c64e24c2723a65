package dev.guestmem.bench.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Fork;
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
 * Information (no target): a guest doorbell write that matches an ioeventfd ({@code guestKick}: the
 * address space's MMIO write path, the device's valid rules, the eventfd match, the eventfd's
 * {@code write(2)}) against signalling the same {@link EventNotifier} directly ({@code directSet}:
 * the system call alone). The counter is drained outside the timing now and then so it never
 * saturates. Run: {@code java --enable-native-access=ALL-UNNAMED -cp jmh/target/benchmarks.jar
 * org.openjdk.jmh.Main IoeventfdBench -prof gc} ({@code gc.alloc.rate.norm} shows the kick allocates
 * nothing).
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class IoeventfdBench {
    static final long NOTIFY = 0xfe00_3000L;

    private AddressSpace as;
    private EventNotifier kick;

    /** Creates the state (JMH). */
    public IoeventfdBench() {
    }

    /** A virtio-style notify register: 2-byte writes, queue 0's eventfd on value 0 at offset 0. */
    @Setup(Level.Trial)
    public void setUp() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, v, s) -> { })
                .valid(2, 2, false)
                .build();
        IoRegion notify = new IoRegion(sys, new Object(), ops, "notify", 0x1000);
        root.addSubregion(NOTIFY, notify);
        as = sys.addressSpace(root, "memory");
        kick = EventNotifier.create();
        notify.addEventfd(0, 2, true, 0, kick);
    }

    /** Empties the eventfd's counter between iterations. */
    @Setup(Level.Iteration)
    public void drain() {
        kick.testAndClear();
    }

    /** Closes the eventfd. */
    @TearDown(Level.Trial)
    public void tearDown() {
        kick.close();
    }

    /**
     * The guest's kick through the address space.
     *
     * @return the transaction result
     */
    @Benchmark
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int guestKick() {
        return as.stwLe(NOTIFY, 0);
    }

    /**
     * Baseline: the eventfd signalled directly.
     *
     * @return whether it was written
     */
    @Benchmark
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public boolean directSet() {
        return kick.set();
    }
}
