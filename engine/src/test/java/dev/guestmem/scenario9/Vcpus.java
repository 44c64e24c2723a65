package dev.guestmem.scenario9;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Fake vCPU threads: 8-byte stores at random guest addresses, through a slot when the kernel has one
 * (straight into host memory) and otherwise as an MMIO exit handed to the address space. The
 * migration pauses them ({@link #pause}) for its last round, as QEMU stops the VM.
 */
final class Vcpus implements AutoCloseable {
    /** Guest windows the stores aim at: start, length. */
    private static final long[][] WINDOWS = {
        {0, 16 * PcLikeMachine.MIB},
        {PcLikeMachine.HOLE, 16 * PcLikeMachine.MIB},
        {PcLikeMachine.ACPI, 256 * PcLikeMachine.KIB},
        {PcLikeMachine.FLASH, 256 * PcLikeMachine.KIB},
        {PcLikeMachine.HIGH, 4 * PcLikeMachine.MIB},
        {PcLikeMachine.DEVICE_MEMORY, PcLikeMachine.DIMM_SLOTS * PcLikeMachine.DIMM_SIZE},
    };

    private final FakeKvm kvm;
    private final AddressSpace as;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final ReentrantReadWriteLock running = new ReentrantReadWriteLock();
    final AtomicLong slotStores = new AtomicLong();
    final AtomicLong exits = new AtomicLong();
    /** Exits for stores to RAM the view makes read-only (a PAM segment): dropped, as the guide says. */
    final AtomicLong dropped = new AtomicLong();
    final Queue<Throwable> failures = new ConcurrentLinkedQueue<>();

    Vcpus(FakeKvm kvm, AddressSpace as, int count, long seed) {
        this.kvm = kvm;
        this.as = as;
        for (int i = 0; i < count; i++) {
            Random rnd = new Random(seed + i);
            threads.add(Thread.ofPlatform().name("vcpu" + i).start(() -> run(rnd)));
        }
    }

    private void run(Random rnd) {
        TlbEntry page = new TlbEntry();
        while (!stop.get()) {
            running.readLock().lock();
            try {
                long[] w = WINDOWS[rnd.nextInt(WINDOWS.length)];
                long addr = w[0] + (rnd.nextLong(w[1]) & ~7L);
                long value = rnd.nextLong();
                if (kvm.vcpuStore(addr, value) != null) {
                    slotStores.incrementAndGet();
                } else {
                    exits.incrementAndGet();
                    GuestTlb.fill(as, addr, page);
                    if ((page.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
                        dropped.incrementAndGet(); // read-only RAM: as.st* would write behind the alias
                    } else {
                        as.stqLe(addr, value); // KVM_EXIT_MMIO: the VMM dispatches it
                    }
                }
            } catch (Throwable t) { // a store through a slot whose memory was released lands here
                failures.add(t);
                return;
            } finally {
                running.readLock().unlock();
            }
        }
    }

    /** Stops the vCPUs between two stores; {@link #resume} lets them go on. */
    void pause() {
        running.writeLock().lock();
    }

    void resume() {
        running.writeLock().unlock();
    }

    @Override
    public void close() {
        stop.set(true);
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while stopping the vCPUs", e);
            }
        }
    }
}
