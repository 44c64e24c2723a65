package dev.guestmem.bench.access;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.tlb.VcpuTlb;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
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
 * Information for P3: which soft-TLB hit form costs least against the raw segment load, each form
 * interleaved with the raw arm as {@link InterleavedAccessBench} does (same machine, hot set and
 * loop shape as {@link SoftTlbBench}; every arm its own compile unit). Forms:
 * <ul>
 * <li>{@code window}: P3's form until {@link VcpuTlb} took its place, an array of
 *     {@link DirectWindow}s (one bounds test is tag and range check);</li>
 * <li>{@code segments}: the window's read slice and start in two parallel arrays (one dependent
 *     load less);</li>
 * <li>{@code addend}: QEMU's shape, a page tag and an addend per entry into one loop-invariant
 *     segment, the block's (entries of other blocks are not cached);</li>
 * <li>{@code catching}: the window form without our bounds test, a miss caught as the JDK's
 *     {@code IndexOutOfBoundsException};</li>
 * <li>{@code control}: a copy of the raw loop (must read 1.00);</li>
 * <li>{@code constAddend}: the {@code addend} form with the block's segment a JVM constant (a
 *     {@code static final}, as an emulator that generates bytecode can embed it, e.g. as a hidden
 *     class's class data): C2 then folds the segment's class, size and scope out of every access;</li>
 * <li>{@code constRaw}: the raw load with the same constant segment, so that {@code constAddend}
 *     can also be read against a raw arm that has the same advantage (divide the two ratios);</li>
 * <li>{@code vcpu}: {@link VcpuTlb}, P3's form: the addend form over one process-wide constant
 *     segment, entries holding their blocks.</li>
 * </ul>
 * A ratio is {@code guestNs / rawNs}. Run: {@code java -jar jmh/target/benchmarks.jar TlbFormsBench}.
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 1, time = 2)
@Measurement(iterations = 2, time = 2)
public class TlbFormsBench {
    static final int OPS = SoftTlbBench.OPS;
    static final long BASE = SoftTlbBench.BASE;
    private static final long PAGE_MASK = ~0xFFFL;
    private static final int ENTRIES = 256;
    private static final ValueLayout.OfInt LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The hit form timed against the raw load. */
    @Param({"window", "segments", "addend", "catching", "control", "constAddend", "constRaw", "vcpu"})
    public String form;

    private int formIndex;
    private RamBlock block;
    private MemorySegment seg;
    private AddressSpace as;
    private long[] offsets;
    private long tlbGeneration = -1;
    private final DirectWindow[] windows = new DirectWindow[ENTRIES];
    private final MemorySegment[] slices = new MemorySegment[ENTRIES];
    private final long[] starts = new long[ENTRIES];
    private final long[] tags = new long[ENTRIES];
    private final long[] addends = new long[ENTRIES];
    private final TlbEntry scratch = new TlbEntry();
    private VcpuTlb vcpuTlb;
    /** The CPU loop's exit request; never set. */
    private volatile boolean exitRequest;
    private int sink;
    private long op;
    private ArmPair arms;

    /** Nanoseconds per arm in an iteration. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Times {
        /** The form's arm. */
        public long guestNs;
        /** The raw arm. */
        public long rawNs;
        /** Pairs counted. */
        public long keptPairs;

