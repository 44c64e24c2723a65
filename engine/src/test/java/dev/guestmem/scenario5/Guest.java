package dev.guestmem.scenario5;

import static dev.guestmem.scenario5.MigratableMachine.BIG_BASE;
import static dev.guestmem.scenario5.MigratableMachine.BIG_SIZE;
import static dev.guestmem.scenario5.MigratableMachine.DEVICE_BASE;
import static dev.guestmem.scenario5.MigratableMachine.HOT_BASE;
import static dev.guestmem.scenario5.MigratableMachine.SMALL_BASE;
import static dev.guestmem.scenario5.MigratableMachine.SMALL_SIZE;
import static dev.guestmem.scenario5.MigratableMachine.VRAM_BASE;
import static dev.guestmem.scenario5.MigratableMachine.VRAM_SIZE;

import dev.guestmem.listener.MemoryListener;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The running guest of the source machine: vCPU 0 stores through the address space and kicks the DMA
 * device, vCPU 1 stores through the window soft TLB. Each vCPU runs "blocks" of stores and passes an
 * exit check between them; {@link #quiescentPoint()} is the listener that makes a dirty-log sync
 * wait for every vCPU's next exit check (QEMU's {@code tcg_log_global_after_sync}).
 */
final class Guest {
    private static final int STORES_PER_BLOCK = 64;
    private static final int WORKING_SET = 4;
    private static final int COLD_ONE_IN = 4096;

    private final MigratableMachine m;
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final boolean tight;
    private volatile boolean stop;

    /** A guest spread over every block, with a working set (precopy converges). */
    Guest(MigratableMachine m, long seed) {
        this(m, seed, false);
    }

    /**
     * A guest; {@code tight} makes both vCPUs store only into the first pages of {@code ram-small},
     * so that nearly every dirty-log clear meets a store in flight on the same page.
     */
    Guest(MigratableMachine m, long seed, boolean tight) {
        this.m = m;
        this.tight = tight;
        vcpus.add(new Vcpu(0, new SplittableRandom(seed), null));
        vcpus.add(new Vcpu(1, new SplittableRandom(seed + 1), new WindowTlbCpu(m.as())));
    }

    void start() {
        for (Vcpu v : vcpus) {
            v.thread.start();
        }
    }

    /** Stops the vCPUs (the migration's "stop the VM") and rethrows what a vCPU threw. */
    void stop() throws InterruptedException {
        stop = true;
        for (Vcpu v : vcpus) {
            v.thread.join(TimeUnit.SECONDS.toMillis(30));
            if (v.thread.isAlive()) {
                throw new AssertionError("vCPU " + v.id + " did not stop");
            }
        }
        Throwable t = failure.get();
        if (t != null) {
            throw new AssertionError("a vCPU failed", t);
        }
    }

    long stores() {
        return vcpus.stream().mapToLong(v -> v.stores).sum();
    }

    WindowTlbCpu tlbCpu() {
        return vcpus.get(1).tlb;
    }

    /**
     * Waits, after each dirty-log sync, until every running vCPU has passed an exit check. Waiting
     * inside the callback (under the system lock) is safe only because these vCPUs never take that
     * lock (no device of theirs changes the topology); see {@code AfterSyncWaitTest} for the pattern
     * when they may.
     */
    MemoryListener quiescentPoint() {
        return new MemoryListener() {
            @Override
            public void logGlobalAfterSync() {
                for (Vcpu v : vcpus) {
                    long seen = v.exits;
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (v.exits == seen && v.thread.isAlive() && !stop) {
                        if (System.nanoTime() > deadline) {
                            throw new AssertionError("vCPU " + v.id + " never reached an exit check");
                        }
                        Thread.yield(); // two cores: let the vCPU run to its check
                    }
                }
            }
        };
    }

    private final class Vcpu implements Runnable {
        final int id;
        final SplittableRandom rnd;
        final WindowTlbCpu tlb;
        final Thread thread;
        volatile long exits;
        volatile long stores;

        Vcpu(int id, SplittableRandom rnd, WindowTlbCpu tlb) {
            this.id = id;
            this.rnd = rnd;
            this.tlb = tlb;
            this.thread = Thread.ofPlatform().name("vcpu" + id).daemon().unstarted(this);
        }

        @Override
        public void run() {
            try {
                int value = id << 28;
                long n = 0;
                while (!stop) {
                    if (tlb != null) {
                        tlb.enterBlock();
                    }
                    for (int i = 0; i < STORES_PER_BLOCK; i++) {
                        long addr = pickAddress();
                        value++;
                        if (tlb != null) {
                            tlb.stl(addr, value);
                        } else {
                            m.as().stlLe(addr, value);
                        }
                    }
                    n += STORES_PER_BLOCK;
                    stores = n;
                    if (tlb == null && (n & 16383) == 0) {
                        kickDma();
                    }
                    exits++;
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }

        private void kickDma() {
            long pages = 1 + rnd.nextInt(3);
            long addr = BIG_BASE + rnd.nextLong(BIG_SIZE / 4096 - pages) * 4096;
            m.as().stqLe(DEVICE_BASE + DmaEngine.REG_ADDR, addr);
            m.as().stqLe(DEVICE_BASE + DmaEngine.REG_LEN, pages * 4096);
        }

        /**
         * A guest with a working set, so that precopy converges: most stores go to the first
         * {@value #WORKING_SET} pages of each block (the hot block's last page too), one in
         * {@value #COLD_ONE_IN} anywhere.
         */
        private long pickAddress() {
            long off = rnd.nextInt(1024) * 4L;
            if (tight) {
                return SMALL_BASE + rnd.nextInt(WORKING_SET) * 4096L + off;
            }
            boolean cold = rnd.nextInt(COLD_ONE_IN) == 0;
            return switch (rnd.nextInt(8)) {
                case 0 -> SMALL_BASE + page(cold, SMALL_SIZE) + off;
                case 1 -> HOT_BASE + (rnd.nextBoolean() ? m.hot().size() - 4096 : page(cold, m.hot().size())) + off;
                case 2 -> VRAM_BASE + page(cold, VRAM_SIZE) + off;
                default -> BIG_BASE + page(cold, BIG_SIZE) + off;
            };
        }

        private long page(boolean cold, long blockSize) {
            return rnd.nextLong(cold ? blockSize / 4096 : WORKING_SET) * 4096;
        }
    }
}
