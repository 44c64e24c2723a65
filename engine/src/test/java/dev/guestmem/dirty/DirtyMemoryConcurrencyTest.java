package dev.guestmem.dirty;

import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_BLOCK_SIZE;
import static dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_MIGRATION;
import static dev.guestmem.dirty.DirtyMemory.MASK_MIGRATION;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Setters racing snapshot-and-clear and extend. Runs about a second; with {@code
 * -Dguestmem.stress=true} for {@code guestmem.stress.seconds}.
 */
class DirtyMemoryConcurrencyTest {
    private static final long PAGE = 4096;
    private static final int PAGES = 8192;

    private static long runMillis() {
        if (Boolean.getBoolean("guestmem.stress")) {
            return Long.getLong("guestmem.stress.seconds", 2) * 1000;
        }
        return 1000;
    }

    /**
     * Every page some setter marked is in exactly the union of the snapshots and the final state.
     * Setters sweep interleaved pages (setter t marks pages t, t + S, t + 2S, ...), so neighbouring
     * bits of one word belong to different threads, and each page is marked once per round: a bit
     * lost by a clear cannot be hidden by a later re-set. The clearer snapshots windows at the
     * sweep front (where the races are) and, now and then, the whole space across the 8 GiB
     * bitmap-block boundary.
     */
    @Test
    void noSetIsLostBySnapshotAndClear() throws Exception {
        DirtyMemory d = new DirtyMemory();
        int space = 2 * DIRTY_MEMORY_BLOCK_SIZE; // two bitmap blocks
        d.extend(space * PAGE);
        int setters = Math.max(2, Runtime.getRuntime().availableProcessors());
        long deadline = System.nanoTime() + runMillis() * 1_000_000;
        SplittableRandom rnd = new SplittableRandom(42);
        int rounds = 0;
        long snapshots = 0;
        do {
            AtomicLongArray progress = new AtomicLongArray(setters);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicBoolean stop = new AtomicBoolean();
            // Start mid-space for half the rounds, so the sweep crosses the block boundary early.
            long first = rounds % 2 == 0 ? 0 : DIRTY_MEMORY_BLOCK_SIZE - 4096;
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < setters; t++) {
                int me = t;
                progress.set(t, first + t - setters);
                Thread th = new Thread(() -> {
                    try {
                        for (long p = first + me; p < space && !stop.get(); p += setters) {
                            // Unaligned addresses and lengths inside the page: still exactly page p.
                            d.invalidateAndSetDirty(p * PAGE + (p & 0xff), 4, DirtyMemory.DIRTY_CLIENTS_NOCODE, null);
                            progress.lazySet(me, p);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }, "dirty-setter-" + t);
                threads.add(th);
            }
            threads.forEach(Thread::start);
            BitSet union = new BitSet(space);
            boolean running = true;
            while (running) {
                running = false;
                for (Thread th : threads) {
                    running |= th.isAlive();
                }
                long front = Long.MAX_VALUE;
                for (int t = 0; t < setters; t++) {
                    front = Math.min(front, progress.get(t));
                }
                long from;
                long len;
                if (rnd.nextInt(4096) == 0) {
                    from = 0;
                    len = space;
                } else {
                    from = Math.max(0, Math.min(space - 512, front - 256 + rnd.nextInt(64)));
                    len = 256 + rnd.nextInt(256);
                }
                DirtyBitmapSnapshot s = d.snapshotAndClearDirty(from * PAGE, len * PAGE, DIRTY_MEMORY_MIGRATION);
                s.forEachDirtyPage(a -> union.set((int) (a / PAGE)));
                snapshots++;
                if (System.nanoTime() > deadline) {
                    stop.set(true);
                }
            }
            for (Thread th : threads) {
                th.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("setter failed", failure.get());
            }
            DirtyBitmapSnapshot last = d.snapshotAndClearDirty(0, space * PAGE, DIRTY_MEMORY_MIGRATION);
            last.forEachDirtyPage(a -> union.set((int) (a / PAGE)));
            BitSet expected = new BitSet(space);
            for (int t = 0; t < setters; t++) {
                for (long p = first + t; p <= progress.get(t); p += setters) {
                    expected.set((int) p);
                }
            }
            if (!expected.equals(union)) {
                BitSet lost = (BitSet) expected.clone();
                lost.andNot(union);
                BitSet extra = (BitSet) union.clone();
                extra.andNot(expected);
                throw new AssertionError("round " + rounds + ": " + lost.cardinality() + " sets lost (first "
                        + lost.nextSetBit(0) + "), " + extra.cardinality() + " pages never set reported");
            }
            assertFalse(d.getDirty(0, space * PAGE, DIRTY_MEMORY_MIGRATION));
            assertEquals(0, d.cleanEpoch() & 1);
            rounds++;
        } while (System.nanoTime() < deadline);
        assertTrue(snapshots > 10, "snapshots taken: " + snapshots);
    }

    /** Bits set through an old pointer array while another thread extends stay visible. */
    @Test
    void setsRacingExtendAreKept() throws Exception {
        DirtyMemory d = new DirtyMemory();
        d.extend(1);
        int pages = 4096;
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread setter = new Thread(() -> {
            try {
                for (int p = 0; p < pages; p++) {
                    d.setDirtyRange(p * PAGE * 3, 1, MASK_MIGRATION);
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        });
        setter.start();
        long limit = 2L * DIRTY_MEMORY_BLOCK_SIZE * PAGE;
        for (int i = 2; i < 64 && setter.isAlive(); i++) {
            d.extend(i * limit / 2);
        }
        setter.join();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        for (int p = 0; p < pages; p++) {
            assertTrue(d.getDirty(p * PAGE * 3, 1, DIRTY_MEMORY_MIGRATION), "page " + p * 3);
            assertFalse(d.getDirty(p * PAGE * 3 + PAGE, 2 * PAGE, DIRTY_MEMORY_MIGRATION));
        }
    }

    /**
     * The soft-TLB protocol: a fast-path decision validated against the epoch is never stale. A
     * checker thread validates "page dirty" decisions while a clearer snapshots; whenever it
     * validates, a re-check of the bit under the same epoch (no clear since) must agree.
     */
    @Test
    void validatedEpochNeverCoversAClearedPage() throws Exception {
        DirtyMemory d = new DirtyMemory();
        d.extend(PAGES * PAGE);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<String> failure = new AtomicReference<>();
        long[] validated = new long[1];
        Thread checker = new Thread(() -> {
            SplittableRandom rnd = new SplittableRandom(7);
            while (!stop.get()) {
                long page = rnd.nextInt(64);
                d.setDirtyRange(page * PAGE, PAGE, MASK_MIGRATION);
                long epoch = d.cleanEpoch();
                if ((epoch & 1) == 0 && d.allDirty(page * PAGE, PAGE, MASK_MIGRATION) && d.validateCleanEpoch(epoch)) {
                    validated[0]++;
                    // A clear that would have cleaned the page must have moved the epoch.
                    boolean still = d.allDirty(page * PAGE, PAGE, MASK_MIGRATION);
                    if (!still && d.validateCleanEpoch(epoch)) {
                        failure.compareAndSet(null, "page " + page + " clean under validated epoch " + epoch);
                    }
                }
            }
        });
        checker.start();
        long deadline = System.nanoTime() + runMillis() / 2 * 1_000_000;
        while (System.nanoTime() < deadline) {
            d.snapshotAndClearDirty(0, 64 * PAGE, DIRTY_MEMORY_MIGRATION);
        }
        stop.set(true);
        checker.join();
        assertEquals(null, failure.get());
        assertTrue(validated[0] > 0, "the checker validated some decisions");
    }
}
