package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * vCPU threads hammer a page through the documented soft-TLB pattern (entry and window forms)
 * while the RAM behind it is unplugged and released: every access either works on the old block
 * or throws {@link IllegalStateException}, which the pattern turns into the slow path; never a
 * crash. Rounds from {@code -Dguestmem.tlbUnplugRounds} (20 by default).
 */
class TlbUnplugRaceTest {
    private static final long MIB = 1 << 20;
    private static final long BASE = 0x1_0000_0000L;

    @Test
    void releaseUnderRunningAccessesIsAClearError() throws Exception {
        int rounds = Integer.getInteger("guestmem.tlbUnplugRounds", 20);
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        AtomicLong slow = new AtomicLong();
        for (int round = 0; round < rounds; round++) {
            RamRegion dimm = RamRegion.allocate(sys, null, "dimm" + round, MIB);
            root.addSubregion(BASE, dimm);
            AtomicBoolean stop = new AtomicBoolean();
            CountDownLatch running = new CountDownLatch(2);
            Thread entryForm = new Thread(() -> {
                TlbEntry e = new TlbEntry();
                running.countDown();
                while (!stop.get()) {
                    if (e.pageAddr() != BASE || e.generation() != as.generation()) {
                        GuestTlb.fill(as, BASE, e);
                    }
                    if (e.writeDirect()) {
                        try {
                            MemorySegment s = e.segment();
                            s.set(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset() + 8,
                                    s.get(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset() + 8) + 1);
                            continue;
                        } catch (IllegalStateException gone) {
                            slow.incrementAndGet();
                        }
                    }
                    as.stl(BASE + 8, 1); // the slow path: DECODE_ERROR once unmapped
                }
            }, "vcpu-entry");
            Thread windowForm = new Thread(() -> {
                TlbEntry scratch = new TlbEntry();
                GuestTlb.fill(as, BASE, scratch);
                var w = scratch.window();
                running.countDown();
                while (!stop.get()) {
                    long off = BASE + 16 - w.start();
                    MemorySegment ram = w.read();
                    if (ram.byteSize() >= 4 && Long.compareUnsigned(off, ram.byteSize() - 3) < 0) {
                        try {
                            ram.get(ValueLayout.JAVA_INT_UNALIGNED, off);
                            continue;
                        } catch (IllegalStateException gone) {
                            slow.incrementAndGet();
                        }
                    }
                    as.ldl(BASE + 16);
                }
            }, "vcpu-window");
            entryForm.start();
            windowForm.start();
            running.await();
            Thread.sleep(2);
            root.delSubregion(dimm);
            dimm.destroy(); // the last reference: the block is unmapped under the running threads
            assertTrue(dimm.ramBlock().isReleased());
            Thread.sleep(2);
            stop.set(true);
            entryForm.join();
            windowForm.join();
            assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(BASE + 8, 1));
        }
    }
}
