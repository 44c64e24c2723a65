package dev.guestmem.scenario5;

import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.RamRegion;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The dirty clients a migration shares the bitmaps with: a display that logs VGA on {@code vram}
 * and snapshots it over and over, and a translator that protects random RAM pages for CODE
 * ({@code tlb_protect_code}) and drops its translations when they are written.
 */
final class OtherClients {
    private final MigratableMachine m;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread display;
    private final Thread translator;
    private volatile boolean stop;
    private volatile long redrawnPages;
    private volatile long invalidations;

    OtherClients(MigratableMachine m) {
        this.m = m;
        m.vram().setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        DirtyMemory dirty = m.sys().dirtyMemory();
        dirty.setCodeInvalidator((ramAddr, length) -> {
            invalidations++;
            dirty.setDirtyRange(ramAddr & ~0xfffL, 4096, DirtyMemory.MASK_CODE);
        });
        display = Thread.ofPlatform().name("display").daemon().unstarted(() -> loop(this::refresh));
        translator = Thread.ofPlatform().name("translator").daemon().unstarted(() -> loop(this::translate));
    }

    void start() {
        display.start();
        translator.start();
    }

    void stop() throws InterruptedException {
        stop = true;
        display.join();
        translator.join();
        if (failure.get() != null) {
            throw new AssertionError("a dirty client failed", failure.get());
        }
    }

    long redrawnPages() {
        return redrawnPages;
    }

    long invalidations() {
        return invalidations;
    }

    private void loop(Runnable step) {
        try {
            while (!stop) {
                step.run();
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    private void refresh() {
        RamRegion vram = m.vram();
        DirtyBitmapSnapshot snap = vram.snapshotAndClearDirty(0, vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        redrawnPages += snap.dirtyPageCount();
        Thread.yield();
    }

    private final SplittableRandom rnd = new SplittableRandom(99);

    private void translate() {
        RamBlock big = m.big().ramBlock();
        long page = rnd.nextLong(big.usedLength() / 4096);
        m.sys().dirtyMemory().resetDirty(big.offset() + page * 4096, 4096, DirtyMemory.DIRTY_MEMORY_CODE);
        Thread.yield();
    }
}
