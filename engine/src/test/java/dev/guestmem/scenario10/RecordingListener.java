package dev.guestmem.scenario10;

import dev.guestmem.MemorySystem;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionSection;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts what one machine's listener hears and records every section that belongs to another
 * machine's regions. It records, never throws: a throw would reach the thread that made the change.
 */
final class RecordingListener implements MemoryListener {
    private final MemorySystem sys;
    final Queue<String> foreign = new ConcurrentLinkedQueue<>();
    final AtomicLong commits = new AtomicLong();
    final AtomicLong globalStarts = new AtomicLong();
    final AtomicLong globalStops = new AtomicLong();
    final AtomicLong syncs = new AtomicLong();
    final AtomicLong afterSyncs = new AtomicLong();
    final AtomicLong logStarts = new AtomicLong();
    final AtomicLong eventfdAdds = new AtomicLong();
    final AtomicLong coalescedAdds = new AtomicLong();

    RecordingListener(MemorySystem sys) {
        this.sys = sys;
    }

    private void check(String what, MemoryRegionSection s) {
        if (s.region() != null && s.region().system() != sys) {
            foreign.add(what + " " + s.region().name() + " on " + Thread.currentThread().getName());
        }
    }

    @Override
    public void commit() {
        commits.incrementAndGet();
    }

    @Override
    public void regionAdd(MemoryRegionSection s) {
        check("add", s);
    }

    @Override
    public void regionDel(MemoryRegionSection s) {
        check("del", s);
    }

    @Override
    public void regionNop(MemoryRegionSection s) {
        check("nop", s);
    }

    @Override
    public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
        check("log_start", s);
        logStarts.incrementAndGet();
    }

    @Override
    public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
        check("log_stop", s);
    }

    @Override
    public void logSync(MemoryRegionSection s) {
        check("log_sync", s);
        syncs.incrementAndGet();
    }

    @Override
    public void logClear(MemoryRegionSection s) {
        check("log_clear", s);
    }

    @Override
    public void logGlobalStart() {
        globalStarts.incrementAndGet();
    }

    @Override
    public void logGlobalStop() {
        globalStops.incrementAndGet();
    }

    @Override
    public void logGlobalAfterSync() {
        afterSyncs.incrementAndGet();
    }

    @Override
    public void eventfdAdd(Ioeventfd fd) {
        eventfdAdds.incrementAndGet();
    }

    @Override
    public void coalescedIoAdd(MemoryRegionSection s, long addr, long size) {
        check("coalesced_add", s);
        coalescedAdds.incrementAndGet();
    }
}
