package dev.guestmem.scenario10;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * One small machine, built the same way (same region and block names, same guest addresses) for
 * every instance, so that anything keyed by name or address rather than by machine would show.
 */
final class Machine {
    static final long RAM_SIZE = 1 << 20;
    static final long DEV = 0x1000_0000L;
    static final long BAR_A = 0x2000_0000L;
    static final long BAR_B = 0x3000_0000L;
    static final long DOORBELL = 0x10;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ram", RAM_SIZE);
    final RamRegion bar = RamRegion.allocate(sys, null, "bar", 0x1000);
    final IoRegion dev;
    final EventNotifier kick = EventNotifier.create();
    /** Writes the device's callback got (not the doorbell ones the eventfd took). */
    final AtomicLong devWrites = new AtomicLong();
    final RecordingListener listener;
    final AddressSpace as;
    /** What the device's write callback does besides counting; set by a test. */
    volatile LongConsumer onDevWrite = v -> { };

    Machine(Object devOwner) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> 0x5a)
                .write((addr, data, size) -> {
                    devWrites.incrementAndGet();
                    onDevWrite.accept(data);
                })
                .valid(4, 4, false)
                .build();
        dev = new IoRegion(sys, devOwner, ops, "dev", 0x1000);
        dev.addEventfd(DOORBELL, 4, false, 0, kick);
        dev.addCoalescing(0x800, 0x100);
        root.addSubregion(0, ram);
        root.addSubregion(DEV, dev);
        root.addSubregion(BAR_A, bar);
        as = sys.addressSpace(root, "memory");
        listener = new RecordingListener(sys);
        sys.registerListener(listener, as);
    }

    /** Moves the BAR between its two places: one topology change. */
    void flipBar() {
        bar.setAddress(bar.addr() == BAR_A ? BAR_B : BAR_A);
    }
}
