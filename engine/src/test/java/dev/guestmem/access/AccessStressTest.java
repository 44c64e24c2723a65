package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.api.Test;

/**
 * R5: reader threads load, store and DMA-map while a writer moves, enables, disables, resizes,
 * removes and releases RAM regions. Every 8-byte word of a block holds {@code id << 48 | offset},
 * so a value read at guest address X names its block and offset. The writer numbers its topology
 * calls (each commits at most once) and records the view after each, as a seqlock: {@code started}
 * before the call, the view's summary, then {@code done}. A reader reads {@code done} before an
 * access and {@code started} after it; the access's value and result must be what one of the views
 * from the first to the second gives at X: the block's word at X's offset in it, or
 * {@code DECODE_ERROR} and 0 where that view maps nothing. So a read is checked against the maps
 * before and after the changes it overlapped, not against any map of the past. (Rendering itself
 * is checked against QEMU elsewhere.) Runs for {@code guestmem.stress.seconds} with {@code -Dguestmem.stress=true},
 * else for one second.
 */
class AccessStressTest {
    private static final ValueLayout.OfLong LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int SLOTS = 4;
    private static final long SLOT = 0x100000;
    private static final int BLOCK = 0x10000;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    /** Summaries of the last {@link #KEPT} views, by version: (start, last, block id, offset) per RAM range. */
    private static final int KEPT = 1 << 16;
    private final AtomicReferenceArray<long[]> views = new AtomicReferenceArray<>(KEPT);
    /** Version of the topology call in progress (set before it commits). */
    private final AtomicLong started = new AtomicLong();
    /** Version whose view is recorded in {@link #views} (set after it). */
    private final AtomicLong done = new AtomicLong();
    private final AtomicLong unchecked = new AtomicLong();
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
        return new RamRegion(sys, null, "r" + id, b, false, false);
    }

    private void place(RamRegion r, long base) {
        if (r.container() == null) {
            root.addSubregion(base, r);
        } else {
            r.setAddress(base);
        }
    }

    /** Writer: one topology call as version {@code started + 1}, then its view recorded. */
    private void change(AddressSpace as, Runnable call) {
        long k = started.get() + 1;
        started.set(k);
        call.run();
        views.set((int) (k % KEPT), summary(as.currentMap()));
        done.set(k);
    }

    private static long[] summary(FlatView v) {
        long[] s = new long[v.rangeCount() * 4];
        for (int i = 0; i < v.rangeCount(); i++) {
            FlatRange fr = v.range(i);
            s[4 * i] = fr.start();
            s[4 * i + 1] = fr.last();
            s[4 * i + 2] = fr.region() instanceof RamRegion r ? Long.parseLong(r.name().substring(1)) : -1;
            s[4 * i + 3] = fr.offsetInRegion();
        }
        return s;
    }

    /** What a view gives for an 8-byte load at {@code x}: the word, -1 for DECODE_ERROR, -2 for nothing valid. */
    private static long expected(long[] view, long x) {
        for (int i = 0; i < view.length; i += 4) {
            if (Long.compareUnsigned(x - view[i], view[i + 1] - view[i]) <= 0) {
                if (view[i + 2] < 0 || Long.compareUnsigned(x + 7 - view[i], view[i + 1] - view[i]) > 0) {
                    return -2; // nothing in this test maps so
                }
                return view[i + 2] << 48 | (view[i + 3] + (x - view[i]));
            }
        }
        return -1;
    }

    /**
     * Checks an access made between reading {@code lo = done} and {@code hi = started}: waits for
     * the writer to record version {@code hi} (right after its commit), then tries each view.
     */
    private void check(long x, long v, int res, long lo, long hi, String how) {
        while (done.get() < hi) {
            Thread.onSpinWait();
        }
        if (hi - lo >= KEPT - 1) {
            unchecked.incrementAndGet(); // the reader was descheduled for a long time: its views are gone
            return;
        }
        StringBuilder wants = new StringBuilder();
        for (long k = lo; k <= hi; k++) {
            long want = expected(views.get((int) (k % KEPT)), x);
            if (want == -1 ? res == MemTxResult.DECODE_ERROR && v == 0 : res == MemTxResult.OK && v == want) {
                return;
            }
            wants.append(' ').append(Long.toHexString(want));
        }
        failures.add(how + " at 0x" + Long.toHexString(x) + ": value " + Long.toHexString(v) + " result "
                + MemTxResult.toString(res) + ", but the views " + lo + ".." + hi + " give" + wants);
    }

    @Test
    void readersSeeTheMapBeforeOrAfterEveryChange() throws Exception {
        boolean long_ = Boolean.getBoolean("guestmem.stress");
        long seconds = long_ ? Long.getLong("guestmem.stress.seconds", 2) : 1;
        AddressSpace as = sys.addressSpace(root, "memory");
        views.set(0, summary(as.currentMap()));
        RamRegion[] slots = new RamRegion[SLOTS];
        for (int i = 0; i < SLOTS; i++) {
            RamRegion r = slots[i] = newRegion();
            long base = SLOT * (i + 1);
            change(as, () -> place(r, base));
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong loads = new AtomicLong();
        AtomicLong maps = new AtomicLong();
        Thread[] readers = new Thread[2];
        for (int t = 0; t < readers.length; t++) {
            final int tid = t;
            RamRegion own = newRegion(); // a region no one moves: stores are checked there
            long ownBase = 0x1000_0000L * (tid + 1);
            change(as, () -> place(own, ownBase));
            readers[t] = new Thread(() -> {
                Random rnd = new Random(tid);
                MemTxResultHolder r = new MemTxResultHolder();
                byte[] word = new byte[8];
                long n = 0;
                while (!stop.get()) {
                    long x = SLOT * (1 + rnd.nextInt(SLOTS + 1)) + (rnd.nextInt(BLOCK * 2) & ~7L);
                    long lo = done.get();
                    long v = as.ldqLe(x, MemTxAttrs.UNSPECIFIED, r);
                    check(x, v, r.get(), lo, started.get(), "ldq");
                    if ((n & 7) == 0) { // the buffer path (flatview_read) too
                        long bufLo = done.get();
                        int br = as.read(x, MemTxAttrs.UNSPECIFIED, word, 0, 8);
                        check(x, MemorySegment.ofArray(word).get(LE, 0), br, bufLo, started.get(), "read");
                    }
                    long o = rnd.nextInt(BLOCK) & ~7L;
                    long val = n ^ 0x5A5A_0000_0000L;
                    if (as.stqLe(ownBase + o, val) != MemTxResult.OK || as.ldqLe(ownBase + o) != val) {
                        failures.add("store/load on a stable region failed at " + o);
                    }
                    if ((n & 63) == 0) {
                        long mapLo = done.get();
                        DmaMapping m = as.map(x, 64, false, MemTxAttrs.UNSPECIFIED);
                        long mapHi = started.get();
                        if (m != null) {
                            try {
                                if (!m.isBounce()) {
                                    // a direct mapping holds the block: reading it must never fail
                                    check(x, m.segment().get(LE, 0), MemTxResult.OK, mapLo, mapHi, "dma");
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
                case 0 -> {
                    long base = SLOT * (1 + rnd.nextInt(SLOTS + 1)) + (rnd.nextInt(16) << 12);
                    change(as, () -> place(r, base));
                }
                case 1 -> change(as, () -> r.setEnabled(false));
                case 2 -> change(as, () -> r.setEnabled(true));
                case 3 -> {
                    long size = (1 + rnd.nextInt(BLOCK >>> 12)) << 12;
                    change(as, () -> r.setSize(size));
                }
                default -> {
                    change(as, () -> root.delSubregion(r));
                    released.incrementAndGet();
                    r.ramBlock().close(); // the creator's reference
                    r.destroy(); // the region's: no view shows it any more, so the block is unmapped
                    removedBlocks.add(r.ramBlock());
                    RamRegion fresh = slots[i] = newRegion();
                    change(as, () -> place(fresh, SLOT * (i + 1)));
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
        assertTrue(unchecked.get() * 100 <= loads.get(), "at most 1% unchecked: " + unchecked.get());
        System.out.printf("stress: %d s, %d topology changes, %d views, %d loads+stores (%d unchecked), %d DMA maps,"
                + " %d blocks released%n", seconds, changes, done.get(), loads.get(), unchecked.get(), maps.get(), released.get());
    }
}
