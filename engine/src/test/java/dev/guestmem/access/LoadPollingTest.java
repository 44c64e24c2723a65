package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A device model that polls guest RAM with loads (a mailbox, a ring's producer index) must see
 * another thread's store: every load reads the fast window and the bytes again, even in a loop
 * the JIT has compiled with nothing else in it (a plain read there could be hoisted out of the
 * loop, and the loop would spin on the first value forever). The load's acquire fence
 * ({@code AddressSpace.fastWindowForLoad}) is what guarantees it; on JDK 25 the loop also ends
 * without the fence (checked), because the compiled loop keeps the miss path's call, whose memory
 * effects already force the reads: this test guards the behaviour, the fence the guarantee.
 */
class LoadPollingTest {
    private static final long MAILBOX = 0x1000;

    @Test
    void aCompiledPollingLoopSeesAnotherThreadsStore() throws Exception {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
            root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x10000));
            AddressSpace as = sys.addressSpace(root, "memory");
            AtomicInteger seen = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(1);
            Thread poller = new Thread(() -> {
                seen.set(poll(as));
                done.countDown();
            }, "poller");
            poller.setDaemon(true); // a hoisted loop never ends: do not keep the JVM
            poller.start();
            Thread.sleep(1500); // the loop spins long enough to be compiled (OSR) before the store arrives
            assertEquals(MemTxResult.OK, as.stlLe(MAILBOX, 0x5eed));
            assertTrue(done.await(20, TimeUnit.SECONDS), "the polling loop never saw the store");
            assertEquals(0x5eed, seen.get());
        }
    }

    /** Spins on the mailbox: a loop with no memory access but the load. */
    private static int poll(AddressSpace as) {
        int v;
        do {
            v = as.ldlLe(MAILBOX); // no Thread.onSpinWait(): C2 makes it a barrier, which would hide a hoisted load
        } while (v == 0);
        return v;
    }
}
