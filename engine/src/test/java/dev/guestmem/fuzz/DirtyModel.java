package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * What the guide promises of the dirty bitmaps, per RAM block and client (VGA, CODE, MIGRATION),
 * by page of the block: a page written while its region logged the client ({@code dirtyLogMask()}
 * at the write, as QEMU's {@code invalidate_and_set_dirty}) must read dirty until the fuzzer clears
 * it ({@code snapshotAndClearDirty}); a page a clear found or left clean must stay clean until
 * something writes it (any write, logged or not: the model asks no more), or the block is resized
 * (a resize re-dirties it) or discarded. New blocks start dirty, so nothing is known of a page until
 * a clear covers it. Blocks no longer in the machine's RAM list are not checked (their ram_addr
 * range may go to another block).
 */
final class DirtyModel {
    private static final int PAGE_BITS = DirtyMemory.TARGET_PAGE_BITS;
    private static final int CLIENTS = DirtyMemory.DIRTY_MEMORY_NUM;

    /** Pages that must read dirty, per client. */
    private final Map<RamBlock, BitSet[]> dirty = new IdentityHashMap<>();
    /** Pages that must read clean, per client. */
    private final Map<RamBlock, BitSet[]> clean = new IdentityHashMap<>();

    private static BitSet[] sets(Map<RamBlock, BitSet[]> m, RamBlock b) {
        return m.computeIfAbsent(b, k -> {
            BitSet[] s = new BitSet[CLIENTS];
            for (int c = 0; c < CLIENTS; c++) {
                s[c] = new BitSet();
            }
            return s;
        });
    }

    /**
     * Records a write of bytes of a block.
     *
     * @param block the block
     * @param offset first byte
     * @param length bytes, at least 1
     * @param mask the clients that log it now (0: an unlogged write, which still makes its pages unknown)
     */
    void wrote(RamBlock block, long offset, long length, int mask) {
        int first = (int) (offset >>> PAGE_BITS);
        int last = (int) ((offset + length - 1) >>> PAGE_BITS);
        BitSet[] d = sets(dirty, block);
        BitSet[] c = sets(clean, block);
        for (int k = 0; k < CLIENTS; k++) {
            c[k].clear(first, last + 1);
            if ((mask & (1 << k)) != 0) {
                d[k].set(first, last + 1);
            }
        }
    }

    /**
     * Forgets what is known of a block's pages (a resize re-dirties them, a discard may clear them).
     *
     * @param block the block
     */
    void forget(RamBlock block) {
        dirty.remove(block);
        clean.remove(block);
    }

    /** Forgets which pages are clean (something marked pages the fuzzer cannot name). */
    void forgetClean() {
        clean.clear();
    }

    private static boolean listed(MemorySystem sys, RamBlock b) {
        return !b.isReleased() && b.ramList() == sys.ramList();
    }

    /**
     * Checks every known page of the blocks still listed.
     *
     * @param sys the machine
     * @param where what just ran
     */
    void check(MemorySystem sys, String where) {
        DirtyMemory bits = sys.dirtyMemory();
        for (Map.Entry<RamBlock, BitSet[]> e : dirty.entrySet()) {
            RamBlock b = e.getKey();
            if (!listed(sys, b)) {
                continue;
            }
            for (int k = 0; k < CLIENTS; k++) {
                for (int p = e.getValue()[k].nextSetBit(0); p >= 0; p = e.getValue()[k].nextSetBit(p + 1)) {
                    if (!bits.getDirty(b.offset() + ((long) p << PAGE_BITS), 1, k)) {
                        fail("after " + where + ": page " + p + " of block '" + b.idstr() + "' was written while"
                                + " client " + k + " logged it and not cleared since, but is not dirty");
                    }
                }
            }
        }
        for (Map.Entry<RamBlock, BitSet[]> e : clean.entrySet()) {
            RamBlock b = e.getKey();
            if (!listed(sys, b)) {
                continue;
            }
            for (int k = 0; k < CLIENTS; k++) {
                for (int p = e.getValue()[k].nextSetBit(0); p >= 0; p = e.getValue()[k].nextSetBit(p + 1)) {
                    if (bits.getDirty(b.offset() + ((long) p << PAGE_BITS), 1, k)) {
                        fail("after " + where + ": page " + p + " of block '" + b.idstr() + "' is dirty for client "
                                + k + ", but nothing wrote it since a clear");
                    }
                }
            }
        }
    }

    /**
     * Checks a snapshot a region's {@code snapshotAndClearDirty} returned and takes its clear: every
     * bit of its window (widened to 64 pages in ram_addr space) is now clean, in every block there.
     *
     * @param sys the machine
     * @param blocks the blocks the fuzzer knows
     * @param snap the snapshot
     * @param client its client
     * @param where what ran
     */
    void cleared(MemorySystem sys, Iterable<RamBlock> blocks, DirtyBitmapSnapshot snap, int client, String where) {
        for (RamBlock b : blocks) {
            if (!listed(sys, b)) {
                continue;
            }
            long pages = (b.usedLength() + (1L << PAGE_BITS) - 1) >>> PAGE_BITS;
            BitSet d = sets(dirty, b)[client];
            BitSet c = sets(clean, b)[client];
            for (int p = 0; p < pages; p++) {
                long ramAddr = b.offset() + ((long) p << PAGE_BITS);
                if (Long.compareUnsigned(ramAddr, snap.start()) < 0 || Long.compareUnsigned(ramAddr, snap.end()) >= 0) {
                    continue;
                }
                boolean got = snap.getDirty(ramAddr, 1);
                if (d.get(p) && !got) {
                    fail(where + ": page " + p + " of block '" + b.idstr() + "' was written while client " + client
                            + " logged it, but the snapshot " + snap + " does not have it");
                }
                if (c.get(p) && got) {
                    fail(where + ": the snapshot has page " + p + " of block '" + b.idstr() + "' dirty for client "
                            + client + ", but nothing wrote it since a clear");
                }
                d.clear(p);
                c.set(p);
            }
        }
    }
}
