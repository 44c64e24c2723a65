package dev.guestmem.scenario7;

import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The running guest of a {@link Board}: vCPU 0 loads and stores through the address spaces, vCPU 1
 * through {@link SoftTlbCpu}s (and "translates" code on RAM pages, so its stores meet the CODE
 * client), vCPU 2 through the window form ({@link WindowTlbCpu}), and a firmware thread flips PAM
 * segments, opens and closes SMRAM, and erases and programs
 * the flash, leaving and re-entering ROMD mode. Each thread passes an exit check between blocks of
 * work; {@link #awaitExitChecks()} waits for the next one of each.
 */
final class BoardGuest {
    private static final int OPS_PER_BLOCK = 32;
    private static final int WORKING_SET = 4;

    private final Board b;
    private final List<Worker> workers = new ArrayList<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final AtomicLong invalidations = new AtomicLong();
    private final ConcurrentHashMap<Long, Boolean> translated = new ConcurrentHashMap<>();
    private volatile boolean stop;
    long pamFlips;
    long flashPrograms;

    BoardGuest(Board b, long seed) {
        this.b = b;
        DirtyMemory dirty = b.sys.dirtyMemory();
        dirty.setCodeInvalidator((ramAddr, length) -> {
            long page = ramAddr & ~0xfffL;
            if (translated.remove(page) != null) {
                invalidations.incrementAndGet();
            }
            dirty.setDirtyRange(page, 4096, DirtyMemory.MASK_CODE); // translations dropped
        });
        SplittableRandom r = new SplittableRandom(seed);
        workers.add(new Worker("vcpu0", r.split(), this::addressSpaceBlock));
        SoftTlbCpu mem = new SoftTlbCpu(b.memory);
        SoftTlbCpu smm = new SoftTlbCpu(b.smm);
        workers.add(new Worker("vcpu1", r.split(), rnd -> tlbBlock(rnd, mem, smm)));
        WindowTlbCpu window = new WindowTlbCpu(b.memory);
        workers.add(new Worker("vcpu2", r.split(), rnd -> windowBlock(rnd, window)));
        workers.add(new Worker("firmware", r.split(), this::firmwareStep));
    }

    void start() {
        workers.forEach(w -> w.thread.start());
    }

    /** Stops every thread ("stop the VM") and rethrows what one threw. */
    void stop() throws InterruptedException {
        stop = true;
        for (Worker w : workers) {
            w.thread.join(TimeUnit.SECONDS.toMillis(30));
            if (w.thread.isAlive()) {
                throw new AssertionError(w.thread.getName() + " did not stop");
            }
        }
        Throwable t = failure.get();
        if (t != null) {
            throw new AssertionError("a guest thread failed", t);
        }
    }

    /** Waits until every running thread has passed one more exit check (QEMU's after-sync wait). */
    void awaitExitChecks() {
        for (Worker w : workers) {
            long seen = w.exits;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (w.exits == seen && w.thread.isAlive() && !stop) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError(w.thread.getName() + " never reached an exit check");
                }
                Thread.yield();
            }
        }
    }

    long invalidations() {
        return invalidations.get();
    }

    long blocks(int worker) {
        return workers.get(worker).exits;
    }

    /** RAM (below 4 GiB, above it), PAM segments of the option ROM, or SMRAM: mostly a working set. */
    private static long ramAddress(SplittableRandom rnd) {
        long page = rnd.nextInt(64) == 0 ? rnd.nextLong(512) : rnd.nextLong(WORKING_SET);
        long off = rnd.nextInt(512) * 8L;
        return switch (rnd.nextInt(4)) {
            case 0 -> 0x100000 + page * 4096 + off;
            case 1 -> Board.ABOVE_4G_BASE + (page % 256) * 4096 + off;
            case 2 -> Pam.BASE + rnd.nextLong(32) * 4096 + off; // 0xc0000-0xdffff: option ROM segments
            default -> 0x200000 + (page % 256) * 4096 + off;
        };
    }

    /** Loads anywhere the board has something: flash, isa-bios, PAM, VGA registers, RAM. */
    private static long loadAddress(SplittableRandom rnd) {
        long off = rnd.nextInt(512) * 8L;
        return switch (rnd.nextInt(5)) {
            case 0 -> Board.FLASH_BASE + rnd.nextLong(Board.FLASH_SIZE / 4096) * 4096 + off;
            case 1 -> Pam.BASE + rnd.nextLong(Pam.SEGMENTS * Pam.SEGMENT / 4096) * 4096 + off;
            case 2 -> Board.VGA_BASE + off;
            default -> ramAddress(rnd);
        };
    }

    private void addressSpaceBlock(SplittableRandom rnd) {
        for (int i = 0; i < OPS_PER_BLOCK; i++) {
            switch (rnd.nextInt(8)) {
                case 0 -> b.memory.ldqLe(loadAddress(rnd));
                case 1 -> b.smm.stqLe(Board.VGA_BASE + rnd.nextInt(4) * 4096 + rnd.nextInt(512) * 8L, rnd.nextLong());
                case 2 -> b.memory.stb(Board.VGA_BASE + rnd.nextInt(256), rnd.nextInt(256));
                default -> b.memory.stqLe(ramAddress(rnd), rnd.nextLong());
            }
        }
    }

    private void tlbBlock(SplittableRandom rnd, SoftTlbCpu mem, SoftTlbCpu smm) {
        for (int i = 0; i < OPS_PER_BLOCK; i++) {
            switch (rnd.nextInt(8)) {
                case 0 -> mem.ldq(loadAddress(rnd));
                case 1 -> smm.stq(Board.VGA_BASE + rnd.nextInt(4) * 4096 + rnd.nextInt(512) * 8L, rnd.nextLong());
                case 2 -> smm.ldq(loadAddress(rnd));
                case 3 -> translate(mem, ramAddress(rnd));
                default -> mem.stq(ramAddress(rnd), rnd.nextLong());
            }
        }
    }

    private void windowBlock(SplittableRandom rnd, WindowTlbCpu cpu) {
        cpu.enterBlock();
        for (int i = 0; i < OPS_PER_BLOCK; i++) {
            if (rnd.nextInt(4) == 0) {
                cpu.ldq(loadAddress(rnd));
            } else {
                cpu.stq(ramAddress(rnd), rnd.nextLong());
            }
        }
    }

    /** The JIT translates code from the page: tlb_protect_code. */
    private void translate(SoftTlbCpu cpu, long addr) {
        TlbEntry e = cpu.lookup(addr);
        if (e.ramAddr() >= 0 && e.readDirect()) {
            long page = e.ramAddr() & ~0xfffL;
            translated.put(page, Boolean.TRUE);
            b.sys.dirtyMemory().resetDirty(page, 4096, DirtyMemory.DIRTY_MEMORY_CODE);
        }
    }

    private void firmwareStep(SplittableRandom rnd) {
        switch (rnd.nextInt(6)) {
            case 0, 1 -> {
                int seg = rnd.nextInt(Pam.SEGMENTS);
                b.memory.stlLe(Board.CHIPSET_BASE + Chipset.REG_PAM, Pam.with(b.pam.value(), seg, rnd.nextInt(4)));
                pamFlips++;
            }
            case 2 -> b.memory.stlLe(Board.CHIPSET_BASE + Chipset.REG_SMRAM, rnd.nextBoolean() ? Chipset.D_OPEN : 0);
            case 3 -> program(rnd);
            case 4 -> b.memory.stb(Board.FLASH_BASE, rnd.nextBoolean() ? CfiFlash.CMD_STATUS : CfiFlash.CMD_READ_ARRAY);
            default -> shadowWrite(rnd);
        }
    }

    /** Erase a sector, program a few bytes in it, back to read array: all through the address space. */
    private void program(SplittableRandom rnd) {
        long sector = Board.FLASH_BASE + rnd.nextLong(Board.FLASH_SIZE / CfiFlash.SECTOR) * CfiFlash.SECTOR;
        b.memory.stb(sector, CfiFlash.CMD_ERASE);
        b.memory.stb(sector, CfiFlash.CMD_CONFIRM);
        for (int i = 0; i < 8; i++) {
            b.memory.stb(sector, CfiFlash.CMD_PROGRAM);
            b.memory.stb(sector + rnd.nextInt((int) CfiFlash.SECTOR), rnd.nextInt(256));
        }
        b.memory.stb(sector, CfiFlash.CMD_READ_ARRAY);
        flashPrograms++;
    }

    /** A write into the BIOS shadow (0xe0000-0xfffff), only where PAM sends it to RAM or drops it. */
    private void shadowWrite(SplittableRandom rnd) {
        int seg = 8 + rnd.nextInt(8);
        if (Pam.mode(b.pam.value(), seg) != Pam.ROM_ONLY) { // mode 0 would send it to the flash as a command
            b.memory.stqLe(Pam.BASE + seg * Pam.SEGMENT + rnd.nextInt(2048) * 8L, rnd.nextLong());
        }
    }

    /** One guest thread: blocks of work, an exit check between them. */
    private final class Worker implements Runnable {
        final SplittableRandom rnd;
        final java.util.function.Consumer<SplittableRandom> block;
        final Thread thread;
        volatile long exits;

        Worker(String name, SplittableRandom rnd, java.util.function.Consumer<SplittableRandom> block) {
            this.rnd = rnd;
            this.block = block;
            this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this);
        }

        @Override
        public void run() {
            try {
                while (!stop) {
                    block.accept(rnd);
                    exits++;
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }
    }
}
