package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Two vCPU threads use one device (two regions, one owner) at the same time, with no big lock. The
 * re-entrancy guard is about a callback reaching its own device on the same thread (guide 4); a
 * second thread in the device is not re-entrancy and must not be refused. Length:
 * {@code guestmem.scenario2.accesses} per thread.
 */
class SharedDeviceThreadsTest {
    @Test
    void concurrentAccessesFromTwoThreadsAreNotReentrancy() throws Exception {
        int n = Integer.getInteger("guestmem.scenario2.accesses", 20000);
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        Object uart = new Object();
        AtomicLong calls = new AtomicLong();
        MemoryRegionOps slow = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.incrementAndGet();
                    Thread.onSpinWait();
                    return 0x60;
                })
                .write((addr, data, size) -> calls.incrementAndGet())
                .build();
        system.addSubregion(0x1000_0000L, new IoRegion(sys, uart, slow, "uart", 8));
        system.addSubregion(0x1000_0010L, new IoRegion(sys, uart, slow, "uart-fifo", 4));
        AddressSpace as = sys.addressSpace(system, "memory");
        ConcurrentLinkedQueue<String> refused = new ConcurrentLinkedQueue<>();
        CountDownLatch go = new CountDownLatch(1);
        Runnable cpu = () -> {
            MemTxResultHolder res = new MemTxResultHolder();
            try {
                go.await();
            } catch (InterruptedException e) {
                return;
            }
            for (int i = 0; i < n && refused.size() < 5; i++) {
                as.ldub(0x1000_0005L, MemTxAttrs.UNSPECIFIED, res);
                if (res.get() != MemTxResult.OK) {
                    refused.add("read " + MemTxResult.toString(res.get()));
                }
                int w = as.stlLe(0x1000_0010L, i);
                if (w != MemTxResult.OK) {
                    refused.add("write " + MemTxResult.toString(w));
                }
            }
        };
        Thread a = new Thread(cpu);
        Thread b = new Thread(cpu);
        a.start();
        b.start();
        go.countDown();
        a.join();
        b.join();
        assertEquals("[]", refused.toString());
        assertEquals(4L * n, calls.get());
    }
}
