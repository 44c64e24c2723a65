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

/**
 * Exploratory, no assertions: how long bulk accesses over RAM and over unassigned holes take, and
 * what a bulk write whose source overlaps the guest memory written does across a region boundary
 * (found: not a memmove; now in {@code AddressSpace.write}'s javadoc).
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class ThroughputProbe {
    /** A guest memmove through the bulk API: source and destination overlap, across a region boundary. */
    @Test
    void overlappingCopyAcrossRegions() {
        long mib = 1L << 20;
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion a = RamRegion.allocate(sys, null, "a", mib);
        system.addSubregion(0, a);
        system.addSubregion(mib, RamRegion.allocate(sys, null, "b", mib));
        AddressSpace as = sys.addressSpace(system, "memory");
        MemorySegment ram = a.ramBlock().segment();
        for (int i = 0; i < 0x4000; i++) {
            ram.set(java.lang.foreign.ValueLayout.JAVA_BYTE, mib - 0x4000 + i, (byte) (i / 64));
        }
        // move [mib-16K, mib) up by 8K: dest [mib-8K, mib+8K) straddles a|b, source is a's own memory
        as.write(mib - 0x2000, MemTxAttrs.UNSPECIFIED, ram, mib - 0x4000, 0x4000);
        byte[] got = new byte[0x4000];
        as.read(mib - 0x2000, MemTxAttrs.UNSPECIFIED, got, 0, got.length);
        int bad = 0;
        for (int i = 0; i < got.length; i++) {
            if (got[i] != (byte) (i / 64)) {
                bad++;
            }
        }
        System.out.println("PROBE overlapping copy: " + bad + " bytes differ from a memmove");
    }

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
