package dev.guestmem.bench.access;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.tlb.VcpuTlb;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
import org.openjdk.jmh.infra.ThreadParams;

/**
 * Information: two threads doing load+store pairs through one address space, on the same RAM
 * section ({@code together}) or each on its own ({@code apart}: main RAM and low RAM of
 * {@link LoadStoreBench}'s PC-like map). The space keeps one fast window for all threads, so apart
 * every pair misses it and the two threads take turns writing the window slot and its lock: what a
 * vCPU loop on {@code AddressSpace} pays for another vCPU working elsewhere, and why such a loop
 * wants a {@code VcpuTlb} of its own. {@code alone} is one thread alternating between the two
 * sections (every load misses, no other writer). {@code apartTlb} is {@code apart} with a
 * {@code VcpuTlb} per thread (entered once per 1024 pairs, as a vCPU enters a block).
 *
 * <p><b>Thread safety.</b> The machine is shared by the group's threads (Scope.Group); each thread's
 * cursor is its own state.
 */
@State(Scope.Group)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SharedSpaceBench {
    static final int OPS = 1024;
    private static final long LOW = 0x1000;

    private RamBlock block;
    private AddressSpace as;

    /** Creates the state (JMH). */
    public SharedSpaceBench() {
    }

    /** Builds the machine. */
    @Setup(Level.Trial)
    public void setUp() {
        block = RamBlock.anonymous("pc.ram", 16 << 20);
        block.segment().fill((byte) 1);
        as = LoadStoreBench.pcLikeMachine(block);
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        block.close();
    }

    /** A thread's position in its 64 KiB of pairs, and its own megabyte (threads share no data line). */
    @State(Scope.Thread)
    public static class Cursor {
        int next;
        long lane;
        VcpuTlb tlb;

        /** Creates the state (JMH). */
        public Cursor() {
        }

        /**
         * Gives each thread of a group its own megabyte of main RAM.
         *
         * @param p the thread's place in its group
         */
        @Setup(Level.Trial)
        public void setUp(ThreadParams p) {
            lane = (long) p.getGroupThreadIndex() << 20;
        }

        /**
         * This thread's soft TLB, made on the thread that uses it.
         *
         * @param bench the group's machine
         */
        @Setup(Level.Iteration)
        public void tlb(SharedSpaceBench bench) {
            if (tlb == null) {
                tlb = new VcpuTlb(bench.as, MemTxAttrs.UNSPECIFIED, (addr, size, isWrite, result) -> {
                    throw new IllegalStateException("bus error at " + Long.toHexString(addr));
                });
            }
        }

        /** Lets go of the RAM. */
        @TearDown(Level.Trial)
        public void close() {
            if (tlb != null) {
                tlb.close();
            }
        }
    }

    /** Load+store pairs at {@code base}, every other one at {@code other} instead (the same: one section). */
    private int pairs(long base, long other, Cursor c) {
        int sum = 0;
        int at = c.next;
        for (int i = 0; i < OPS; i++) {
            long addr = ((i & 1) == 0 ? base : other) + (((at + i) * 4L) & 0xFFFF);
            int v = as.ldlLe(addr);
            as.stlLe(addr, v + 1);
            sum += v;
        }
        c.next = at + OPS;
        return sum;
    }

    /**
     * Both threads in main RAM, a megabyte apart.
     *
     * @param c this thread's cursor
     * @return a sum
     */
    @Benchmark
    @Group("together")
    @GroupThreads(2)
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int togetherMain(Cursor c) {
        return pairs(LoadStoreBench.BASE + c.lane, LoadStoreBench.BASE + c.lane, c);
    }

    /**
     * One thread in main RAM while the other is in low RAM.
     *
     * @param c this thread's cursor
     * @return a sum
     */
    @Benchmark
    @Group("apart")
    @GroupThreads(1)
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int apartMain(Cursor c) {
        return pairs(LoadStoreBench.BASE, LoadStoreBench.BASE, c);
    }

    /**
     * The other thread of {@code apart}, in low RAM.
     *
     * @param c this thread's cursor
     * @return a sum
     */
    @Benchmark
    @Group("apart")
    @GroupThreads(1)
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int apartLow(Cursor c) {
        return pairs(LOW, LOW, c);
    }

    /**
     * One thread alternating between main and low RAM: every load misses, nobody else writes.
     *
     * @param c this thread's cursor
     * @return a sum
     */
    @Benchmark
    @Group("alone")
    @GroupThreads(1)
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int aloneAlternating(Cursor c) {
        return pairs(LoadStoreBench.BASE, LOW, c);
    }

    /**
     * {@code apart} with a {@code VcpuTlb} per thread: main RAM.
     *
     * @param c this thread's cursor and TLB
     * @return a sum
     */
    @Benchmark
    @Group("apartTlb")
    @GroupThreads(1)
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int apartTlbMain(Cursor c) {
        return tlbPairs(LoadStoreBench.BASE, c);
    }

    /**
     * {@code apart} with a {@code VcpuTlb} per thread: low RAM.
     *
     * @param c this thread's cursor and TLB
     * @return a sum
     */
    @Benchmark
    @Group("apartTlb")
    @GroupThreads(1)
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int apartTlbLow(Cursor c) {
        return tlbPairs(LOW, c);
    }

    private static int tlbPairs(long base, Cursor c) {
        VcpuTlb tlb = c.tlb;
        tlb.enterBlock();
        int sum = 0;
        int at = c.next;
        for (int i = 0; i < OPS; i++) {
            long addr = base + (((at + i) * 4L) & 0xFFFF);
            int v = tlb.ldlLe(addr);
            tlb.stlLe(addr, v + 1);
            sum += v;
        }
        c.next = at + OPS;
        return sum;
    }
}
