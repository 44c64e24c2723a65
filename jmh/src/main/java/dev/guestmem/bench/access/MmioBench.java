package dev.guestmem.bench.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.tlb.VcpuTlb;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * TARGETS P4: a 4-byte MMIO read through the address space (lookup, validity and size rules,
 * re-entrancy guard of the owning device, the callback, endianness) against a direct call of the
 * same callback ({@link #directCall()}), over 16 registers of a device mapped at 0xFEB00000 beside
 * RAM. For information, the same reads against the callback compiled into the loop
 * ({@link #direct()}: no call left, {@code P4inline}) and against a call site that has seen three
 * device classes ({@link #directMegamorphic()}, {@code P4mega}).
 *
 * <p>Both arms poll a volatile exit-request flag before each access and read the callback (or the
 * address space) from a field, as an emulator's CPU loop does (see {@code LoadStoreBench}).
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MmioBench {
    static final int OPS = 1024;
    static final long BASE = 0xFEB00000L;

    private final int[] regs = new int[16];
    private MemoryRegionOps.Read read;
    /** The same callback behind a call site that has seen three device classes (see directMegamorphic). */
    private MemoryRegionOps.Read anyRead;
    private AddressSpace as;
    private AddressSpace unguarded;
    private VcpuTlb tlb;
    private long[] offsets;
    /** The CPU loop's exit request; never set, read once per guest access (see LoadStoreBench). */
    private volatile boolean exitRequest;
    /** dispatchFloor's machine: one RAM window at guest 0 and the device's range, in plain fields. */
    private Arena floorArena;
    private MemorySegment floorRam;
    private long floorRamStart;
    private long floorDeviceStart;
    private long floorDeviceLimit;

    /** Creates the state (JMH). */
    public MmioBench() {
    }

    /** Builds the device and the machine. */
    @Setup(Level.Trial)
    public void setUp() {
        for (int i = 0; i < regs.length; i++) {
            regs[i] = 0x1000 + i;
        }
        int[] r = regs;
        read = (addr, size) -> r[(int) (addr >>> 2) & 15];
        MemoryRegionOps ops = MemoryRegionOps.builder().read(read).write((a, d, s) -> { }).valid(4, 4, false).build();
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        root.addSubregion(BASE, new IoRegion(sys, new Object(), ops, "dev", 0x1000));
        root.addSubregion(BASE + 0x1000, new IoRegion(sys, new Object(), ops, "dev2", 0x1000));
        as = sys.addressSpace(root, "memory");
        // the same device with the re-entrancy guard opted out (disable_reentrancy_guard), in its own machine
        MemorySystem sys2 = new MemorySystem();
        ContainerRegion root2 = new ContainerRegion(sys2, null, "system", -1L);
        IoRegion open = new IoRegion(sys2, new Object(), ops, "dev", 0x1000);
        open.setReentrancyGuardDisabled(true);
        root2.addSubregion(BASE, open);
        unguarded = sys2.addressSpace(root2, "memory");
        offsets = new long[OPS];
        for (int i = 0; i < OPS; i++) {
            offsets[i] = (i * 7L & 15) * 4;
        }
        // Teach directMegamorphic's call site three callback classes, as an emulator's dispatch
        // site sees many devices, then measure it with the benchmark's own callback.
        MemoryRegionOps.Read[] others = {(a, sz) -> a + 1, (a, sz) -> a ^ sz, read};
        for (int round = 0; round < 20_000; round++) {
            anyRead = others[round % others.length];
            directMegamorphic();
        }
        anyRead = read;
        tlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, null);
        floorArena = Arena.ofShared();
        floorRam = floorArena.allocate(1 << 20, 4096);
        floorRamStart = 0;
        floorDeviceStart = BASE;
        floorDeviceLimit = 0x1000 - 3; // a 4-byte access wholly inside the device's page
    }

    /** Lets the TLB and the floor's RAM go. */
    @TearDown(Level.Trial)
    public void tearDown() {
        tlb.close();
        floorArena.close();
    }

    /**
     * Information ({@code P4inline}): the device callback called in the loop, where the JIT compiles
     * its code into the loop itself (no call is left).
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long direct() {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += read.read(offsets[i], 4);
        }
        return sum;
    }

    /**
     * Baseline of P4: the device callback behind a direct call, one the JIT does not inline, as a
     * C emulator calls a device's read function (the callback's own code is compiled into the
     * callee, {@link #callDevice}).
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long directCall() {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += callDevice(offsets[i]);
        }
        return sum;
    }

    /** {@link #directCall()}'s callee: one call of the device's read, kept out of the caller. */
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private long callDevice(long addr) {
        return read.read(addr, 4);
    }

    /**
     * Informational: the callback called directly through a call site that has seen three device
     * classes, so the JIT cannot inline it (an emulator's device-dispatch site, or QEMU's
     * {@code ops->read} function pointer); {@link #direct()} inlines it, {@link #directCall()} calls it.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long directMegamorphic() {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += anyRead.read(offsets[i], 4);
        }
        return sum;
    }

    /**
     * The same register reads as guest MMIO.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long dispatch() {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += as.ldlLe(BASE + offsets[i]);
        }
        return sum;
    }

    /**
     * Informational: the least any dispatch that serves RAM first can do for P4's reads, written out
     * by hand: one RAM window read from a field and its range test (which these addresses fail), one
     * range test of the device, then the callback, inlined as in {@link #direct()}. No guard, no size
     * or alignment rules, no byte order, no published state to read through the address space: a
     * lower bound, not a design. Timed against {@link #direct()} ({@code P4floor}), it says how much
     * of P4's 2.0x the two tests alone leave to everything else.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long dispatchFloor() {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            long addr = BASE + offsets[i];
            MemorySegment ram = floorRam;
            long inRam = addr - floorRamStart;
            if (Long.compareUnsigned(inRam, ram.byteSize() - 3) < 0) {
                sum += ram.get(ValueLayout.JAVA_INT_UNALIGNED, inRam);
            } else {
                long inDevice = addr - floorDeviceStart;
                if (Long.compareUnsigned(inDevice, floorDeviceLimit) < 0) {
                    sum += read.read(inDevice, 4);
                }
            }
        }
        return sum;
    }

    /**
     * Informational: the same reads with the device's re-entrancy guard opted out, to show what the
     * guard costs on the dispatch.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long dispatchUnguarded() {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += unguarded.ldlLe(BASE + offsets[i]);
        }
        return sum;
    }

    /**
     * Informational: reads alternating between two devices (the space's fast MMIO slot holds one).
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long dispatchTwoDevices() {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += as.ldlLe(BASE + ((i & 1) << 12) + offsets[i]);
        }
        return sum;
    }

    /**
     * Informational: the same reads through a vCPU's {@code VcpuTlb}, as a JIT makes them.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long tlbTwoDevices() {
        return tlbReads(1 << 12);
    }

    /**
     * Informational: P4's reads of one device through a {@code VcpuTlb}.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long tlbOneDevice() {
        return tlbReads(0);
    }

    /** Reads through the TLB, every other one {@code otherDevice} bytes further (0: one device). */
    private long tlbReads(long otherDevice) {
        VcpuTlb t = tlb;
        t.enterBlock();
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            sum += t.ldlLe(BASE + (i & 1) * otherDevice + offsets[i]);
        }
        return sum;
    }

    /**
     * Informational: register writes alternating between the two devices through a {@code VcpuTlb}.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long tlbWritesTwoDevices() {
        VcpuTlb t = tlb;
        t.enterBlock();
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            t.stlLe(BASE + ((i & 1) << 12) + offsets[i], i);
            sum += i;
        }
        return sum;
    }

    /**
     * Informational: register writes of one device through the address space (an interpreter's
     * store to MMIO, without a soft TLB).
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long dispatchWrites() {
        return spaceWrites(0);
    }

    /**
     * Informational: register writes alternating between the two devices through the address space.
     *
     * @return a sum
     */
    @Benchmark
    @OperationsPerInvocation(OPS)
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    public long dispatchWritesTwoDevices() {
        return spaceWrites(1 << 12);
    }

    /** Writes through the address space, every other one {@code otherDevice} bytes further (0: one device). */
    private long spaceWrites(long otherDevice) {
        long sum = 0;
        for (int i = 0; i < OPS; i++) {
            if (exitRequest) {
                break;
            }
            as.stlLe(BASE + (i & 1) * otherDevice + offsets[i], i);
            sum += i;
        }
        return sum;
    }
}
