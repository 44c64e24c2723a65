package dev.guestmem.bench.topology;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
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
 * The cost of one topology commit on a small machine (the writer of TARGETS P12): exactly
 * {@code access.ChurnBench}'s machine (1 MiB of RAM at 1 GiB, 32 small I/O regions at
 * {@code 0xFE000000 + i * 0x2000}, a 4 KiB BAR at {@code 0xE0000000}) and exactly its writer's
 * change, the BAR moved by {@code setAddress} between {@code 0xE0000000} and {@code 0xE0100000}: a
 * whole commit (windowed re-render, dispatch table, publication). Run with {@code -prof gc} for the
 * bytes allocated per commit. {@link #barMoveCommitWithListener} adds one listener on the address
 * space (a device model's or an accelerator's), so the topology diff is timed too.
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SmallCommitBench {
    private static final long BASE = 1L << 30;

    private RamBlock block;
    private RamBlock blockL;
    private IoRegion dev;
    private IoRegion devL;
    private long changes;
    private long changesL;

    /** Creates the state (JMH). */
    public SmallCommitBench() {
    }

    /** Builds two copies of the machine, the second with a listener on its address space. */
    @Setup(Level.Trial)
    public void setUp() {
        block = RamBlock.anonymous("pc.ram", 1 << 20);
        blockL = RamBlock.anonymous("pc.ram", 1 << 20);
        dev = machine(block, false);
        devL = machine(blockL, true);
    }

    private static IoRegion machine(RamBlock ram, boolean listener) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        root.addSubregion(BASE, new RamRegion(sys, null, "pc.ram", ram, false, false));
        for (int i = 0; i < 32; i++) {
            root.addSubregion(0xFE000000L + i * 0x2000L, new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((a, s) -> 0).build(), "dev" + i, 0x1000));
        }
        IoRegion bar = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(), "bar", 0x1000);
        root.addSubregion(0xE0000000L, bar);
        AddressSpace as = sys.addressSpace(root, "memory");
        if (listener) {
            sys.registerListener(new MemoryListener() {
            }, as);
        }
        return bar;
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        block.close();
        blockL.close();
    }

    /** One BAR move: ChurnBench's writer without the pause. */
    @Benchmark
    public void barMoveCommit() {
        dev.setAddress((changes++ & 1) == 0 ? 0xE0100000L : 0xE0000000L);
    }

    /** The same move in a machine whose address space has one (do-nothing) listener. */
    @Benchmark
    public void barMoveCommitWithListener() {
        devL.setAddress((changesL++ & 1) == 0 ? 0xE0100000L : 0xE0000000L);
    }
}
