package dev.guestmem.bench.topology;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Topology costs (TARGETS P6, P7) on a PC-like machine with {@code regions} device regions: system
 * memory (2^64 container) holding a PCI hole, an I/O background of 2 GiB whose children are the BARs
 * (one 4 KiB BAR every 8 KiB), and an alias of the PCI space into the hole, so rendering goes through
 * an alias, a background fill and many siblings.
 *
 * <ul>
 *   <li>{@link #renderAndDispatch}: a full rebuild, {@code generate_memory_topology}: render,
 *       simplify, build the dispatch table (P6; the baseline of P7).</li>
 *   <li>{@link #barMoveCommit}: one BAR moves (alternating between two free slots) through
 *       {@code setAddress}, i.e. a whole commit of an address space whose view is patched only in the
 *       changed windows, plus the new view's dispatch table, derived from the old table by rebuilding
 *       only the pages of those windows (P7).</li>
 * </ul>
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TopologyBench {
    /** Number of BAR regions under the PCI background. */
    @Param({"10", "1000", "10000"})
    public int regions;

    private MemorySystem sys;
    private ContainerRegion system;
    private IoRegion moving;
    private long slotA;
    private long slotB;
    private boolean atA = true;

    /** Creates the state (JMH). */
    public TopologyBench() {
    }

    /** Builds the machine and its address space. */
    @Setup(Level.Trial)
    public void setUp() {
        sys = new MemorySystem();
        system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        IoRegion pci = new IoRegion(sys, null, null, "pci", 0x8000_0000L);
        sys.transactionBegin();
        for (int i = 0; i < regions; i++) {
            pci.addSubregion(0x10_0000L + i * 0x2000L, new IoRegion(sys, null, null, "bar" + i, 0x1000));
        }
        moving = new IoRegion(sys, null, null, "moving-bar", 0x1000);
        slotA = 0x10_0000L + regions * 0x2000L + 0x1000;
        slotB = slotA + 0x4000;
        pci.addSubregion(slotA, moving);
        system.addSubregionOverlap(0x8000_0000L, new AliasRegion(sys, null, "pci-hole", pci, 0, 0x8000_0000L), -1);
        system.addSubregion(0, new IoRegion(sys, null, null, "low", 0x10_0000L));
        sys.transactionCommit();
        AddressSpace as = sys.addressSpace(system, "memory");
        if (as.currentMap().rangeCount() < regions) {
            throw new IllegalStateException("bad setup: " + as.currentMap().rangeCount() + " ranges");
        }
    }

    /**
     * P6: full render + simplify + dispatch build.
     *
     * @return the view (so the work is not eliminated)
     */
    @Benchmark
    public FlatView renderAndDispatch() {
        sys.lock().lock();
        try {
            return new FlatView(system, FlatViewRenderer.render(system));
        } finally {
            sys.lock().unlock();
        }
    }

    /**
     * P7: one BAR move committed (incremental re-render of the changed windows, incremental dispatch
     * build, publication).
     *
     * @return the new address (so the work is not eliminated)
     */
    @Benchmark
    public long barMoveCommit() {
        long to = atA ? slotB : slotA;
        atA = !atA;
        moving.setAddress(to);
        return to;
    }
}
