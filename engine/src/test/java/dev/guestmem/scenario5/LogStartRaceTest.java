package dev.guestmem.scenario5;

import static dev.guestmem.scenario5.MigratableMachine.SMALL_BASE;

import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;

/**
 * Device threads (no vCPU, no quiescent point) storing through {@code as.stlLe} while migration
 * logging starts: QEMU's {@code address_space_st*} marks with the mask read after the store, so a
 * store that lands after the first pass copied its page is logged. Each thread owns 1024 words of
 * {@code ram-small} and stores k + 1 into word k mod 1024; every store done before round 1's clear
 * must be on the destination after round 1.
 */
class LogStartRaceTest {
    static final int THREADS = 4;
    static final int EPISODES = Integer.getInteger("guestmem.scenario5.logstart.episodes", 1000);

    @Test
    void aDeviceThreadsStoreAcrossLoggingStartIsNotLost() throws Exception {
        MigratableMachine src = MigratableMachine.build(false);
        RamBlock small = src.small().ramBlock();
        MemorySegment dst = java.lang.foreign.Arena.ofAuto().allocate(small.usedLength());
        AtomicLongArray done = new AtomicLongArray(THREADS);
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().daemon().start(() -> {
                long base = SMALL_BASE + id * 4096L;
                for (long k = 0; !stop.get(); k++) {
                    src.as().stlLe(base + (k % 1024) * 4, (int) (k + 1));
                    done.lazySet(id, k + 1);
                }
            }));
        }
        DirtyMemory dirty = src.sys().dirtyMemory();
        try {
            for (int e = 0; e < EPISODES; e++) {
                src.sys().globalDirtyLogStart();
                dirty.snapshotAndClearDirty(small.offset(), small.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
                MemorySegment.copy(small.segment(), 0, dst, 0, small.usedLength()); // round 0: everything
                long[] before = new long[THREADS];
                for (int t = 0; t < THREADS; t++) {
                    before[t] = done.get(t);
                }
                DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(small.offset(), small.usedLength(),
                        DirtyMemory.DIRTY_MEMORY_MIGRATION);
                snap.forEachDirtyPage(a -> {
                    long off = a - small.offset();
                    if (off < small.usedLength()) {
                        MemorySegment.copy(small.segment(), off, dst, off, 4096);
                    }
                });
                src.sys().globalDirtyLogStop();
                for (int t = 0; t < THREADS; t++) {
                    long n = before[t];
                    for (int w = 0; w < 1024 && w < n; w++) {
                        long k = n - 1 - ((n - 1 - w) % 1024);
                        int have = dst.get(ValueLayout.JAVA_INT_UNALIGNED, t * 4096L + w * 4L);
                        if (Integer.compareUnsigned(have, (int) (k + 1)) < 0) {
                            throw new AssertionError("episode " + e + ": thread " + t + " word " + w + " holds " + have
                                    + ", store " + k + " was done before round 1's clear");
                        }
                    }
                }
            }
        } finally {
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
            src.destroy();
        }
    }
}
