package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Once a commit has returned, no access started after it reaches what the commit unmapped, even
 * while other threads keep refilling the address space's fast slots from the tables they looked up
 * (a refill that looked up the old table must never be installed after the new one is published).
 * QEMU's guarantee: a reader that starts after {@code address_space_set_flatview} never sees the old
 * view. The committing thread checks itself after every commit, with reader threads racing on two
 * other addresses to keep the slots changing.
 */
class PublicationVisibilityTest {
    private static final long B = 0x100000;

    private static long seconds() {
        return Boolean.getBoolean("guestmem.stress") ? Long.getLong("guestmem.stress.seconds", 2) : 1;
    }

    private static Thread[] readers(AddressSpace as, AtomicBoolean stop) {
        Thread[] ts = new Thread[3];
        for (int i = 0; i < ts.length; i++) {
            ts[i] = new Thread(() -> {
                long sink = 0;
                while (!stop.get()) {
                    sink += as.ldlLe(B + 0x40); // the swapped address: refills from whatever table they saw
                    sink += as.ldlLe(B + 0x100040); // a stable neighbour: the slot keeps changing
                }
                if (sink == 42) {
                    System.out.println();
                }
            });
            ts[i].start();
        }
        return ts;
    }

    private static void swap(MemorySystem sys, ContainerRegion root, MemoryRegion out, MemoryRegion in) {
        sys.transactionBegin();
        root.delSubregion(out);
        root.addSubregion(B, in);
        sys.transactionCommit();
    }

    @Test
    void ramLoadsAndStoresAfterACommitUseTheNewView() throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        try (RamBlock bx = RamBlock.anonymous("x", 0x1000); RamBlock by = RamBlock.anonymous("y", 0x1000);
                RamBlock bz = RamBlock.anonymous("z", 0x1000)) {
            bx.segment().fill((byte) 0xAA);
            by.segment().fill((byte) 0xBB);
            bz.segment().fill((byte) 0xCC);
            RamRegion x = new RamRegion(sys, null, "x", bx, false, false);
            RamRegion z = new RamRegion(sys, null, "z", bz, false, false);
            root.addSubregion(B, x);
            root.addSubregion(B + 0x100000, new RamRegion(sys, null, "y", by, false, false));
            AddressSpace as = sys.addressSpace(root, "m");
            AtomicBoolean stop = new AtomicBoolean();
            Thread[] ts = readers(as, stop);
            long end = System.nanoTime() + seconds() * 1_000_000_000L;
            long commits = 0;
            long staleLoads = 0;
            long staleStores = 0;
            boolean xMapped = true;
            try {
                while (System.nanoTime() < end) {
                    swap(sys, root, xMapped ? x : z, xMapped ? z : x);
                    xMapped = !xMapped;
                    commits++;
                    int want = xMapped ? 0xAAAAAAAA : 0xCCCCCCCC;
                    for (int k = 0; k < 4; k++) {
                        if (as.ldlLe(B + 0x80) != want) {
                            staleLoads++;
                        }
                    }
                    RamBlock now = xMapped ? bx : bz;
                    as.stlLe(B + 0x100, (int) commits);
                    if (now.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x100) != (int) commits) {
                        staleStores++;
                    }
                }
            } finally {
                stop.set(true);
                for (Thread t : ts) {
                    t.join();
                }
            }
            assertEquals(0, staleLoads, "loads after " + commits + " commits answered from the unmapped block");
            assertEquals(0, staleStores, "stores after " + commits + " commits landed in the unmapped block");
            assertTrue(commits > 100, "commits: " + commits);
        }
    }

    private static IoRegion device(MemorySystem sys, int id, String name) {
        return new IoRegion(sys, new Object(), MemoryRegionOps.builder().read((a, s) -> id)
                .write((a, v, s) -> { }).build(), name, 0x1000);
    }

    @Test
    void mmioLoadsAfterACommitNeverReachTheUnmappedDevice() throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        IoRegion a = device(sys, 0xA, "a");
        IoRegion c = device(sys, 0xC, "c");
        root.addSubregion(B, a);
        root.addSubregion(B + 0x100000, device(sys, 0xB, "b"));
        AddressSpace as = sys.addressSpace(root, "m");
        AtomicBoolean stop = new AtomicBoolean();
        Thread[] ts = readers(as, stop);
        long end = System.nanoTime() + seconds() * 1_000_000_000L;
        long commits = 0;
        long stale = 0;
        boolean aMapped = true;
        try {
            while (System.nanoTime() < end) {
                swap(sys, root, aMapped ? a : c, aMapped ? c : a);
                aMapped = !aMapped;
                commits++;
                int want = aMapped ? 0xA : 0xC;
                for (int k = 0; k < 4; k++) {
                    if (as.ldlLe(B + 0x80) != want) {
                        stale++;
                    }
                }
            }
        } finally {
            stop.set(true);
            for (Thread t : ts) {
                t.join();
            }
        }
        assertEquals(0, stale, "loads after " + commits + " commits answered by the unmapped device");
        assertTrue(commits > 100, "commits: " + commits);
    }
}
