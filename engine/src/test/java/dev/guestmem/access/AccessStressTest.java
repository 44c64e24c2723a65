package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * R5: reader threads load, store and DMA-map while a writer moves, enables, disables, resizes,
 * removes and releases RAM regions. Every 8-byte word of a block holds {@code id << 48 | offset},
 * so a value read at guest address X names its block and offset: it must be a whole word (no tear)
 * and X - offset must be a base that block was mapped at (the map before or after a change). Runs
 * for {@code guestmem.stress.seconds} with {@code -Dguestmem.stress=true}, else for one second.
 */
class AccessStressTest {
    private static final ValueLayout.OfLong LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int SLOTS = 4;
    private static final long SLOT = 0x100000;
    private static final int BLOCK = 0x10000;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final Map<Long, Set<Long>> bases = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(1);
    private final AtomicLong released = new AtomicLong();
    private final List<RamBlock> removedBlocks = new java.util.ArrayList<>();
    private final List<String> failures = new CopyOnWriteArrayList<>();

    private RamRegion newRegion() {
        long id = nextId.getAndIncrement();
        RamBlock b = RamBlock.anonymous("blk" + id, BLOCK);
        MemorySegment s = b.segment();
        for (long o = 0; o < BLOCK; o += 8) {
            s.set(LE, o, id << 48 | o);
        }
        bases.put(id, ConcurrentHashMap.newKeySet());
        return new RamRegion(sys, null, "r" + id, b, false, false);
    }

    private static long idOf(RamRegion r) {
        return Long.parseLong(r.name().substring(1));
    }

    private void place(RamRegion r, long base) {
        bases.get(idOf(r)).add(base); // recorded before the view that shows it is published
        if (r.container() == null) {
            root.addSubregion(base, r);
        } else {
            r.setAddress(base);
        }
    }

    private void check(long x, long v, int res, String how) {
        if (res == MemTxResult.DECODE_ERROR || res == MemTxResult.ERROR) {
            if (v != 0) {
                failures.add(how + ": error " + res + " with value " + Long.toHexString(v));
            }
            if (res == MemTxResult.ERROR && released.get() == 0) {
                failures.add(how + ": ERROR before any block was released");
            }
            return;
        }
        long id = v >>> 48;
        long off = v & 0xFFFF_FFFF_FFFFL;
        Set<Long> b = bases.get(id);
        if (res != MemTxResult.OK || b == null || (off & 7) != 0 || !b.contains(x - off)) {
            failures.add(how + " at 0x" + Long.toHexString(x) + ": value " + Long.toHexString(v) + " result " + res
                    + " is not a word of a block mapped there");
        }
    }

    @Test
    void readersSeeTheMapBeforeOrAfterEveryChange() throws Exception {
        boolean long_ = Boolean.getBoolean("guestmem.stress");
        long seconds = long_ ? Long.getLong("guestmem.stress.seconds", 2) : 1;
        AddressSpace as = sys.addressSpace(root, "memory");
        RamRegion[] slots = new RamRegion[SLOTS];
        for (int i = 0; i < SLOTS; i++) {
            slots[i] = newRegion();
            place(slots[i], SLOT * (i + 1));
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong loads = new AtomicLong();
        AtomicLong maps = new AtomicLong();
        Thread[] readers = new Thread[2];
        for (int t = 0; t < readers.length; t++) {
            final int tid = t;
            RamRegion own = newRegion(); // a region no one moves: stores are checked there
            place(own, 0x1000_0000L * (tid + 1));
            long ownBase = 0x1000_0000L * (tid + 1);
            readers[t] = new Thread(() -> {
                Random rnd = new Random(tid);
                MemTxResultHolder r = new MemTxResultHolder();
                long n = 0;
                while (!stop.get()) {
                    long x = SLOT * (1 + rnd.nextInt(SLOTS + 1)) + (rnd.nextInt(BLOCK * 2) & ~7L);
                    long v = as.ldqLe(x, MemTxAttrs.UNSPECIFIED, r);
                    check(x, v, r.get(), "ldq");
                    long o = rnd.nextInt(BLOCK) & ~7L;
                    long val = n ^ 0x5A5A_0000_0000L;
                    if (as.stqLe(ownBase + o, val) != MemTxResult.OK || as.ldqLe(ownBase + o) != val) {
                        failures.add("store/load on a stable region failed at " + o);
                    }
                    if ((n & 63) == 0) {
                        DmaMapping m = as.map(x, 64, false, MemTxAttrs.UNSPECIFIED);
                        if (m != null) {
                            try {
                                if (!m.isBounce()) {
                                    // a direct mapping holds the block: reading it must never fail
                                    check(x, m.segment().get(LE, 0), MemTxResult.OK, "dma");
                                }
                            } catch (IllegalStateException e) {
                                failures.add("DMA mapping touched a released block: " + e);
                            } finally {
                                m.unmap(0);
                            }
                            maps.incrementAndGet();
                        }
                    }
                    n++;
                }
                loads.addAndGet(n);
            }, "reader-" + t);
            readers[t].start();
        }
        Random rnd = new Random(42);
        long changes = 0;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            int i = rnd.nextInt(SLOTS);
            RamRegion r = slots[i];
            switch (rnd.nextInt(5)) {
                case 0 -> place(r, SLOT * (1 + rnd.nextInt(SLOTS + 1)) + (rnd.nextInt(16) << 12));
                case 1 -> r.setEnabled(false);
                case 2 -> r.setEnabled(true);
                case 3 -> r.setSize((1 + rnd.nextInt(BLOCK >>> 12)) << 12);
                default -> {
                    root.delSubregion(r);
                    released.incrementAndGet(); // counted first: readers may see ERROR from now on
                    r.ramBlock().close(); // the creator's reference
                    r.destroy(); // the region's: no view shows it any more, so the block is unmapped
                    removedBlocks.add(r.ramBlock());
                    slots[i] = newRegion();
                    place(slots[i], SLOT * (i + 1));
                }
            }
            changes++;
        }
        stop.set(true);
        for (Thread t : readers) {
            t.join();
        }
        assertEquals(List.of(), failures.size() > 20 ? failures.subList(0, 20) : failures);
        assertTrue(loads.get() > 1000, "readers made progress: " + loads.get());
        assertTrue(changes > 10, "the writer made progress: " + changes);
        assertEquals(0, as.liveMappings(), "no leaked mapping");
        for (RamBlock b : removedBlocks) {
            assertTrue(b.isReleased(), "removed and destroyed, so unmapped: " + b.idstr());
        }
        assertEquals(0, as.bounceBufferSize());
        System.out.printf("stress: %d s, %d topology changes, %d loads+stores, %d DMA maps, %d blocks released%n",
                seconds, changes, loads.get(), maps.get(), released.get());
    }
}
