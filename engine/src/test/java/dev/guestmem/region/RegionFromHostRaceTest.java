package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code regionFromHost} from one thread while another plugs, unplugs and finalizes regions and
 * closes their blocks (their host ranges are unmapped and may be reused by the next block): every
 * answer is null or a region whose own block holds the address, never an exception. Rounds:
 * {@code -Dguestmem.regionFromHostRounds} (default 300).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RegionFromHostRaceTest {
    private static final int ROUNDS = Integer.getInteger("guestmem.regionFromHostRounds", 300);

    @Test
    void lookupsRacingUnplugAndFinalizeAnswerConsistently() throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        sys.addressSpace(root, "memory");
        AtomicLong host = new AtomicLong();
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLong found = new AtomicLong();
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
            try {
                while (!done.get()) {
                    long h = host.get();
                    for (long off = 0; off < 0x4000; off += 0x1000) {
                        HostRegionLocation loc = sys.regionFromHost(h + off);
                        if (loc != null) {
                            found.incrementAndGet();
                            RamBlock b = loc.region().ramBlock();
                            if (loc.offset() != h + off - b.hostAddress() || !b.containsHost(h + off)) {
                                throw new AssertionError("0x" + Long.toHexString(h + off) + " resolved to " + loc
                                        + " whose block is at 0x" + Long.toHexString(b.hostAddress()));
                            }
                        }
                        MemoryRegion r = sys.regionAtHost(h + off);
                        if (r != null && !r.ramBlock().containsHost(h + off)) {
                            throw new AssertionError("regionAtHost 0x" + Long.toHexString(h + off) + " -> " + r.name());
                        }
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            for (int i = 0; i < ROUNDS && failure.get() == null; i++) {
                RamBlock block = RamBlock.anonymous("dimm" + i, 0x4000);
                RamRegion dimm = new RamRegion(sys, null, "dimm" + i, block, false, false);
                host.set(block.hostAddress());
                root.addSubregion(0x100000, dimm);
                root.delSubregion(dimm);
                dimm.destroy();
                block.close(); // the last reference: unmapped
            }
        } finally {
            done.set(true);
            reader.get(60, TimeUnit.SECONDS);
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertEquals(0, sys.ramList().blocks().size(), "every block left the RAM list");
    }
}
