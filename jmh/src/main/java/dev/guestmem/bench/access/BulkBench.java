package dev.guestmem.bench.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
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
 * TARGETS P5: bulk {@code read}/{@code write} of {@code size} bytes within one RAM region through
 * the address space against {@link MemorySegment#copy} between the same two segments.
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class BulkBench {
    static final long BASE = 1L << 30;

    /** Bytes per call: 64 KiB and 1 MiB. */
    @Param({"65536", "1048576"})
    public int size;

    private RamBlock block;
    private MemorySegment ram;
    private Arena arena;
    private MemorySegment buf;
    private AddressSpace as;

    /** Creates the state (JMH). */
    public BulkBench() {
    }

    /** Builds the machine and the host buffer. */
    @Setup(Level.Trial)
    public void setUp() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        block = RamBlock.anonymous("pc.ram", 8L << 20);
        ram = block.segment();
        ram.fill((byte) 3);
        root.addSubregion(BASE, new RamRegion(sys, null, "pc.ram", block, false, false));
        as = sys.addressSpace(root, "memory");
        arena = Arena.ofShared();
        buf = arena.allocate(size, 4096);
        buf.fill((byte) 5);
    }

    /** Frees memory. */
    @TearDown(Level.Trial)
    public void tearDown() {
        block.close();
        arena.close();
    }

    /** Baseline: copy guest RAM out. */
    @Benchmark
    public void rawRead() {
        MemorySegment.copy(ram, 0x1000, buf, 0, size);
    }

    /** Baseline: copy into guest RAM. */
    @Benchmark
    public void rawWrite() {
        MemorySegment.copy(buf, 0, ram, 0x1000, size);
    }

    /**
     * {@code address_space_read}.
     *
     * @return the result
     */
    @Benchmark
    public int read() {
        return as.read(BASE + 0x1000, MemTxAttrs.UNSPECIFIED, buf, 0, size);
    }

    /**
     * {@code address_space_write}.
     *
     * @return the result
     */
    @Benchmark
    public int write() {
        return as.write(BASE + 0x1000, MemTxAttrs.UNSPECIFIED, buf, 0, size);
    }
}