        /** Clears the counters. */
        @Setup(Level.Iteration)
        public void reset() {
            guestNs = 0;
            rawNs = 0;
            keptPairs = 0;
        }
    }

    /** Creates the state (JMH). */
    public TlbFormsBench() {
    }

    /** Builds the machine (as {@link SoftTlbBench}) and runs both arms for 6 s. */
    @Setup(Level.Trial)
    public void setUp() {
        block = RamBlock.anonymous("pc.ram", 1 << 20);
        seg = block.segment();
        seg.fill((byte) 1);
        as = SoftTlbBench.machine(block);
        offsets = SoftTlbBench.hotOffsets();
        formIndex = Arrays.asList("window", "segments", "addend", "catching", "control", "constAddend", "constRaw", "vcpu").indexOf(form);
        pendingSeg = seg;
        vcpuTlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, null);
        if (formIndex < 0) {
            throw new IllegalArgumentException("form " + form);
        }
        flush();
        arms = new ArmPair(this::guest, this::raw);
        long until = System.nanoTime() + 6_000_000_000L;
        while (System.nanoTime() - until < 0) {
            guest();
            raw();
        }
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        vcpuTlb.close();
        block.close();
    }

    /**
     * One pair of arms, the order alternating; a pair over 3x its recent typical time is dropped.
     *
     * @param t the counters
     * @return a sum
     */
    @Benchmark
    public int pair(Times t) {
        if (arms.run((op++ & 1) == 0)) {
            t.guestNs += arms.guestNs();
            t.rawNs += arms.rawNs();
            t.keptPairs++;
        }
        return sink;
    }

    private void guest() {
        long gen = as.generation(); // block entry: flush when the map moved (see SoftTlbBench)
        if (gen != tlbGeneration) {
            flush();
            tlbGeneration = gen;
        }
        vcpuTlb.enterBlock();
        switch (formIndex) {
            case 0 -> sink += window();
            case 1 -> sink += segments();
            case 2 -> sink += addend();
            case 3 -> sink += catching();
            case 5 -> sink += constAddend();
            case 6 -> sink += constRaw();
            case 7 -> sink += vcpu();
            default -> sink += rawCopy();
        }
    }

    private void raw() {
        sink += rawLoad();
    }

    private void flush() {
        Arrays.fill(windows, DirectWindow.empty());
        Arrays.fill(slices, MemorySegment.NULL);
        Arrays.fill(tags, -1L);
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int rawLoad() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += seg.get(LE, BASE + offsets[i] - BASE);
        }
        return sum;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int rawCopy() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += seg.get(LE, BASE + offsets[i] - BASE);
        }
        return sum;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int window() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[i];
            DirectWindow[] tlb = windows;
            int idx = (int) (addr >>> 12) & (tlb.length - 1);
            DirectWindow w = tlb[idx];
            long off = addr - w.start();
            MemorySegment ram = w.read();
            long limit = ram.byteSize() - 3;
            if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
                sum += ram.get(LE, off);
            } else {
                sum += miss(addr, idx);
            }
        }
        return sum;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int segments() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[i];
            MemorySegment[] tlb = slices;
            int idx = (int) (addr >>> 12) & (tlb.length - 1);
            MemorySegment ram = tlb[idx];
            long off = addr - starts[idx];
            long limit = ram.byteSize() - 3;
            if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
                sum += ram.get(LE, off);
            } else {
                sum += miss(addr, idx);
            }
        }
        return sum;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int addend() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[i];
            long[] t = tags;
            int idx = (int) (addr >>> 12) & (t.length - 1);
            if (t[idx] == (addr & PAGE_MASK)) {
                sum += seg.get(LE, addends[idx] + addr);
            } else {
                sum += miss(addr, idx);
            }
        }
        return sum;
    }

    /** The block's segment, for {@link ConstRam}'s initializer (set before its first use). */
    private static MemorySegment pendingSeg;

    /** The block's segment as a constant: one trial per JVM, so set once. */
    private static final class ConstRam {
        static final MemorySegment SEG = pendingSeg;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int constAddend() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[i];
            long[] t = tags;
            int idx = (int) (addr >>> 12) & (t.length - 1);
            if (t[idx] == (addr & PAGE_MASK)) {
                sum += ConstRam.SEG.get(LE, addends[idx] + addr);
            } else {
                sum += miss(addr, idx);
            }
        }
        return sum;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int vcpu() {
        VcpuTlb t = vcpuTlb;
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += t.ldlLe(BASE + offsets[i]);
        }
        return sum;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int constRaw() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += ConstRam.SEG.get(LE, BASE + offsets[i] - BASE);
        }
        return sum;
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int catching() {
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[i];
            DirectWindow[] tlb = windows;
            int idx = (int) (addr >>> 12) & (tlb.length - 1);
            DirectWindow w = tlb[idx];
            try {
                sum += w.read().get(LE, addr - w.start());
            } catch (IndexOutOfBoundsException e) {
                sum += miss(addr, idx);
            }
        }
        return sum;
    }

    /** Refills the entry of every form (a form only reads its own), then loads through the space. */
    private int miss(long addr, int idx) {
        if (GuestTlb.fill(as, addr, scratch) && scratch.generation() == tlbGeneration) {
            DirectWindow w = scratch.window();
            windows[idx] = w;
            slices[idx] = w.read();
            starts[idx] = w.start();
            if (scratch.segment() == seg) {
                tags[idx] = scratch.pageAddr();
                addends[idx] = scratch.hostOffset() - scratch.pageAddr();
            }
        }
        return as.ldlLe(addr);
    }
}
