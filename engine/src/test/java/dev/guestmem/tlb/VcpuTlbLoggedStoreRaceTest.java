package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * A {@link VcpuTlb} store into logged RAM that skips its marking (its entry knows the page dirty
 * for every client at the current clean epoch) is never lost to a clear racing it: the vCPU thread
 * stores, a consumer clears the page's bit and then reads the data, as a display refresh or a
 * migration round does; if the bit is clean once both are done, the consumer must have read the
 * new data. The store-buffering pattern of {@code dirty.SkippedMarkingAuditTest}, through the TLB's
 * own epoch check. Episodes: {@code -Dguestmem.tlb.raceEpisodes=N} (default 20,000).
 */
class VcpuTlbLoggedStoreRaceTest {
    /** Episode handshake: the consumer publishes 2k-1 to start episode k, the writer answers 2k. */
    private final AtomicLong seq = new AtomicLong();

    @Test
    void aStoreWhoseMarkingWasSkippedIsNotLost() throws Exception {
        int episodes = Integer.getInteger("guestmem.tlb.raceEpisodes", 20_000);
        long addr = 0x105008;
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "vram", 0x10000);
            root.addSubregion(0x100000, ram);
            ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            AddressSpace as = sys.addressSpace(root, "as");
            DirtyMemory d = sys.dirtyMemory();
            long ramAddr = ram.ramBlock().offset() + (addr - 0x100000);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread vcpu = new Thread(() -> {
                try (VcpuTlb tlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, null)) {
                    tlb.enterBlock();
                    for (long k = 1; k <= episodes; k++) {
                        while (seq.get() != 2 * k - 1) {
                            Thread.onSpinWait();
                        }
                        tlb.stqLe(addr, k); // the guest store, its marking skipped while the page's epoch holds
                        seq.set(2 * k);
                    }
                } catch (Throwable t) {
                    failed.set(t);
                    seq.set(Long.MAX_VALUE);
                }
            }, "vcpu");
            vcpu.start();
            long lost = 0;
            long skipped = 0;
            for (long k = 1; k <= episodes && failed.get() == null; k++) {
                d.setDirtyRange(ramAddr, 8, DirtyMemory.MASK_VGA); // episode start: dirty for its one client
                seq.set(2 * k - 1);
                boolean wasDirty = d.testAndClearDirty(ramAddr, 8, DirtyMemory.DIRTY_MEMORY_VGA);
                long seen = as.ldqLe(addr); // "send" the page
                while (seq.get() < 2 * k) {
                    Thread.onSpinWait();
                }
                if (!d.getDirty(ramAddr, 8, DirtyMemory.DIRTY_MEMORY_VGA)) {
                    skipped++;
                    if (wasDirty && seen != k) {
                        lost++;
                    }
                }
            }
            vcpu.join();
            if (failed.get() != null) {
                throw new AssertionError("the vCPU thread failed", failed.get());
            }
            assertEquals(0, lost, "stores whose marking was skipped and whose data the consumer did not see ("
                    + skipped + " of " + episodes + " markings skipped)");
        }
    }
}
