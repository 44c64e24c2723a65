package dev.guestmem.bench.access;

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
 * P1-P4 measured so that machine noise hits a target and its baseline alike: every invocation runs
 * the guest arm and the raw arm of one target back to back (1024 accesses each, the same loops as
 * {@link LoadStoreBench}, {@link ChaseBench}, {@link SoftTlbBench} and {@link MmioBench}), in an
 * order that alternates each invocation, and times each arm with {@code System.nanoTime()} into
 * auxiliary counters. A ratio is then guest nanoseconds over raw nanoseconds of the same
 * invocations. On this shared 2-core machine, separate JMH runs of the two arms saw different
 * neighbours' load, which moved single ratios by 2x; interleaving removes that (the same approach as
 * P11's {@code RamInterleavedBench}). A timer read costs about 20-30 ns against 1-400 us per arm.
 * A pair that took over three times its recent typical time is left out whole (a preemption, see
 * {@link ArmPair}); {@code keptPairs} and {@code droppedPairs} say how many.
 *
 * <p>Each arm's loop is its own compile unit: the loop methods of the benchmark classes are
 * {@link CompilerControl.Mode#DONT_INLINE}, here and under JMH's own stub. Inlined into a harness
 * method, C2 kept the harness's values live across the loop and, short of registers, carried one of
 * them through an XMM register and back on every iteration: a loop-carried chain of two moves (about
 * six cycles) that capped whichever arm had it at about 2 ns per access, whatever the arm did. The
 * raw arms of P1 and P3 and the guest arm of P4 had it, which made P3 read 1.07 and P4 1.4-1.7 before.
 * The loops read their offsets from a field on every access for the same reason (a local array kept
 * live for deoptimization was the value carried). Check a change with
 * {@code -XX:CompileCommand=print,*LoadStoreBench.raw}: no {@code vmovd}/{@code vmovq} pair and no
 * stack store inside the loop.
 *
 * <p>P4's baseline is a direct call of the device callback that the JIT does not inline
 * ({@code MmioBench.directCall}). For information: {@code p4inline} times P4's dispatch arm against
 * the callback compiled into the loop ({@code MmioBench.direct}: no call left), {@code p4floor} the
 * least a RAM-first dispatch can do ({@code MmioBench.dispatchFloor}: two range tests, no guard or
 * size rules) against that same inlined callback; {@code p4mega} the dispatch arm against {@code
 * MmioBench.directMegamorphic}, the callback through a call site that has seen three device classes;
 * {@code p3inline} (information) times P3's TLB with the block-entry check compiled into the loop
 * ({@code SoftTlbBench.vcpuTlbHitInline}). {@code p1warm} (information) is P1's pair in a JVM whose
 * loads and stores have also missed the space's fast window ({@link LoadStoreBench#warmMissPaths()}),
 * as an emulator's do (MMIO, other RAM sections, ROM): C2 then compiles the fast path from a profile
 * that calls it rare. (Before the engine's {@code MissPath} it also compiled the full dispatch into
 * the ld/st methods, which grew too big to inline into the guest loop, "already compiled into a big
 * method", and a store no longer shared the window its load read: 4.49 against 2.37 after.)
 *
 * <p>The {@code ctl} target is the harness's control: the P1 raw loop against a line-for-line copy
 * of it ({@link LoadStoreBench#rawControl()}); identical work must read 1.00.
 *
 * <p><b>Thread safety.</b> JMH state, one benchmark thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class InterleavedAccessBench {
    private LoadStoreBench hot;
    private LoadStoreBench random;
    private ChaseBench chase;
    private SoftTlbBench tlb;
    private MmioBench mmio;
    private static final int TARGETS = 11;
    private static final String[] NAMES = {"p1", "p2", "p2ind", "p3", "p4", "ctl", "p4mega", "p3inline", "p1warm",
        "p4floor", "p4inline"};

    /**
     * Which target's pair this JVM runs ({@code ctl}: the control, see the class comment): one per
     * fork by default, so the other targets' arms do not shape the shared profiles of the access path (in one JVM, the MMIO arm makes the RAM
     * loops' miss path look warm and C2 then keeps a call, and its spills, in every RAM loop);
     * {@code all} runs every pair in one JVM, for information.
     */
    @Param({"p1", "p2", "p2ind", "p3", "p4", "ctl", "p4mega", "p3inline", "p1warm", "p4floor", "p4inline"})
    public String target;

    private int first;
    private int last;
    private static final long WARM_NANOS = 6_000_000_000L;
    private long op;
    private int sink;
    private final ArmPair[] pairs = new ArmPair[TARGETS];

    /** Nanoseconds per arm in an iteration (JMH reports them as secondary results). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Times {
        /** P1 guest arm. */
        public long p1GuestNs;
        /** P1 raw arm. */
        public long p1RawNs;
        /** P2 guest arm (dependent walk). */
        public long p2GuestNs;
        /** P2 raw arm. */
        public long p2RawNs;
        /** P2ind guest arm (independent random addresses). */
        public long p2indGuestNs;
        /** P2ind raw arm. */
        public long p2indRawNs;
        /** P3 soft-TLB hit arm. */
        public long p3GuestNs;
        /** P3 raw arm. */
        public long p3RawNs;
        /** P4 dispatch arm. */
        public long p4GuestNs;
        /** P4 baseline: the callback behind a direct call the JIT does not inline. */
        public long p4RawNs;
        /** Control: the P1 raw loop's identical copy (see {@code LoadStoreBench.rawControl}). */
        public long ctlGuestNs;
        /** Control: the P1 raw loop. */
        public long ctlRawNs;
        /** P4's dispatch arm, against the non-inlinable call (information). */
        public long p4megaGuestNs;
        /** The callback through a call site that has seen three device classes. */
        public long p4megaRawNs;
        /** P3's TLB with the block-entry check in the loop's compile unit (information). */
        public long p3inlineGuestNs;
        /** P3 raw arm, for {@code p3inline}. */
        public long p3inlineRawNs;
        /** P1's guest arm in a JVM whose loads and stores have also missed the fast window (information). */
        public long p1warmGuestNs;
        /** P1 raw arm, for {@code p1warm}. */
        public long p1warmRawNs;
        /** P4's least possible dispatch, written out by hand (information, see MmioBench.dispatchFloor). */
        public long p4floorGuestNs;
        /** The callback compiled into the loop, for {@code p4floor}. */
        public long p4floorRawNs;
        /** P4's dispatch arm, for {@code p4inline} (information). */
        public long p4inlineGuestNs;
        /** The callback compiled into the loop (information). */
        public long p4inlineRawNs;
        /** Arm pairs counted. */
        public long keptPairs;
        /** Arm pairs left out because one arm was preempted (see {@link ArmPair}). */
        public long droppedPairs;

        /** Clears the counters. */
        @Setup(Level.Iteration)
        public void reset() {
            p1GuestNs = 0;
            p1RawNs = 0;
            p2GuestNs = 0;
            p2RawNs = 0;
            p2indGuestNs = 0;
            p2indRawNs = 0;
            p3GuestNs = 0;
            p3RawNs = 0;
            p4GuestNs = 0;
            p4RawNs = 0;
            ctlGuestNs = 0;
            ctlRawNs = 0;
            p4megaGuestNs = 0;
            p4megaRawNs = 0;
            p3inlineGuestNs = 0;
            p3inlineRawNs = 0;
            p1warmGuestNs = 0;
            p1warmRawNs = 0;
            p4floorGuestNs = 0;
            p4floorRawNs = 0;
            p4inlineGuestNs = 0;
            p4inlineRawNs = 0;
            keptPairs = 0;
            droppedPairs = 0;
        }
    }

    /** Creates the state (JMH). */
    public InterleavedAccessBench() {
    }

    /** Builds the five machines exactly as their own benchmarks do. */
    @Setup(Level.Trial)
    public void setUp() {
        hot = new LoadStoreBench();
        hot.set = "hot";
        hot.setUp();
        random = new LoadStoreBench();
        random.set = "random";
        random.setUp();
        chase = new ChaseBench();
        chase.setUp();
        tlb = new SoftTlbBench();
        tlb.setUp();
        mmio = new MmioBench();
        mmio.setUp();
        first = target.equals("all") ? 0 : java.util.Arrays.asList(NAMES).indexOf(target);
        last = target.equals("all") ? TARGETS - 1 : first;
        if (first < 0) {
            throw new IllegalArgumentException("target " + target + ": one of " + String.join(", ", NAMES) + ", all");
        }
        // in NAMES' order: each target's guest arm and its baseline
        Runnable[] guests = {this::p1Guest, this::p2Guest, this::p2indGuest, this::p3Guest, this::p4Guest,
            this::ctlCopy, this::p4Guest, this::p3InlineGuest, this::p1Guest, this::p4FloorGuest,
            this::p4Guest};
        Runnable[] raws = {this::p1Raw, this::p2Raw, this::p2indRaw, this::p3Raw, this::p4CallRaw, this::p1Raw,
            this::p4MegaRaw, this::p3Raw, this::p1Raw, this::p4InlineRaw, this::p4InlineRaw};
        for (int t = 0; t < TARGETS; t++) {
            pairs[t] = new ArmPair(guests[t], raws[t]);
        }
        if (target.equals("p1warm") || target.equals("all")) {
            hot.warmMissPaths(); // before any arm compiles: the profile an emulator's loads and stores have
        }
        // Run every arm for a few seconds before the first iteration, whatever warm-up the run
        // asks for: with --quick's 2 s the ratios still moved as C2 recompiled (P3 2.1 -> 1.15, P4
        // 4.4 -> 2.5 between a 2 s and a 6 s warm-up); the steady state is what an emulator runs.
        long until = System.nanoTime() + WARM_NANOS;
        while (System.nanoTime() - until < 0) {
            for (int t = first; t <= last; t++) {
                pairs[t].warm();
            }
        }
    }

    /** Releases the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        hot.tearDown();
        random.tearDown();
        chase.tearDown();
        tlb.tearDown();
    }

    /**
     * One invocation: each target's two arms, back to back, the order alternating.
     *
     * @param t the counters
     * @return a sum, so nothing is dead code
     */
    @Benchmark
    public int interleaved(Times t) {
        boolean guestFirst = (op++ & 1) == 0;
        for (int target = first; target <= last; target++) {
            ArmPair p = pairs[target];
            if (p.run(guestFirst)) {
                t.keptPairs++;
                add(t, target, p.guestNs(), p.rawNs());
            } else {
                t.droppedPairs++;
            }
        }
        return sink;
    }

    /** Adds a kept pair's times to its target's counters. */
    private static void add(Times t, int target, long guest, long raw) {
        switch (target) {
            case 0 -> {
                t.p1GuestNs += guest;
                t.p1RawNs += raw;
            }
            case 1 -> {
                t.p2GuestNs += guest;
                t.p2RawNs += raw;
            }
            case 2 -> {
                t.p2indGuestNs += guest;
                t.p2indRawNs += raw;
            }
            case 3 -> {
                t.p3GuestNs += guest;
                t.p3RawNs += raw;
            }
            case 4 -> {
                t.p4GuestNs += guest;
                t.p4RawNs += raw;
            }
            case 5 -> {
                t.ctlGuestNs += guest;
                t.ctlRawNs += raw;
            }
            case 6 -> {
                t.p4megaGuestNs += guest;
                t.p4megaRawNs += raw;
            }
            case 7 -> {
                t.p3inlineGuestNs += guest;
                t.p3inlineRawNs += raw;
            }
            case 8 -> {
                t.p1warmGuestNs += guest;
                t.p1warmRawNs += raw;
            }
            case 9 -> {
                t.p4floorGuestNs += guest;
                t.p4floorRawNs += raw;
            }
            default -> {
                t.p4inlineGuestNs += guest;
                t.p4inlineRawNs += raw;
            }
        }
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p1Guest() {
        sink += hot.addressSpace();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p1Raw() {
        sink += hot.raw();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p2Guest() {
        sink += chase.addressSpace();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p2Raw() {
        sink += chase.raw();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p2indGuest() {
        sink += random.addressSpace();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p2indRaw() {
        sink += random.raw();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p3Guest() {
        sink += tlb.vcpuTlbHit();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p3InlineGuest() {
        sink += tlb.vcpuTlbHitInline();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p3Raw() {
        sink += tlb.raw();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p4Guest() {
        sink += (int) mmio.dispatch();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p4FloorGuest() {
        sink += (int) mmio.dispatchFloor();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void ctlCopy() {
        sink += hot.rawControl();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p4MegaRaw() {
        sink += (int) mmio.directMegamorphic();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p4CallRaw() {
        sink += (int) mmio.directCall();
    }

    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void p4InlineRaw() {
        sink += (int) mmio.direct();
    }
}
