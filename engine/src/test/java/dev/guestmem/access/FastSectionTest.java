package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The per-space fast RAM section never outlives the view it came from: after a topology change,
 * the same address answers from the new map (other RAM, MMIO, or nothing), for loads and stores.
 */
class FastSectionTest {
    private static final long BASE = 0x10000;

    @Test
    void fastSectionFollowsEveryPublication() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        try (RamBlock a = RamBlock.anonymous("a", 0x2000); RamBlock b = RamBlock.anonymous("b", 0x2000)) {
            a.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x11111111);
            b.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x22222222);
            RamRegion ra = new RamRegion(sys, null, "a", a, false, false);
            RamRegion rb = new RamRegion(sys, null, "b", b, false, false);
            root.addSubregion(BASE, ra);
            AddressSpace as = sys.addressSpace(root, "memory");
            MemTxResultHolder r = new MemTxResultHolder();

            assertEquals(0x11111111, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r)); // slow, then cached
            assertEquals(0x11111111, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r)); // fast
            assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x14, 7));
            assertEquals(7, a.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));

            // another block at the same address
            root.delSubregion(ra);
            root.addSubregion(BASE, rb);
            assertEquals(0x22222222, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x14, 9));
            assertEquals(9, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));
            assertEquals(7, a.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));

            // MMIO at the same address
            root.delSubregion(rb);
            root.addSubregion(BASE, new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((addr, size) -> 0x5A5A0000L | addr).write((addr, v, size) -> { }).build(), "io", 0x2000));
            assertEquals(0x5A5A0010, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.OK, r.get());

            // nothing at the address
            root.delSubregion(root.subregions().get(0));
            assertEquals(0, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.DECODE_ERROR, r.get());
            assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(BASE + 0x14, 1));
            assertEquals(9, b.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x14));
        }
    }

    /**
     * A dirty-logged store that takes the fast window marks the right ram_addr: the block is the
     * second of the system (ram_addr not 0) and the window belongs to an alias into its middle, so
     * both the block offset and the section's offset in the block count.
     */
    @Test
    void loggedFastStoresMarkTheirOwnRamAddr() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        try (RamBlock first = RamBlock.anonymous("first", 0x10000); RamBlock second = RamBlock.anonymous("second", 0x10000)) {
            RamRegion r1 = new RamRegion(sys, null, "first", first, false, false);
            RamRegion r2 = new RamRegion(sys, null, "second", second, false, false);
            root.addSubregion(0, r1);
            root.addSubregion(0x100000, new AliasRegion(sys, null, "window", r2, 0x3000, 0x4000));
            AddressSpace as = sys.addressSpace(root, "memory");
            sys.globalDirtyLogStart();
            DirtyMemory dirty = sys.dirtyMemory();
            dirty.clearDirtyRange(0, dirty.sizeBytes());
            long page = DirtyMemory.TARGET_PAGE_SIZE;
            for (int i = 0; i < 3; i++) { // the first store fills the fast window, the others take it
                assertEquals(MemTxResult.OK, as.stlLe(0x100000 + 0x1010 + i * 4, 0x40 + i));
            }
            long expected = second.offset() + 0x3000 + 0x1000; // page of window offset 0x1010
            assertTrue(second.offset() > 0, "the second block is not at ram_addr 0");
            for (long p = 0; p < dirty.sizeBytes(); p += page) {
                assertEquals(p == expected, dirty.getDirty(p, page, DirtyMemory.DIRTY_MEMORY_MIGRATION),
                        "ram_addr page 0x" + Long.toHexString(p));
            }
            assertEquals(0x42, second.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x3000 + 0x1018));
            // a store after the clear is logged again, also on the fast path
            dirty.clearDirtyRange(0, dirty.sizeBytes());
            assertEquals(MemTxResult.OK, as.stlLe(0x100000 + 0x2000, 1));
            assertTrue(dirty.getDirty(second.offset() + 0x5000, page, DirtyMemory.DIRTY_MEMORY_MIGRATION));
            assertFalse(dirty.getDirty(expected, page, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        }
    }

    private static IoRegion device(MemorySystem sys, long id, String name) {
        return new IoRegion(sys, new Object(), MemoryRegionOps.builder()
                .read((addr, size) -> id << 24 | addr).write((addr, v, size) -> { }).build(), name, 0x1000);
    }

    /** The fast MMIO slot never answers for a device that a newer view no longer shows there. */
    @Test
    void fastMmioSlotFollowsEveryPublication() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        IoRegion a = device(sys, 0xA, "a");
        IoRegion b = device(sys, 0xB, "b");
        root.addSubregion(BASE, a);
        AddressSpace as = sys.addressSpace(root, "memory");
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0xA00_0010, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r)); // slow, then cached
        assertEquals(0xA00_0018, as.ldlLe(BASE + 0x18, MemTxAttrs.UNSPECIFIED, r)); // fast
        a.setAddress(BASE + 0x10000);
        assertEquals(0, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        root.addSubregion(BASE, b);
        assertEquals(0xB00_0010, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
        assertEquals(0xA00_0010, as.ldlLe(BASE + 0x10010, MemTxAttrs.UNSPECIFIED, r));
        assertEquals(0xB00_0020, as.ldlLe(BASE + 0x20, MemTxAttrs.UNSPECIFIED, r)); // after a's refill
        b.setEnabled(false);
        assertEquals(0, as.ldlLe(BASE + 0x20, MemTxAttrs.UNSPECIFIED, r));
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
    }

    /** A device that records each write it gets as "name@offset=value". */
    private static IoRegion recordingDevice(MemorySystem sys, String name, java.util.List<String> writes) {
        return new IoRegion(sys, new Object(), MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, v, size) -> writes.add(name + "@" + Long.toHexString(addr) + "=" + v))
                .build(), name, 0x1000);
    }

    /**
     * The fast MMIO section for stores never sends a store to a device that a newer view no longer
     * shows there: after each change the same address reaches the new map's device, RAM or nothing.
     */
    @Test
    void fastMmioStoreSlotFollowsEveryPublication() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        java.util.List<String> writes = new java.util.ArrayList<>();
        IoRegion a = recordingDevice(sys, "a", writes);
        IoRegion b = recordingDevice(sys, "b", writes);
        root.addSubregion(BASE, a);
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x10, 1)); // the full dispatch, which fills the slot
        assertTrue(as.fastIoStore().region() == a, "the slot holds a's section");
        assertEquals(MemTxResult.OK, as.stlLe(BASE + 0xffc, 2)); // through the slot
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(BASE + 0xffe, 3)); // unaligned: a refuses it (valid)
        a.setAddress(BASE + 0x10000);
        assertFalse(as.fastIoStore().region() == a, "the publication emptied the slot");
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(BASE + 0x10, 4));
        root.addSubregion(BASE, b);
        assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x10, 5));
        assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x10010, 6)); // a at its new place takes the slot
        assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x20, 7)); // b again, after a's refill
        b.setEnabled(false);
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(BASE + 0x20, 8));
        try (RamBlock block = RamBlock.anonymous("ram", 0x1000)) {
            root.addSubregion(BASE, new RamRegion(sys, null, "ram", block, false, false));
            assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x20, 9));
            assertEquals(9, block.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x20));
        }
        assertEquals(java.util.List.of("a@10=1", "a@ffc=2", "b@10=5", "a@10=6", "b@20=7"), writes);
    }

    /**
     * Reads alternating between two devices: the one the fast MMIO section held before serves them
     * without a lookup (the slot keeps its device), until a publication empties it; used for good,
     * it is promoted within a period.
     */
    @Test
    void thePreviousMmioSectionServesAlternatingDevicesAndFollowsPublications() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        IoRegion a = device(sys, 0xA, "a");
        IoRegion b = device(sys, 0xB, "b");
        root.addSubregion(BASE, a);
        root.addSubregion(BASE + 0x10000, b);
        AddressSpace as = sys.addressSpace(root, "memory");
        as.ldlLe(BASE);
        as.ldlLe(BASE + 0x10000);
        assertTrue(as.fastIo().region() == b && as.previousIo().region() == a);
        for (int i = 0; i < 10; i++) {
            assertEquals(0xA00_0000 + 4 * i, as.ldlLe(BASE + 4 * i));
            assertEquals(0xB00_0000 + 4 * i, as.ldlLe(BASE + 0x10000 + 4 * i));
        }
        assertTrue(as.fastIo().region() == b, "no refill: a came from the previous section");

        a.setAddress(BASE + 0x20000);
        assertFalse(as.previousIo().region() == a, "the publication emptied it");
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(BASE + 0x10, MemTxAttrs.UNSPECIFIED, r));
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        assertEquals(0xA00_0010, as.ldlLe(BASE + 0x20010));

        as.ldlLe(BASE + 0x10000); // fast: b, previous: a
        int loads = 0;
        while (as.fastIo().region() != a) {
            assertEquals(0xA00_0020, as.ldlLe(BASE + 0x20020));
            loads++;
            assertTrue(loads <= PreviousHits.PERIOD, "promoted within a period: " + loads);
        }
        assertTrue(as.previousIo().region() == b, "the two swapped");
    }

    /** Writes alternating between two devices: the previous store device takes them without a refill. */
    @Test
    void thePreviousMmioSectionForStoresServesAlternatingDevices() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        java.util.List<String> writes = new java.util.ArrayList<>();
        IoRegion a = recordingDevice(sys, "a", writes);
        IoRegion b = recordingDevice(sys, "b", writes);
        root.addSubregion(BASE, a);
        root.addSubregion(BASE + 0x10000, b);
        AddressSpace as = sys.addressSpace(root, "memory");
        as.stlLe(BASE, 0);
        as.stlLe(BASE + 0x10000, 0);
        assertTrue(as.fastIoStore().region() == b && as.previousIoStore().region() == a);
        writes.clear();
        for (int i = 1; i <= 3; i++) {
            assertEquals(MemTxResult.OK, as.stlLe(BASE + 4 * i, i));
            assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x10000 + 4 * i, 10 * i));
        }
        assertEquals(java.util.List.of("a@4=1", "b@4=10", "a@8=2", "b@8=20", "a@c=3", "b@c=30"), writes);
        assertTrue(as.fastIoStore().region() == b, "no refill: a's stores came from the previous section");
        a.setEnabled(false);
        assertFalse(as.previousIoStore().region() == a, "the publication emptied it");
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(BASE + 4, 5));
        assertEquals(6, writes.size());
    }

    /**
     * Readers load one device register while a writer keeps swapping which device (or nothing) is
     * mapped there: every answer is one a published view gave, and once the writer stops, the next
     * load answers for the last view (no stale slot survives the refill race).
     */
    @Test
    void fastMmioSlotUnderChurn() throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        IoRegion a = device(sys, 0xA, "a");
        IoRegion b = device(sys, 0xB, "b");
        root.addSubregion(BASE, a);
        root.addSubregion(BASE + 0x100000, b);
        AddressSpace as = sys.addressSpace(root, "memory");
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.List<String> bad = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread[] readers = startTwo(() -> {
            MemTxResultHolder r = new MemTxResultHolder();
            while (!stop.get()) {
                int v = as.ldlLe(BASE + 0x40, MemTxAttrs.UNSPECIFIED, r);
                boolean ok = r.get() == MemTxResult.OK ? v == 0xA00_0040 || v == 0xB00_0040
                        : r.get() == MemTxResult.DECODE_ERROR && v == 0;
                if (!ok) {
                    bad.add(Integer.toHexString(v) + " result " + r.get());
                }
            }
        });
        long n = swapUntilDone(a, b, stop, readers);
        assertEquals(java.util.List.of(), bad.subList(0, Math.min(5, bad.size())), bad.size() + " bad answers");
        MemTxResultHolder r = new MemTxResultHolder();
        int last = as.ldlLe(BASE + 0x40, MemTxAttrs.UNSPECIFIED, r);
        int expected = switch (lastSwap(n)) {
            case 0 -> 0xB00_0040;
            case 1 -> 0;
            default -> 0xA00_0040;
        };
        assertEquals(expected, last, "after " + n + " changes the slot answers for the last view");
        assertTrue(n > 100, "the writer made changes: " + n);
    }

    /**
     * Stores to one device register while a writer keeps swapping which device (or nothing) is mapped
     * there: every store is OK or DECODE_ERROR, and once the writer stops, the next store reaches the
     * last view's device (no stale slot for stores survives the refill race).
     */
    @Test
    void fastMmioStoreSlotUnderChurn() throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        java.util.List<String> writes = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        IoRegion a = recordingDevice(sys, "a", writes);
        IoRegion b = recordingDevice(sys, "b", writes);
        root.addSubregion(BASE, a);
        root.addSubregion(BASE + 0x100000, b);
        AddressSpace as = sys.addressSpace(root, "memory");
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.List<String> bad = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread[] storers = startTwo(() -> {
            while (!stop.get()) {
                int r = as.stlLe(BASE + 0x40, 1);
                if (r != MemTxResult.OK && r != MemTxResult.DECODE_ERROR) {
                    bad.add("result " + r);
                }
                if (writes.size() > 100_000) {
                    writes.clear();
                }
            }
        });
        long n = swapUntilDone(a, b, stop, storers);
        assertEquals(java.util.List.of(), bad.subList(0, Math.min(5, bad.size())), bad.size() + " bad results");
        writes.clear();
        int last = as.stlLe(BASE + 0x40, 2);
        java.util.List<String> expected = switch (lastSwap(n)) {
            case 0 -> java.util.List.of("b@40=2");
            case 1 -> java.util.List.of();
            default -> java.util.List.of("a@40=2");
        };
        assertEquals(expected, writes, "after " + n + " changes the slot stores for the last view");
        assertEquals(expected.isEmpty() ? MemTxResult.DECODE_ERROR : MemTxResult.OK, last);
        assertTrue(n > 100, "the writer made changes: " + n);
    }

    /**
     * Keeps changing what is at BASE (0: b over a's place, 1: nothing, 2: a back; a starts there, b
     * 0x100000 above) for the stress length, then stops {@code threads} and joins them.
     *
     * @return how many changes were made ({@link #lastSwap} says what the last one left)
     */
    private static long swapUntilDone(IoRegion a, IoRegion b, java.util.concurrent.atomic.AtomicBoolean stop,
                                      Thread[] threads) throws InterruptedException {
        long seconds = Boolean.getBoolean("guestmem.stress") ? Long.getLong("guestmem.stress.seconds", 2) : 1;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        long n = 0;
        while (System.nanoTime() < end) {
            switch (lastSwap(++n)) {
                case 0 -> {
                    a.setAddress(BASE + 0x200000);
                    b.setAddress(BASE);
                }
                case 1 -> b.setAddress(BASE + 0x100000);
                default -> a.setAddress(BASE);
            }
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
        return n;
    }

    /** @return what the {@code n}th change of {@link #swapUntilDone} put at BASE: 0 b, 1 nothing, 2 a */
    private static int lastSwap(long n) {
        return (int) ((n - 1) % 3);
    }

    /** @return two started threads running {@code body} */
    private static Thread[] startTwo(Runnable body) {
        Thread[] threads = {new Thread(body), new Thread(body)};
        for (Thread t : threads) {
            t.start();
        }
        return threads;
    }
}
