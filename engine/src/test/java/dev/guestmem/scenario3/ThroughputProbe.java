package dev.guestmem.scenario3;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/** Exploratory: how long bulk accesses over RAM and over unassigned holes take (no assertions). */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class ThroughputProbe {
    @Test
    void probe() {
        long mib = 1L << 20;
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", 256 * mib));
        AddressSpace as = sys.addressSpace(system, "memory");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(256 * mib, 8);
            buf.fill((byte) 1);
            for (int round = 0; round < 3; round++) {
                long t = System.nanoTime();
                as.write(0, MemTxAttrs.UNSPECIFIED, buf, 0, buf.byteSize());
                long t1 = System.nanoTime();
                as.read(0, MemTxAttrs.UNSPECIFIED, buf, 0, buf.byteSize());
                long t2 = System.nanoTime();
                as.read(1L << 40, MemTxAttrs.UNSPECIFIED, buf, 0, buf.byteSize());
                long t3 = System.nanoTime();
                as.write(1L << 40, MemTxAttrs.UNSPECIFIED, buf, 0, buf.byteSize());
                long t4 = System.nanoTime();
                as.set(0, (byte) 2, 256 * mib, MemTxAttrs.UNSPECIFIED);
                long t5 = System.nanoTime();
                System.out.printf("PROBE ramW %d ramR %d holeR %d holeW %d ramSet %d ms%n", (t1 - t) / 1000000,
                        (t2 - t1) / 1000000, (t3 - t2) / 1000000, (t4 - t3) / 1000000, (t5 - t4) / 1000000);
            }
        }
    }
}
