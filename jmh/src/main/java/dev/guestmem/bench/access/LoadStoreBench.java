package dev.guestmem.bench.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * TARGETS P1 (hot set) and P2 (random over 256 MiB): a 4-byte little-endian guest load followed by a
 * store of the value plus one, through {@link AddressSpace#ldlLe}/{@link AddressSpace#stlLe}, against
 * the same load and store straight on the RAM block's segment at the same offsets.
 *
 * <p>The RAM region is mapped at 1 GiB in a PC-like system address space next to a few other
 * regions, so lookups go through a real dispatch table. Each invocation walks the next 1024 of a
 * table of precomputed 4-byte-aligned offsets: {@code set=hot} keeps 1024 offsets in 16 KiB (L1),
 * {@code set=random} cycles through 2^20 offsets spread over 256 MiB, so loads miss the caches and
 * the TLB (memory-bound; the block is pre-faulted).
 *
 * <p>Both arms have the shape of an emulator's interpreter loop: before each guest access pair they
 * poll a volatile exit-request flag (QEMU's {@code cpu->exit_request}/{@code icount_decr} check,
 * which every CPU loop has) and then take their memory from a field, so the raw arm is
 * {@code ram.get(layout, guestAddr - base)} with the segment re-read and its JDK checks (liveness,
 * bounds) redone per access, as in a real loop, instead of hoisted out of a local loop over one
 * loop-invariant segment. {@link #rawHoisted} keeps that older, structurally advantaged baseline for
 * information (it is not a target's denominator).
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LoadStoreBench {
    static final int OPS = 1024;
    static final long BASE = 1L << 30;
    /** Where {@link #missingBoth}'s three RAM regions are. */
    private static final long[] THREE_BASES = {0x1000, BASE, 1L << 32};
    static final long RAM = 256L << 20;
    private static final ValueLayout.OfInt LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** {@code hot}: 16 KiB working set; {@code random}: 256 MiB. */
    @Param({"hot", "random"})
    public String set;

    private RamBlock block;
    private MemorySegment seg;
    private AddressSpace as;
    /** A machine of three small RAM regions (low, {@link #BASE}, 4 GiB) for {@link #missingBoth}. */
    private AddressSpace threeSections;
    private long[] offsets;
    private int cursor;
    /** The CPU loop's exit request; never set, read once per guest access pair. */
    private volatile boolean exitRequest;

    /** Creates the state (JMH). */
    public LoadStoreBench() {
    }

    /** Builds the machine and the offsets. */
    @Setup(Level.Trial)
    public void setUp() {
        block = RamBlock.anonymous("pc.ram", RAM);
        seg = block.segment();
        seg.fill((byte) 1); // pre-fault every page for both variants
        as = pcLikeMachine(block);
        MemorySystem three = new MemorySystem();
        ContainerRegion root = new ContainerRegion(three, null, "system", -1L);
        for (long base : THREE_BASES) {
            root.addSubregion(base, new RamRegion(three, null, "ram@" + Long.toHexString(base),
                    RamBlock.anonymous("ram@" + Long.toHexString(base), 0x10000), false, false));
        }
        threeSections = three.addressSpace(root, "memory");
        SplittableRandom rnd = new SplittableRandom(1);
        long span = set.equals("hot") ? 16 << 10 : RAM;
        offsets = new long[set.equals("hot") ? OPS : 1 << 20];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = rnd.nextLong(span / 4) * 4;
        }
    }

    /**
     * Loads and stores that miss the space's fast window half the time (low RAM, then main RAM, a
     * store to the BIOS ROM, a load of nothing), as an emulator's do: run before the measured loops
     * compile, it gives the shared access path the profile it has in an emulator (its miss branches
     * taken), not the pristine one of a JVM that only ever hit.
     */
    void warmMissPaths() {
        int s = 0;
        for (int i = 0; i < 200_000; i++) {
            long off = (i * 4L) & 0xFFF;
            s += as.ldlLe(0x1000 + off);
            as.stlLe(0x1000 + off, s);
            s += as.ldlLe(BASE + off);
            as.stlLe(BASE + off, s);
            as.stlLe(0xFFFC0000L, s); // ROM: dropped on the slow path
            s += as.ldlLe(0x8000_0000L); // nothing there
        }
    }

    /**
     * The PC-like map of the access benchmarks: {@code ram} at {@link #BASE} (1 GiB), 640 KiB of low
     * RAM at 0 and a 256 KiB BIOS ROM below 4 GiB, so lookups go through a real dispatch table.
     *
     * @param ram the main RAM block
     * @return the machine's address space
     */
    static AddressSpace pcLikeMachine(RamBlock ram) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        root.addSubregion(BASE, new RamRegion(sys, null, "pc.ram", ram, false, false));
        root.addSubregion(0, new RamRegion(sys, null, "low", RamBlock.anonymous("low", 0xA0000), false, false));
        root.addSubregion(0xFFFC0000L, new RamRegion(sys, null, "bios", RamBlock.anonymous("bios", 0x40000), true,
                false));
        return sys.addressSpace(root, "memory");
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        block.close();
    }

    /**
     * Baseline: the segment load and store, as an emulator's raw RAM access (segment in a field).
     *
     * @return a sum, so nothing is dead code
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int raw() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[cursor + i];
            MemorySegment s = seg;
            int v = s.get(LE, addr - BASE);
            s.set(LE, addr - BASE, v + 1);
            sum += v;
        }
        cursor = (cursor + OPS) & (offsets.length - 1);
        return sum;
    }

    /**
     * The harness control: a line-for-line copy of {@link #raw()}, compiled as its own method.
     * {@code InterleavedAccessBench}'s {@code ctl} target times it against {@link #raw()}; identical
     * work must measure 1.0, which shows the pairing and the compiled arms favour neither side.
     *
     * @return a sum
     */
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int rawControl() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[cursor + i];
            MemorySegment s = seg;
            int v = s.get(LE, addr - BASE);
            s.set(LE, addr - BASE, v + 1);
            sum += v;
        }
        cursor = (cursor + OPS) & (offsets.length - 1);
        return sum;
    }

    /**
     * Informational: the tight loop over one loop-invariant segment (JDK checks hoisted).
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int rawHoisted() {
        MemorySegment s = seg;
        long[] o = offsets;
        int c = cursor;
        cursor = (c + OPS) & (o.length - 1);
        int sum = 0;
        for (int i = c; i < c + OPS; i++) {
            int v = s.get(LE, o[i]);
            s.set(LE, o[i], v + 1);
            sum += v;
        }
        return sum;
    }

    /**
     * The same through the address space.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int addressSpace() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[cursor + i];
            AddressSpace a = as;
            int v = a.ldlLe(addr);
            a.stlLe(addr, v + 1);
            sum += v;
        }
        cursor = (cursor + OPS) & (offsets.length - 1);
        return sum;
    }

    /**
     * Informational: pairs alternating between low RAM and main RAM, so every load misses the space's
     * fast window. The space's previous RAM section serves them out of line without a lookup or a
     * refill (before it, each took the full dispatch and refilled the window for the store after
     * it); compare with {@link #addressSpace()}, {@link #missingBoth()} and {@link #raw()}.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int missingWindow() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = ((i & 1) == 0 ? BASE : 0x1000) + (offsets[cursor + i] & 0xFFFF);
            AddressSpace a = as;
            int v = a.ldlLe(addr);
            a.stlLe(addr, v + 1);
            sum += v;
        }
        cursor = (cursor + OPS) & (offsets.length - 1);
        return sum;
    }

    /**
     * Informational: the price of a full miss. Pairs rotating over three RAM regions, so every load
     * misses both the fast window and the previous RAM section and takes the full dispatch (which
     * refills the window for the store after it).
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int missingBoth() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = THREE_BASES[i % 3] + (offsets[cursor + i] & 0xFFFF);
            AddressSpace a = threeSections;
            int v = a.ldlLe(addr);
            a.stlLe(addr, v + 1);
            sum += v;
        }
        cursor = (cursor + OPS) & (offsets.length - 1);
        return sum;
    }
}
