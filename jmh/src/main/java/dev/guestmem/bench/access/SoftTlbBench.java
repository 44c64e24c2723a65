package dev.guestmem.bench.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.tlb.VcpuTlb;
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
 * TARGETS P3: a soft-TLB hit as a JIT would emit it ({@link VcpuTlb}: index, tag compare, one host
 * load at the cached addend) against the raw segment load at the same offsets; the window and
 * page-tag forms below are kept for information. The TLB is the pattern
 * documented in {@link GuestTlb} in its whole-TLB-flush form: 256 direct-mapped entries kept in
 * parallel arrays, the {@link AddressSpace#generation()} compared when the loop is entered (QEMU
 * flushes vCPU TLBs on a topology change and kicks the vCPU out of its loop; the exit-request poll
 * below is that kick), so the hit path has no generation compare; the hot set (16 KiB, 4 pages)
 * always hits after the first pass.
 *
 * <p>Both arms poll a volatile exit-request flag before each access and read their arrays and
 * segment from fields, as an emulator's CPU loop does (see {@code LoadStoreBench});
 * {@code rawHoisted} is the old tight-loop baseline, for information.
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SoftTlbBench {
    static final int OPS = 1024;
    static final long BASE = 1L << 30;
    private static final int TLB_BITS = 8;
    private static final int TLB_MASK = (1 << TLB_BITS) - 1;
    private static final long PAGE_MASK = ~0xFFFL;
    private static final ValueLayout.OfInt LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private RamBlock block;
    private MemorySegment seg;
    private AddressSpace as;
    private long[] offsets;
    // the soft TLB: tag (page address, -1 = empty), host offset of the page, segment; the generation
    // it was filled under (one for the whole TLB: it is flushed when the generation moves)
    private final long[] tags = new long[1 << TLB_BITS];
    private final long[] hostOffsets = new long[1 << TLB_BITS];
    private long tlbGeneration = -1;
    private final MemorySegment[] segs = new MemorySegment[1 << TLB_BITS];
    // the window form (P3): per entry the immutable window of the section (guest start + slices)
    private final DirectWindow[] windows = new DirectWindow[1 << TLB_BITS];
    private final TlbEntry scratch = new TlbEntry();
    /** P3's TLB: guestmem's own, QEMU's shape (page tags and host addends). */
    private VcpuTlb vcpu;
    /** The CPU loop's exit request; never set, read once per guest access (see LoadStoreBench). */
    private volatile boolean exitRequest;

    /** Creates the state (JMH). */
    public SoftTlbBench() {
    }

    /** Builds the machine. */
    @Setup(Level.Trial)
    public void setUp() {
        block = RamBlock.anonymous("pc.ram", 1 << 20);
        seg = block.segment();
        seg.fill((byte) 1);
        as = machine(block);
        offsets = hotOffsets();
        java.util.Arrays.fill(tags, -1L);
        java.util.Arrays.fill(windows, DirectWindow.empty());
        vcpu = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * The TLB benchmarks' machine: {@code ram} at {@link #BASE} (1 GiB) of an empty system.
     *
     * @param ram the RAM block
     * @return its address space
     */
    static AddressSpace machine(RamBlock ram) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        root.addSubregion(BASE, new RamRegion(sys, null, "pc.ram", ram, false, false));
        return sys.addressSpace(root, "memory");
    }

    /** @return {@link #OPS} random 4-byte-aligned offsets in the first 16 KiB (the hot set) */
    static long[] hotOffsets() {
        SplittableRandom rnd = new SplittableRandom(1);
        long[] o = new long[OPS];
        for (int i = 0; i < OPS; i++) {
            o[i] = rnd.nextLong((16 << 10) / 4) * 4;
        }
        return o;
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        vcpu.close();
        block.close();
    }

    /**
     * Baseline: the segment load.
     *
     * @return a sum
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
            sum += seg.get(LE, BASE + offsets[i] - BASE);
        }
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
        int sum = 0;
        for (int i = 0; i < o.length; i++) {
            sum += s.get(LE, o[i]);
        }
        return sum;
    }

    /**
     * The soft-TLB hit path (P3): {@link VcpuTlb}, entered as a CPU loop enters a translated block
     * (a generation compare), then the block's body, its own compile unit as a JIT's translated
     * block is: one {@code ldlLe} per access, a page-tag compare and one host load.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int vcpuTlbHit() {
        vcpu.enterBlock();
        return vcpuBlock();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int vcpuBlock() {
        VcpuTlb t = vcpu;
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += t.ldlLe(BASE + offsets[i]);
        }
        return sum;
    }

    /**
     * Informational (P3inline): the same with the block-entry check in the loop's own compile unit,
     * as an interpreter that polls in its dispatch loop has it: C2 compiles that loop less well
     * (1.3-1.4x instead of 1.03 in the runs of 2026-11-29).
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int vcpuTlbHitInline() {
        VcpuTlb t = vcpu;
        t.enterBlock();
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += t.ldlLe(BASE + offsets[i]);
        }
        return sum;
    }

    /**
     * Informational (P3 before {@link VcpuTlb}): the window form: the entry is the section's immutable
     * {@link DirectWindow} ({@link TlbEntry#window()}), and one bounds test on its read slice is both
     * the tag compare and the range check.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int tlbHit() {
        long gen = as.generation(); // block entry: see tlbHitPageTag
        if (gen != tlbGeneration) {
            java.util.Arrays.fill(windows, DirectWindow.empty());
            java.util.Arrays.fill(tags, -1L);
            tlbGeneration = gen;
        }
        int sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[i];
            DirectWindow[] tlb = windows;
            // masked with the array's own length - 1: C2 then proves the index in bounds (the
            // power-of-two table idiom of HashMap) and drops the array range check
            int idx = (int) (addr >>> 12) & (tlb.length - 1);
            DirectWindow w = tlb[idx];
            long off = addr - w.start();
            MemorySegment ram = w.read();
            long limit = ram.byteSize() - 3; // the JDK's own bounds test, so C2 folds it into this one
            if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
                sum += ram.get(LE, off);
            } else {
                sum += windowMiss(addr, idx);
            }
        }
        return sum;
    }

    private int windowMiss(long addr, int idx) {
        if (GuestTlb.fill(as, addr, scratch) && scratch.generation() == tlbGeneration) {
            windows[idx] = scratch.window();
        }
        return as.ldlLe(addr);
    }

    /**
     * Informational: the page-tag form (tag compare, then the cached segment at the cached host
     * offset), the previous P3 pattern.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int tlbHitPageTag() {
        long[] o = offsets;
        // QEMU's model: a topology change kicks the vCPUs out of their loop (exit request) and each
        // flushes its TLB (tcg_commit -> tlb_flush) before running on. Here the generation is
        // compared at loop entry and the TLB flushed when it moved, so a hit is a tag compare only.
        long gen = as.generation();
        if (gen != tlbGeneration) {
            java.util.Arrays.fill(tags, -1L);
            tlbGeneration = gen;
        }
        int sum = 0;
        for (int i = 0; i < o.length; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + o[i];
            int idx = (int) (addr >>> 12) & TLB_MASK;
            if (tags[idx] != (addr & PAGE_MASK)) {
                sum += miss(addr, idx);
                continue;
            }
            sum += segs[idx].get(LE, hostOffsets[idx] + (addr & ~PAGE_MASK));
        }
        return sum;
    }

    private int miss(long addr, int idx) {
        if (GuestTlb.fill(as, addr, scratch) && scratch.generation() == tlbGeneration) {
            tags[idx] = scratch.pageAddr();
            hostOffsets[idx] = scratch.hostOffset();
            segs[idx] = scratch.segment();
        }
        return as.ldlLe(addr);
    }
}
