package dev.guestmem.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The accelerator's coalesced-MMIO flush ({@link MemorySystem#setCoalescedMmioFlusher}): QEMU's
 * {@code prepare_mmio_access} flushes before every device access to a region with
 * {@code flush_coalesced_mmio}, and {@code memory_region_transaction_begin} flushes first.
 */
class CoalescedMmioFlushTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final long VGA = 0x10000;
    private static final long PLAIN = 0x20000;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    /** How many times the flusher ran. */
    private int flushes;
    /** The flush count each device call saw: a flush before the call shows as a new number. */
    private final List<String> calls = new ArrayList<>();

    private IoRegion device(String name) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add(name + " r" + size + " after " + flushes);
                    return 0x5a5a5a5a5a5a5a5aL;
                })
                .write((addr, data, size) -> calls.add(name + " w" + size + " after " + flushes))
                .valid(1, 8, false).impl(1, 8, false)
                .build();
        return new IoRegion(sys, null, ops, name, 0x1000);
    }

    /** Runs {@code access} and returns the device calls it made, each with the flush count it saw. */
    private List<String> run(Consumer<AddressSpace> access) {
        calls.clear();
        access.accept(as);
        return List.copyOf(calls);
    }

    @Test
    void everyAccessPathToAFlushedRegionFlushesBeforeTheDevice() {
        IoRegion vga = device("vga");
        vga.setFlushCoalesced();
        root.addSubregion(VGA, vga);
        root.addSubregion(PLAIN, device("plain"));
        sys.setCoalescedMmioFlusher(() -> flushes++);
        flushes = 0;

        assertEquals(List.of("vga r4 after 1"), run(a -> a.ldlLe(VGA)));
        assertEquals(List.of("vga r4 after 2"), run(a -> a.ldlLe(VGA)), "again: no fast path past the flush");
        assertEquals(List.of("vga r1 after 3"), run(a -> a.ldub(VGA + 1)));
        assertEquals(List.of("vga r8 after 4"), run(a -> a.ldqLe(VGA + 8)));
        assertEquals(List.of("vga w2 after 5"), run(a -> a.stwLe(VGA + 2, 7)));
        assertEquals(List.of("vga w8 after 6", "vga w4 after 7"),
                run(a -> a.write(VGA, U, new byte[12], 0, 12)), "the buffer path flushes before each chunk");
        assertEquals(List.of("vga r4 after 8"), run(a -> a.read(VGA + 4, U, new byte[4], 0, 4)));

        flushes = 0;
        List<String> dma = run(a -> {
            DmaMapping m = a.map(VGA, 4, true, U); // bounce buffer: the device gets the write at unmap
            assertNotNull(m);
            assertTrue(m.isBounce());
            m.unmap(4);
        });
        assertEquals(List.of("vga w4 after 1"), dma);

        flushes = 0;
        MemoryRegionCache cache = new MemoryRegionCache();
        try {
            cache.init(as, VGA, 0x100, true);
            assertEquals(List.of("vga r4 after 1"), run(a -> cache.ldlLe(0, null)));
            assertEquals(List.of("vga w4 after 2"), run(a -> cache.stlLe(4, 1)));
            assertEquals(List.of("vga w4 after 3"), run(a -> cache.write(8, new byte[4], 0, 4)));
        } finally {
            cache.destroy();
        }

        flushes = 0;
        assertEquals(List.of("plain r4 after 0", "plain r4 after 0"), run(a -> {
            a.ldlLe(PLAIN);
            a.ldlLe(PLAIN);
        }), "a region without the flag is not flushed for");
        assertEquals(List.of("plain w4 after 0"), run(a -> a.stlLe(PLAIN, 1)));
    }

    @Test
    void theFlagSetOnAMappedRegionTakesItOffTheFastPath() {
        IoRegion vga = device("vga");
        root.addSubregion(VGA, vga);
        sys.setCoalescedMmioFlusher(() -> flushes++);
        as.ldlLe(VGA);
        as.ldlLe(VGA); // the space's fast MMIO section now
        flushes = 0;
        assertEquals(List.of("vga r4 after 0"), run(a -> a.ldlLe(VGA)));
        vga.setFlushCoalesced();
        flushes = 0;
        assertEquals(List.of("vga r4 after 1"), run(a -> a.ldlLe(VGA)));
        assertEquals(List.of("vga r4 after 2"), run(a -> a.ldlLe(VGA)));
        vga.clearFlushCoalesced();
        flushes = 0;
        assertEquals(List.of("vga r4 after 0"), run(a -> a.ldlLe(VGA)));
        vga.addCoalescing(0, 0x100); // a coalesced window sets the flag too
        flushes = 0;
        assertEquals(List.of("vga r4 after 1"), run(a -> a.ldlLe(VGA)));
        vga.clearCoalescing();
        flushes = 0;
        assertEquals(List.of("vga r4 after 0"), run(a -> a.ldlLe(VGA)));
    }

    /** The same for stores, which the space's fast MMIO section for stores takes past the lookup. */
    @Test
    void theFlagSetOnAMappedRegionFlushesBeforeItsStores() {
        IoRegion vga = device("vga");
        root.addSubregion(VGA, vga);
        sys.setCoalescedMmioFlusher(() -> flushes++);
        as.stlLe(VGA, 1);
        as.stlLe(VGA, 2); // the space's fast MMIO section for stores now
        flushes = 0;
        assertEquals(List.of("vga w4 after 0"), run(a -> a.stlLe(VGA, 3)));
        vga.setFlushCoalesced();
        flushes = 0;
        assertEquals(List.of("vga w4 after 1", "vga w2 after 2"), run(a -> {
            a.stlLe(VGA, 4);
            a.stwLe(VGA + 2, 5);
        }));
        vga.clearFlushCoalesced();
        flushes = 0;
        assertEquals(List.of("vga w4 after 0"), run(a -> a.stlLe(VGA, 6)));
    }

    /** A device in the space's previous MMIO section that becomes flush-coalesced is flushed for too. */
    @Test
    void theFlagSetOnThePreviousMmioSectionsRegionFlushesItsLoads() {
        IoRegion vga = device("vga");
        root.addSubregion(VGA, vga);
        root.addSubregion(PLAIN, device("plain"));
        sys.setCoalescedMmioFlusher(() -> flushes++);
        as.ldlLe(VGA);
        as.ldlLe(PLAIN); // vga is the previous MMIO section now, plain the fast one
        vga.setFlushCoalesced();
        flushes = 0;
        assertEquals(List.of("vga r4 after 1", "plain r4 after 1", "vga r4 after 2"), run(a -> {
            a.ldlLe(VGA);
            a.ldlLe(PLAIN);
            a.ldlLe(VGA);
        }));
    }

    @Test
    void anAliasOfAFlushedRegionFlushesToo() {
        IoRegion vga = device("vga");
        root.addSubregion(VGA, new AliasRegion(sys, null, "vga-window", vga, 0x100, 0x100));
        sys.setCoalescedMmioFlusher(() -> flushes++);
        as.ldlLe(VGA);
        as.ldlLe(VGA); // cached for the fast path before the flag
        vga.setFlushCoalesced(); // the target's flag, as QEMU reads it from the section's region
        flushes = 0;
        assertEquals(List.of("vga r4 after 1", "vga r4 after 2"), run(a -> {
            a.ldlLe(VGA);
            a.ldlLe(VGA + 4);
        }));
    }

    @Test
    void aTransactionBeginFlushesFirst() {
        List<Integer> depthAtFlush = new ArrayList<>();
        sys.setCoalescedMmioFlusher(() -> depthAtFlush.add(sys.lock().isHeldByCurrentThread() ? 1 : 0));
        sys.transactionBegin();
        try {
            assertEquals(List.of(0), depthAtFlush, "flushed before the transaction took the lock");
            sys.transactionBegin();
            sys.transactionCommit();
            assertEquals(2, depthAtFlush.size(), "a nested begin flushes too, as QEMU's");
        } finally {
            sys.transactionCommit();
        }
        root.addSubregion(PLAIN, device("plain")); // a topology change is a transaction
        assertEquals(3, depthAtFlush.size());
    }

    @Test
    void aFlusherWritingTheFlushedRegionDoesNotFlushAgain() {
        IoRegion vga = device("vga");
        vga.setFlushCoalesced();
        root.addSubregion(VGA, vga);
        List<String> seen = new ArrayList<>();
        sys.setCoalescedMmioFlusher(() -> {
            flushes++;
            // QEMU's flush replays the buffered writes with address_space_write
            seen.add("flush " + flushes + " stl " + MemTxResult.toString(as.stlLe(VGA + 0x10, 1, U)));
            sys.transactionBegin(); // and a flusher may open a transaction: no second flush either
            sys.transactionCommit();
        });
        flushes = 0;
        assertEquals(List.of("vga w4 after 1", "vga r4 after 1"), run(a -> a.ldlLe(VGA)));
        assertEquals(List.of("flush 1 stl OK"), seen);
        assertEquals(List.of("vga w4 after 2", "vga r4 after 2"), run(a -> a.ldlLe(VGA)), "the guard was released");
    }

    @Test
    void aThrowingFlusherDoesNotFailTheAccessAndNullMeansNone() {
        IoRegion vga = device("vga");
        vga.setFlushCoalesced();
        root.addSubregion(VGA, vga);
        sys.setCoalescedMmioFlusher(() -> {
            flushes++;
            throw new IllegalStateException("accelerator bug");
        });
        flushes = 0;
        assertEquals(List.of("vga r4 after 1"), run(a -> a.ldlLe(VGA)));
        sys.setCoalescedMmioFlusher(null);
        assertEquals(List.of("vga r4 after 1"), run(a -> a.ldlLe(VGA)));
        assertEquals(List.of("vga w4 after 1"), run(a -> a.stlLe(VGA, 1)));
    }
    /**
     * QEMU's {@code memory_region_clear_coalescing} and {@code memory_region_clear_flush_coalesced}
     * flush first: writes buffered while the flag was set reach the device before any access that
     * no longer flushes.
     */
    @Test
    void clearingTheFlagOrTheWindowsFlushesFirst() {
        IoRegion vga = device("vga");
        root.addSubregion(VGA, vga);
        List<Boolean> locked = new ArrayList<>();
        sys.setCoalescedMmioFlusher(() -> {
            flushes++;
            locked.add(sys.lock().isHeldByCurrentThread());
        });
        vga.setFlushCoalesced();
        flushes = 0;
        vga.clearFlushCoalesced();
        assertEquals(1, flushes, "clear_flush_coalesced flushes");
        vga.addCoalescing(0, 0x100);
        flushes = 0;
        vga.clearFlushCoalesced(); // windows remain: the flag stays, QEMU flushes all the same
        assertEquals(1, flushes);
        assertTrue(vga.isFlushCoalesced());
        flushes = 0;
        vga.clearCoalescing();
        assertEquals(1, flushes, "clear_coalescing flushes");
        vga.setCoalescing();
        vga.setCoalescing(); // clear_coalescing inside
        assertEquals(2, flushes);
        flushes = 0;
        device("none").clearCoalescing(); // no windows: QEMU returns before flushing
        assertEquals(0, flushes);
        assertEquals(List.of(false, false, false, false), locked, "never under the topology lock");
    }

    /** An access an IOMMU translates into a flush-coalesced device flushes (the target section's flag). */
    @Test
    void anIommuTranslatedAccessFlushes() {
        IoRegion vga = device("vga");
        vga.setFlushCoalesced();
        root.addSubregion(VGA, vga);
        ContainerRegion dmaRoot = new ContainerRegion(sys, null, "dma", MemoryRegion.SIZE_2_64);
        dmaRoot.addSubregion(0, new IommuRegion(sys, null, "iommu", 0x100000, (addr, flag, idx, out) -> {
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            out.targetAs = as;
            out.translatedAddr = VGA + (addr & ~0xfffL);
            out.perm = IommuTlbEntry.RW;
        }));
        AddressSpace dma = sys.addressSpace(dmaRoot, "dma");
        sys.setCoalescedMmioFlusher(() -> flushes++);
        flushes = 0;
        assertEquals(List.of("vga r4 after 1", "vga r4 after 2", "vga w4 after 3", "vga w4 after 4"), run(a -> {
            dma.ldlLe(0x10);
            dma.ldlLe(0x10);
            dma.stlLe(0x14, 1);
            dma.write(0x20, U, new byte[4], 0, 4);
        }));
    }

    /** A device sharing its page with another (a subpage) flushes, once cached for the fast path too. */
    @Test
    void aSubpageDeviceFlushes() {
        IoRegion small = new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add("small r" + size + " after " + flushes);
                    return 0;
                })
                .valid(1, 8, false).impl(1, 8, false).build(), "small", 0x10);
        root.addSubregion(VGA + 0x100, small);
        root.addSubregion(VGA + 0x200, device("other"));
        sys.setCoalescedMmioFlusher(() -> flushes++);
        as.ldlLe(VGA + 0x100);
        as.ldlLe(VGA + 0x100); // the fast MMIO section now
        small.setFlushCoalesced();
        flushes = 0;
        assertEquals(List.of("small r4 after 1", "small r4 after 2"), run(a -> {
            a.ldlLe(VGA + 0x104);
            a.ldlLe(VGA + 0x108);
        }));
    }
    /**
     * A region's topology change flushes at its transaction's begin, as QEMU's, but before it takes
     * the topology lock: a flusher that waits for a thread taking that lock (a device that remaps
     * itself on the delivered write) would otherwise deadlock. Inside a transaction the thread already
     * holds, a change flushes as a nested begin does.
     */
    @Test
    void aRegionChangeFlushesBeforeTakingTheLock() {
        List<String> seen = new ArrayList<>();
        String[] op = {""};
        sys.setCoalescedMmioFlusher(() -> seen.add(op[0] + (sys.lock().isHeldByCurrentThread() ? " locked" : "")));
        IoRegion vga = device("vga");
        IoRegion other = device("other");
        AliasRegion alias = new AliasRegion(sys, null, "alias", vga, 0, 0x100);
        List<Runnable> ops = List.of(
                () -> root.addSubregion(VGA, vga),
                () -> root.addSubregion(PLAIN, alias),
                () -> vga.setEnabled(false),
                () -> vga.setAddress(VGA + 0x1000),
                () -> vga.setReadonly(true),
                () -> vga.setSize(0x800),
                () -> alias.setAliasOffset(0x10),
                () -> root.delSubregion(vga));
        List<String> want = new ArrayList<>();
        for (int i = 0; i < ops.size(); i++) {
            op[0] = "op" + i;
            want.add(op[0]);
            ops.get(i).run();
        }
        assertEquals(want, seen, "one flush per change, none under the lock");
        seen.clear();
        op[0] = "nested";
        sys.transactionBegin();
        try {
            root.addSubregion(VGA, other);
        } finally {
            sys.transactionCommit();
        }
        assertEquals(List.of("nested", "nested locked"), seen, "the outer begin, then the change as a nested begin");
    }
}
