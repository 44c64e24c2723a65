package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
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
 *
 * <p>CODE is modelled exactly, as a JIT sees it (the machine registers a {@code CodeInvalidator}, as
 * the guide's CODE section does): every page starts dirty (no code), a JIT's
 * {@code resetDirty(page, CODE)} ({@link #protect}) or a CODE snapshot makes it a code page, a
 * resize makes every page of its block dirty again, and a write never sets CODE: a logged write
 * (its region's mask has CODE) that touches a code page calls the hook instead, which here drops
 * the page's protection ({@code setDirtyRange(..., MASK_CODE)}) unless the page keeps translations
 * (sticky). Per call {@link #checkOp} asserts the guide's promise: the hook heard exactly the logged
 * writes that touched code pages, and nothing else.
 */
final class DirtyModel {
    private static final int PAGE_BITS = DirtyMemory.TARGET_PAGE_BITS;
    private static final int CLIENTS = DirtyMemory.DIRTY_MEMORY_NUM;
    private static final int CODE = DirtyMemory.DIRTY_MEMORY_CODE;
    private static final boolean AUDIT = Boolean.getBoolean("guestmem.audit");
    private static final long PAGE = 1L << PAGE_BITS;

    /** Pages that must read dirty, per client. */
    private Map<RamBlock, BitSet[]> dirty = new IdentityHashMap<>();
    /** Pages that must read clean, per client. */
    private Map<RamBlock, BitSet[]> clean = new IdentityHashMap<>();
    /** Pages whose CODE bit is clean (translated code), exactly. */
    private final Map<RamBlock, BitSet> code = new IdentityHashMap<>();
    /** Code pages that keep translations when the hook invalidates part of them (stay protected). */
    private final Map<RamBlock, BitSet> sticky = new IdentityHashMap<>();
    /** {@link #code} when the current call started. */
    private Map<RamBlock, BitSet> codeAtStart = new IdentityHashMap<>();
    /** The logged writes of the current call. */
    private List<Write> writes = new ArrayList<>();
    /** The current call may have logged writes the model cannot name. */
    private boolean unknownWrites;
    /** What the code hook heard during the current call. */
    private final List<Call> calls = new ArrayList<>();

    /** A logged write: bytes of a block, and the clients its region logged. */
    private record Write(RamBlock block, long offset, long length, int mask) {
    }

    /** A call of the code hook, and whether its range held a code page then. */
    private record Call(long ramAddr, long length, boolean touchedCode) {
    }

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
            if (k == CODE) {
                continue; // never set by a write while a hook is registered: see the class comment
            }
            c[k].clear(first, last + 1);
            if ((mask & (1 << k)) != 0) {
                d[k].set(first, last + 1);
            }
        }
        if (mask != 0) {
            writes.add(new Write(block, offset, length, mask));
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
        unknownWrites = true;
    }

    /**
     * A resize re-dirtied every page of the block for every client: no code pages left.
     *
     * @param block the block
     */
    void resized(RamBlock block) {
        code.remove(block);
        sticky.remove(block);
    }

    /**
     * A JIT translated code from a page and cleared its CODE bit ({@code tlb_protect_code}).
     *
     * @param block the page's block
     * @param page the page's number in the block
     * @param keeps whether the page keeps translations when a write invalidates part of it
     */
    void protect(RamBlock block, int page, boolean keeps) {
        code.computeIfAbsent(block, k -> new BitSet()).set(page);
        sticky.computeIfAbsent(block, k -> new BitSet()).set(page, keeps);
    }

    /** @return whether the page is a code page now */
    boolean isCode(RamBlock block, long offset) {
        BitSet c = code.get(block);
        return c != null && c.get((int) (offset >>> PAGE_BITS));
    }

    /**
     * The machine's {@code CodeInvalidator}: records the call, and unprotects the code pages of the
     * range that keep no translations (the guide's hook).
     *
     * @param bits the machine's bitmaps
     * @param listedIn the machine's RAM list
     * @param blocks the blocks the fuzzer knows
     * @param ramAddr first byte written
     * @param length bytes written
     */
    void codeInvalidated(DirtyMemory bits, dev.guestmem.ram.RamList listedIn, Iterable<RamBlock> blocks, long ramAddr,
                         long length) {
        RamBlock block = null;
        for (RamBlock b : blocks) {
            if (!b.isReleased() && Long.compareUnsigned(ramAddr - b.offset(), b.maxLength()) < 0) {
                block = b;
            }
        }
        boolean touched = false;
        if (block != null && length > 0) {
            BitSet c = code.getOrDefault(block, new BitSet());
            BitSet s = sticky.getOrDefault(block, new BitSet());
            int first = (int) ((ramAddr - block.offset()) >>> PAGE_BITS);
            int last = (int) ((ramAddr - block.offset() + length - 1) >>> PAGE_BITS);
            long used = (block.usedLength() + PAGE - 1) >>> PAGE_BITS;
            for (int p = first; p <= last; p++) {
                if (block.ramList() != listedIn) {
                    touched = true; // held past the machine's close: its bits are no longer modelled
                } else if (p >= used) {
                    touched = true; // past a block a resize shrank: its clear left CODE clean there
                } else if (c.get(p)) {
                    touched = true;
                    if (!s.get(p)) {
                        bits.setDirtyRange(block.offset() + ((long) p << PAGE_BITS), PAGE, DirtyMemory.MASK_CODE);
                        c.clear(p);
                    }
                }
            }
        }
        calls.add(new Call(ramAddr, length, touched));
    }

    /** A call starts: the code hook's record and the call's logged writes start empty. */
    void beginOp() {
        writes = new ArrayList<>();
        unknownWrites = false;
        calls.clear();
        codeAtStart = copy(code);
    }

    /** @return what {@link #restore} needs to undo the expectations recorded since (not CODE: the hook's work is real) */
    Object save() {
        return new Object[] {deepCopy(dirty), deepCopy(clean), new ArrayList<>(writes), unknownWrites};
    }

    /**
     * Undoes the expectations recorded since {@link #save}.
     *
     * @param saved what it returned
     */
    @SuppressWarnings("unchecked")
    void restore(Object saved) {
        Object[] s = (Object[]) saved;
        dirty = deepCopy((Map<RamBlock, BitSet[]>) s[0]);
        clean = deepCopy((Map<RamBlock, BitSet[]>) s[1]);
        writes = new ArrayList<>((List<Write>) s[2]);
        unknownWrites = (Boolean) s[3];
    }

    private static Map<RamBlock, BitSet[]> deepCopy(Map<RamBlock, BitSet[]> m) {
        Map<RamBlock, BitSet[]> c = new IdentityHashMap<>();
        m.forEach((b, sets) -> {
            BitSet[] x = new BitSet[sets.length];
            for (int k = 0; k < sets.length; k++) {
                x[k] = (BitSet) sets[k].clone();
            }
            c.put(b, x);
        });
        return c;
    }

    private static Map<RamBlock, BitSet> copy(Map<RamBlock, BitSet> m) {
        Map<RamBlock, BitSet> c = new IdentityHashMap<>();
        m.forEach((b, s) -> c.put(b, (BitSet) s.clone()));
        return c;
    }

    /**
     * The guide's promise for code pages, for the call that just ran: every hook call's range held a
     * code page and was written by the call through a path that logs CODE; every logged write with
     * CODE in its mask that touched a page that was a code page when the call started made the hook
     * hear that page (every byte of it, where the page keeps its translations).
     *
     * @param where what ran
     */
    void checkOp(String where) {
        if (AUDIT && !calls.isEmpty()) {
            net.jqwik.api.statistics.Statistics.label("code hook").collect(where.replaceAll("^step \\d+ (\\w+).*", "$1"));
        }
        List<long[]> logged = new ArrayList<>(); // [start, end) in ram_addr space, CODE in the mask
        for (Write w : writes) {
            if ((w.mask() & DirtyMemory.MASK_CODE) != 0) {
                logged.add(new long[] {w.block().offset() + w.offset(), w.block().offset() + w.offset() + w.length()});
            }
        }
        List<long[]> heard = new ArrayList<>();
        for (Call c : calls) {
            String call = "the code hook heard ram_addr 0x" + Long.toHexString(c.ramAddr()) + "+0x"
                    + Long.toHexString(c.length());
            if (!c.touchedCode()) {
                fail("after " + where + ": " + call + ", which holds no code page");
            }
            if (!unknownWrites && !covered(logged, c.ramAddr(), c.ramAddr() + c.length())) {
                fail("after " + where + ": " + call + ", which the call did not write through a path logging CODE"
                        + " (written: " + describe(logged) + ")");
            }
            heard.add(new long[] {c.ramAddr(), c.ramAddr() + c.length()});
        }
        for (Write w : writes) {
            if ((w.mask() & DirtyMemory.MASK_CODE) == 0 || w.length() <= 0) {
                continue;
            }
            BitSet wasCode = codeAtStart.getOrDefault(w.block(), new BitSet());
            BitSet keeps = sticky.getOrDefault(w.block(), new BitSet());
            for (long page = w.offset() & ~(PAGE - 1); page < w.offset() + w.length(); page += PAGE) {
                int p = (int) (page >>> PAGE_BITS);
                if (!wasCode.get(p)) {
                    continue;
                }
                long base = w.block().offset();
                long from = base + Math.max(page, w.offset());
                long to = base + Math.min(page + PAGE, w.offset() + w.length());
                boolean ok = keeps.get(p) ? covered(heard, from, to) : overlaps(heard, base + page, base + page + PAGE);
                if (!ok) {
                    fail("after " + where + ": a store to code page " + p + " of block '" + w.block().idstr()
                            + "' (ram_addr 0x" + Long.toHexString(from) + "..0x" + Long.toHexString(to)
                            + ") was not heard by the code hook (heard: " + describe(heard) + ")");
                }
            }
        }
    }

    /** Whether the intervals cover [from, to). */
    private static boolean covered(List<long[]> intervals, long from, long to) {
        long at = from;
        boolean moved = true;
        while (at < to && moved) {
            moved = false;
            for (long[] i : intervals) {
                if (i[0] <= at && at < i[1]) {
                    at = i[1];
                    moved = true;
                }
            }
        }
        return at >= to;
    }

    private static boolean overlaps(List<long[]> intervals, long from, long to) {
        return intervals.stream().anyMatch(i -> i[0] < to && from < i[1]);
    }

    private static String describe(List<long[]> intervals) {
        StringBuilder b = new StringBuilder();
        for (long[] i : intervals) {
            b.append(" 0x").append(Long.toHexString(i[0])).append("..0x").append(Long.toHexString(i[1]));
        }
        return b.isEmpty() ? "nothing" : b.toString().trim();
    }

    private static boolean listed(MemorySystem sys, RamBlock b) {
        return !b.isReleased() && b.ramList() == sys.ramList();
    }

    /**
     * Checks every known page of the blocks still listed.
     *
     * @param sys the machine
     * @param blocks the blocks the fuzzer knows (CODE is checked on each of their pages)
     * @param where what just ran
     */
    void check(MemorySystem sys, Iterable<RamBlock> blocks, String where) {
        DirtyMemory bits = sys.dirtyMemory();
        for (RamBlock b : blocks) {
            if (!listed(sys, b)) {
                continue;
            }
            BitSet c = code.getOrDefault(b, new BitSet());
            long pages = (b.usedLength() + PAGE - 1) >>> PAGE_BITS;
            for (int p = 0; p < pages; p++) {
                if (bits.getDirty(b.offset() + ((long) p << PAGE_BITS), 1, CODE) == c.get(p)) {
                    fail("after " + where + ": page " + p + " of block '" + b.idstr() + "' is "
                            + (c.get(p) ? "dirty for CODE, but a JIT protected it (a code page) and nothing"
                            + " unprotected it since" : "clean for CODE (a code page), but no JIT protected it"));
                }
            }
        }
        for (Map.Entry<RamBlock, BitSet[]> e : dirty.entrySet()) {
            RamBlock b = e.getKey();
            if (!listed(sys, b)) {
                continue;
            }
            for (int k = 0; k < CLIENTS; k++) {
                for (int p = e.getValue()[k].nextSetBit(0); p >= 0 && k != CODE; p = e.getValue()[k].nextSetBit(p + 1)) {
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
                for (int p = e.getValue()[k].nextSetBit(0); p >= 0 && k != CODE; p = e.getValue()[k].nextSetBit(p + 1)) {
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
            if (client == CODE) {
                BitSet c = code.computeIfAbsent(b, k -> new BitSet());
                for (int p = 0; p < pages; p++) {
                    long ramAddr = b.offset() + ((long) p << PAGE_BITS);
                    if (Long.compareUnsigned(ramAddr, snap.start()) >= 0 && Long.compareUnsigned(ramAddr, snap.end()) < 0) {
                        if (snap.getDirty(ramAddr, 1) == c.get(p)) {
                            fail(where + ": the snapshot " + snap + " has page " + p + " of block '" + b.idstr() + "' "
                                    + (c.get(p) ? "dirty for CODE, but it is a code page" : "clean for CODE, but it is no code page"));
                        }
                        c.set(p); // cleared: a code page now, without translations that outlive a write
                        sticky.computeIfAbsent(b, k -> new BitSet()).clear(p);
                    }
                }
                continue;
            }
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
