package dev.guestmem.bench.dirty;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.VcpuTlb;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
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
 * TARGETS P8: a 4-byte store into guest RAM with dirty logging on for all three clients against the
 * same store with logging off, in one class and run.
 *
 * <ul>
 *   <li>{@link #storeLoggingOff}: {@code segment.set(JAVA_INT_UNALIGNED, off, v)} only (baseline).</li>
 *   <li>{@link #storeLoggingOn}: the same store, then {@link DirtyMemory#invalidateAndSetDirty}
 *       with {@link DirtyMemory#DIRTY_CLIENTS_ALL}: what a direct RAM write costs once the access
 *       path calls it. The pages start dirty for every client (a new block), which is the steady
 *       state between two snapshots: the call is the "all clients still dirty?" check and no atomic.
 *   </li>
 *   <li>{@link #storeLoggingOnSoftTlb}: informational, the JIT fast path of the clean-epoch
 *       protocol ({@link DirtyMemory#cleanEpoch()}): a per-page cached epoch, validated once with {@code allDirty}; a store whose
 *       page entry matches {@code cleanEpoch()} skips logging, others take {@code
 *       invalidateAndSetDirty} and refill the entry.</li>
 *   <li>{@link #guestLoggingOff} / {@link #guestLoggingOn}: the engine's own path, {@link
 *       AddressSpace#stlLe} into a RAM region of a system without logging, and of a system with the
 *       VGA client on the region, CODE on ({@code tcg_enabled}) and global MIGRATION logging
 *       started: the store, then the "all clients dirty?" check. P8 is the worse of the two
 *       ratios (raw and guest path).</li>
 *   <li>{@link #vcpuLoggingOff} / {@link #vcpuLoggingOn} (information, {@code P8vcpu}): the same
 *       stores through a {@link VcpuTlb} on each of the two machines, a JIT's path; {@link
 *       #vcpuCodeOnly} (information): through a {@code VcpuTlb} of a machine whose only client is
 *       CODE ({@code tcg_enabled}, no display or migration logging), every JIT's steady state.</li>
 * </ul>
 * Every arm has the shape of an emulator loop: it polls a volatile exit-request flag before each
 * store and takes its memory and offset from fields, and is its own compile unit (see {@code
 * InterleavedAccessBench} for why).
 * Each invocation stores to 1024 pseudo-random 4-byte-aligned offsets spread over 64 pages (256
 * KiB of RAM, 32 KiB of it hot per pass), the same offsets for both methods.
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DirtyStoreBench {
    static final int STORES = 1024;
    private static final long RAM_SIZE = 64 * 4096;
    /** ram_addr of the block: not at 0, so the ram_addr arithmetic is exercised. */
    private static final long RAM_ADDR = 0x4000_0000L;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;

    private Arena arena;
    private MemorySegment ram;
    private DirtyMemory dirty;
    private long[] offsets;
    private long[] tlbEpoch;
    private int value;
    private RamBlock offBlock;
    private RamBlock onBlock;
    private AddressSpace asOff;
    private AddressSpace asOn;
    private RamBlock codeBlock;
    private VcpuTlb tlbOff;
    private VcpuTlb tlbOn;
    private VcpuTlb tlbCode;
    /** The CPU loop's exit request; never set, read once per store. */
    private volatile boolean exitRequest;

    /** Creates the state (JMH). */
    public DirtyStoreBench() {
    }

    /** Allocates RAM and its dirty log; every page starts dirty for every client. */
    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        ram = arena.allocate(RAM_SIZE, 4096);
        dirty = new DirtyMemory();
        dirty.newBlockDirty(RAM_ADDR, RAM_SIZE);
        SplittableRandom rnd = new SplittableRandom(8);
        offsets = new long[STORES];
        for (int i = 0; i < STORES; i++) {
            offsets[i] = rnd.nextLong(RAM_SIZE / 4) * 4;
        }
        tlbEpoch = new long[(int) (RAM_SIZE >>> DirtyMemory.TARGET_PAGE_BITS)];
        java.util.Arrays.fill(tlbEpoch, -1); // odd: never equal to a stable epoch
        MemorySystem off = new MemorySystem(false);
        offBlock = RamBlock.anonymous("ram.off", RAM_SIZE);
        asOff = machine(off, offBlock);
        MemorySystem on = new MemorySystem(true); // CODE client on RAM
        onBlock = RamBlock.anonymous("ram.on", RAM_SIZE);
        asOn = machine(on, onBlock);
        asOn.root().subregions().get(0).setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        on.globalDirtyLogStart();
        tlbOff = new VcpuTlb(asOff, MemTxAttrs.UNSPECIFIED, null);
        tlbOn = new VcpuTlb(asOn, MemTxAttrs.UNSPECIFIED, null);
        codeBlock = RamBlock.anonymous("ram.code", RAM_SIZE);
        tlbCode = new VcpuTlb(machine(new MemorySystem(true), codeBlock), MemTxAttrs.UNSPECIFIED, null);
    }

    private static AddressSpace machine(MemorySystem sys, RamBlock block) {
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        root.addSubregion(RAM_ADDR, new RamRegion(sys, null, "ram", block, false, false));
        return sys.addressSpace(root, "memory");
    }

    /** Frees the RAM. */
    @TearDown(Level.Trial)
    public void tearDown() {
        tlbOff.close();
        tlbOn.close();
        tlbCode.close();
        arena.close();
        offBlock.close();
        onBlock.close();
        codeBlock.close();
    }

    /**
     * Baseline: stores only.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int storeLoggingOff() {
        int v = value++;
        for (int i = 0; i < STORES; i++) {
            if (exitRequest) {
                break;
            }
            ram.set(U32, offsets[i], v + i);
        }
        return v;
    }

    /**
     * Stores, each followed by {@code invalidateAndSetDirty(ramAddr, 4, DIRTY_CLIENTS_ALL)}.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int storeLoggingOn() {
        int v = value++;
        for (int i = 0; i < STORES; i++) {
            if (exitRequest) {
                break;
            }
            long off = offsets[i];
            ram.set(U32, off, v + i);
            dirty.invalidateAndSetDirty(RAM_ADDR + off, 4, DirtyMemory.DIRTY_CLIENTS_ALL);
        }
        return v;
    }

    /**
     * Stores through a soft-TLB-like per-page epoch cache: logging only on a miss.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    public int storeLoggingOnSoftTlb() {
        MemorySegment seg = ram;
        DirtyMemory d = dirty;
        long[] offs = offsets;
        long[] tlb = tlbEpoch;
        int v = value++;
        for (int i = 0; i < offs.length; i++) {
            long off = offs[i];
            int slot = (int) (off >>> DirtyMemory.TARGET_PAGE_BITS);
            seg.set(U32, off, v + i);
            if (tlb[slot] != d.cleanEpoch()) {
                d.invalidateAndSetDirty(RAM_ADDR + off, 4, DirtyMemory.DIRTY_CLIENTS_ALL);
                long page = RAM_ADDR + ((long) slot << DirtyMemory.TARGET_PAGE_BITS);
                long e = d.cleanEpoch();
                if (d.allDirty(page, DirtyMemory.TARGET_PAGE_SIZE, DirtyMemory.DIRTY_CLIENTS_ALL)
                        && d.validateCleanEpoch(e)) {
                    tlb[slot] = e;
                }
            }
        }
        return v;
    }

    /**
     * Baseline on the engine's path: {@code stlLe} into RAM with no dirty logging.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int guestLoggingOff() {
        int v = value++;
        for (int i = 0; i < STORES; i++) {
            if (exitRequest) {
                break;
            }
            v += asOff.stlLe(RAM_ADDR + offsets[i], v + i);
        }
        return v;
    }

    /**
     * {@code stlLe} into RAM logged for all three clients.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int guestLoggingOn() {
        int v = value++;
        for (int i = 0; i < STORES; i++) {
            if (exitRequest) {
                break;
            }
            v += asOn.stlLe(RAM_ADDR + offsets[i], v + i);
        }
        return v;
    }

    /**
     * Information ({@code P8vcpu}'s baseline): the stores through a {@link VcpuTlb} of the machine
     * without logging.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int vcpuLoggingOff() {
        return vcpuBlock(tlbOff);
    }

    /**
     * Information ({@code P8vcpu}): the stores through a {@link VcpuTlb} of the machine logging for
     * all three clients.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int vcpuLoggingOn() {
        return vcpuBlock(tlbOn);
    }

    /**
     * Information: the stores through a {@link VcpuTlb} of a TCG machine, CODE its only client.
     *
     * @return a value for the blackhole
     */
    @Benchmark
    @OperationsPerInvocation(STORES)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public int vcpuCodeOnly() {
        return vcpuBlock(tlbCode);
    }

    /** One translated block of stores: the block entry, then the stores, each after the exit poll. */
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private int vcpuBlock(VcpuTlb t) {
        t.enterBlock();
        int v = value++;
        for (int i = 0; i < STORES; i++) {
            if (exitRequest) {
                break;
            }
            t.stlLe(RAM_ADDR + offsets[i], v + i);
        }
        return v;
    }
}
