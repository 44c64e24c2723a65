package dev.guestmem.scenario5;

import static dev.guestmem.scenario5.MigratableMachine.BIG_BASE;
import static dev.guestmem.scenario5.MigratableMachine.SMALL_BASE;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/**
 * The dirty-logging race of QEMU's design: a store racing the clear of its page's bit (tested and
 * found set just before the clear, or still in a store buffer while the clearer copies the page)
 * must be caught by the next round at the latest. Two vCPUs sweep 64 KiB each, store k writing
 * k + 1 at word k mod 16384 (one through the window soft TLB into {@code ram-small}, one through
 * the address space into {@code ram-big}), so the value every word must have reached is known
 * from how many stores were done. After round r + 1's copy, every store done when round r's clear
 * finished must be on the destination.
 */
class SyncWindowTest {
    /** Migrations to run; short by default. */
    static final int EPISODES = Integer.getInteger("guestmem.scenario5.episodes", 3);
    /** Precopy rounds of each migration. */
    static final int ROUNDS = Integer.getInteger("guestmem.scenario5.rounds", 30);
    static final int WORDS = 16384;

    @Test
    void aStoreRacingTheClearIsCopiedByTheNextRound() throws Exception {
        MigratableMachine src = MigratableMachine.build(false);
        try {
            for (int episode = 0; episode < EPISODES; episode++) {
                MigratableMachine dst = MigratableMachine.build(false);
                Sweeper tlbCpu = new Sweeper(src, SMALL_BASE, true);
                Sweeper asCpu = new Sweeper(src, BIG_BASE, false);
                MemoryListener quiescent = quiescentPoint(tlbCpu, asCpu);
                src.sys().registerListener(quiescent, null);
                try {
                    tlbCpu.thread.start();
                    asCpu.thread.start();
                    while (tlbCpu.done == 0 || asCpu.done == 0) {
                        Thread.yield(); // the guest runs before the migration starts
                    }
                    long[] doneAtClear = new long[2];
                    int[] checks = {0};
                    PrecopyMigration mig = new PrecopyMigration(src, dst).observe(new PrecopyMigration.RoundObserver() {
                        @Override
                        public void afterClear(int round) {
                            if (round > 0) {
                                return; // read after the copy of the round before, below
                            }
                            doneAtClear[0] = tlbCpu.done;
                            doneAtClear[1] = asCpu.done;
                        }

                        @Override
                        public void afterCopy(int round) {
                            if (round > 0) {
                                assertReached(dst.small().ramBlock(), doneAtClear[0], "soft TLB, round " + round);
                                assertReached(dst.big().ramBlock(), doneAtClear[1], "address space, round " + round);
                                checks[0]++;
                            }
                            // this round's clear is over: what is done now must be in the next round
                            doneAtClear[0] = tlbCpu.done;
                            doneAtClear[1] = asCpu.done;
                        }
                    });
                    mig.run(ROUNDS, -1, () -> {
                        tlbCpu.stop();
                        asCpu.stop();
                    }, () -> { });
                    LiveMigrationTest.assertSameMemory(src, dst, "episode " + episode);
                    assertTrue(checks[0] > 0 && tlbCpu.done > 0 && asCpu.done > 0, "the vCPUs ran during precopy");
                    assertTrue(tlbCpu.tlb.loggedStores() > 0, "the soft TLB stored through logged windows");
                } finally {
                    src.sys().unregisterListener(quiescent);
                    dst.destroy();
                }
            }
        } finally {
            src.destroy();
        }
    }

    /** Every word w of the first 64 KiB holds at least the value of the last store to it among the first {@code done}. */
    private static void assertReached(RamBlock dst, long done, String what) {
        MemorySegment seg = dst.segment();
        for (int w = 0; w < WORDS; w++) {
            long k = lastStoreTo(w, done);
            if (k < 0) {
                continue;
            }
            int have = seg.get(ValueLayout.JAVA_INT_UNALIGNED, w * 4L);
            if (Integer.compareUnsigned(have, (int) (k + 1)) < 0) {
                throw new AssertionError(what + ": word " + w + " (page " + (w / 1024) + ") holds " + have
                        + " but store " + k + " (value " + (k + 1) + ") was done before the clear; " + done
                        + " stores done");
            }
        }
    }

    /** The last of stores 0..done-1 that went to word {@code w}, or -1. */
    private static long lastStoreTo(int w, long done) {
        if (done <= w) {
            return -1;
        }
        return done - 1 - ((done - 1 - w) % WORDS);
    }

    private static MemoryListener quiescentPoint(Sweeper... cpus) {
        return new MemoryListener() {
            @Override
            public void logGlobalAfterSync() {
                for (Sweeper c : cpus) {
                    c.awaitExitCheck();
                }
            }
        };
    }

    /** A vCPU storing value k + 1 at word k mod {@link #WORDS} of a block, in blocks of 64 stores. */
    private static final class Sweeper implements Runnable {
        final MigratableMachine m;
        final long base;
        final WindowTlbCpu tlb;
        final Thread thread;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile long done;
        volatile long exits;
        volatile boolean stop;

        Sweeper(MigratableMachine m, long base, boolean viaTlb) {
            this.m = m;
            this.base = base;
            this.tlb = viaTlb ? new WindowTlbCpu(m.as()) : null;
            this.thread = Thread.ofPlatform().name(viaTlb ? "sweep-tlb" : "sweep-as").daemon().unstarted(this);
        }

        @Override
        public void run() {
            try {
                long k = 0;
                while (!stop) {
                    if (tlb != null) {
                        tlb.enterBlock();
                    }
                    for (int i = 0; i < 64; i++, k++) {
                        long addr = base + (k % WORDS) * 4;
                        if (tlb != null) {
                            tlb.stl(addr, (int) (k + 1));
                        } else {
                            m.as().stlLe(addr, (int) (k + 1));
                        }
                        done = k + 1;
                        if (i == 32 && (k & 1023) == 32) {
                            LockSupport.parkNanos(200_000); // preempted in the middle of a block
                        }
                    }
                    exits++;
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }

        void awaitExitCheck() {
            long seen = exits;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (exits == seen && thread.isAlive() && !stop) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(thread.getName() + " never reached an exit check");
                }
                Thread.yield();
            }
        }

        void stop() throws InterruptedException {
            stop = true;
            thread.join();
            if (failure.get() != null) {
                throw new AssertionError(thread.getName() + " failed", failure.get());
            }
        }
    }
}
