package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * vCPU threads load and store through {@link VcpuTlb} while another thread plugs and unplugs the
 * RAM under them, destroying each region and closing each block as soon as it is out: the TLB's
 * hits address host memory without the JDK's checks, so a block unmapped under a kept entry would
 * crash the JVM (or, as the next block often lands at the same host address, read and write it
 * silently). Every load must read a value some plugged RAM held (or 0 once nothing is there), and
 * each block must be unmapped once the vCPUs have let go. That the entries hold their block until
 * the vCPU's next block entry is checked deterministically by
 * {@code VcpuTlbTest.unpluggedRamStaysMappedUntilTheNextBlockEntry}. Runs for
 * {@code -Dguestmem.vcpuTlbRaceMillis} (1500 by default).
 */
class VcpuTlbUnplugRaceTest {
    private static final long BASE = 0x1_0000_0000L;
    private static final int SIZE = 0x4000;

    @Test
    void unplugUnderRunningVcpusNeverTouchesUnmappedMemory() throws Exception {
        long millis = Long.getLong("guestmem.vcpuTlbRaceMillis", 1500);
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            AddressSpace as = sys.addressSpace(root, "memory");
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            AtomicLong loads = new AtomicLong();
            List<Thread> vcpus = new ArrayList<>();
            for (int n = 0; n < 2; n++) {
                int cpu = n;
                vcpus.add(new Thread(() -> {
                    VcpuTlb tlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, null);
                    try {
                        long k = 0;
                        while (!stop.get()) {
                            tlb.enterBlock();
                            for (int i = 0; i < 64; i++, k++) {
                                long addr = BASE + (k * 4 % SIZE);
                                int v = tlb.ldlLe(addr);
                                // every plugged block holds its round number + 1 in each word
                                // (0 when unplugged), whichever cpu stored it last
                                if (v < 0) {
                                    throw new AssertionError("0x" + Integer.toHexString(v) + " at 0x" + Long.toHexString(addr));
                                }
                                if (cpu == 0 && (k & 7) == 0 && v != 0) {
                                    tlb.stlLe(addr, v); // a store of what is there, through the same entries
                                }
                            }
                            loads.addAndGet(64);
                        }
                    } catch (Throwable t) {
                        failed.compareAndSet(null, t);
                    } finally {
                        tlb.close();
                    }
                }, "vcpu" + n));
            }
            vcpus.forEach(Thread::start);
            List<RamBlock> released = new ArrayList<>();
            long until = System.nanoTime() + millis * 1_000_000L;
            int round = 0;
            while (System.nanoTime() - until < 0 && failed.get() == null) {
                RamBlock block = RamBlock.anonymous("dimm" + round, SIZE);
                for (int off = 0; off < SIZE; off += 4) {
                    block.segment().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, off, round + 1);
                }
                RamRegion dimm = new RamRegion(sys, null, "dimm" + round, block, false, false);
                root.addSubregion(BASE, dimm);
                Thread.sleep(0, 200_000);
                root.delSubregion(dimm);
                dimm.destroy();
                block.close(); // the creator's reference: a vCPU's entry may still hold the block
                released.add(block);
                round++;
            }
            stop.set(true);
            for (Thread t : vcpus) {
                t.join();
            }
            assertNull(failed.get(), () -> "a vCPU failed: " + failed.get());
            assertTrue(loads.get() > 0 && round > 0, "loads " + loads.get() + ", rounds " + round);
            for (RamBlock b : released) {
                assertTrue(b.isReleased(), b.idstr() + " unmapped once every vCPU let go");
            }
            assertEquals(0, root.subregions().size());
        }
    }
}
