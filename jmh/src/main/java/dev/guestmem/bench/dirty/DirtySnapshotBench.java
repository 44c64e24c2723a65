package dev.guestmem.bench.dirty;

import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import java.util.SplittableRandom;
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
 * TARGETS P9: {@link DirtyMemory#snapshotAndClearDirty} of the MIGRATION bitmap covering 64 GiB of
 * guest RAM (16 Mi pages, 2 MiB of bits), absolute, in milliseconds.
 *
 * <p>{@code density} is the fraction of pages dirty before each snapshot: {@code 0} (all clean: a
 * read-only sweep), {@code 0.01} (1% of pages, scattered at random: about half of the bitmap words
 * are non-zero and take an atomic exchange), {@code 1} (every page dirty: every word exchanged). The
 * dirty pages are re-marked before every invocation, outside the measured time. {@link
 * #snapshotAndIterate} adds a walk of the snapshot's dirty pages (what an incremental snapshot does
 * next), for information.
 *
 * <p><b>Thread safety.</b> JMH state, one thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DirtySnapshotBench {
    static final long RAM_SIZE = 64L << 30;

    /** Fraction of pages dirty before each snapshot. */
    @Param({"0", "0.01", "1"})
    public double density;

    private DirtyMemory dirty;
    private long[] dirtyPages;

    /** Creates the state (JMH). */
    public DirtySnapshotBench() {
    }

    /** Sizes the bitmaps for 64 GiB and picks the dirty pages. */
    @Setup(Level.Trial)
    public void setUp() {
        dirty = new DirtyMemory();
        dirty.extend(RAM_SIZE);
        long pages = RAM_SIZE >>> DirtyMemory.TARGET_PAGE_BITS;
        if (density >= 1) {
            dirtyPages = null;
            return;
        }
        SplittableRandom rnd = new SplittableRandom(9);
        dirtyPages = new long[(int) (pages * density)];
        for (int i = 0; i < dirtyPages.length; i++) {
            dirtyPages[i] = rnd.nextLong(pages);
        }
    }

    /** Re-marks the dirty pages the previous snapshot cleared (not measured). */
    @Setup(Level.Invocation)
    public void redirty() {
        if (dirtyPages == null) {
            dirty.setDirtyRange(0, RAM_SIZE, DirtyMemory.MASK_MIGRATION);
            return;
        }
        for (long p : dirtyPages) {
            dirty.setDirtyRange(p << DirtyMemory.TARGET_PAGE_BITS, 1, DirtyMemory.MASK_MIGRATION);
        }
    }

    /**
     * Snapshot and clear of the whole 64 GiB.
     *
     * @return the snapshot, for the blackhole
     */
    @Benchmark
    public DirtyBitmapSnapshot snapshotAndClear() {
        return dirty.snapshotAndClearDirty(0, RAM_SIZE, DirtyMemory.DIRTY_MEMORY_MIGRATION);
    }

    /**
     * Snapshot and clear, then a walk of the dirty pages.
     *
     * @return the sum of the dirty pages' ram_addrs, for the blackhole
     */
    @Benchmark
    public long snapshotAndIterate() {
        DirtyBitmapSnapshot s = dirty.snapshotAndClearDirty(0, RAM_SIZE, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        long sum = 0;
        for (long a = s.nextDirtyPage(0); a >= 0; a = s.nextDirtyPage(a + DirtyMemory.TARGET_PAGE_SIZE)) {
            sum += a;
        }
        return sum;
    }
}
