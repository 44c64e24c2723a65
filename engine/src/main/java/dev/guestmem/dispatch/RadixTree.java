package dev.guestmem.dispatch;

import static dev.guestmem.dispatch.PhysPageMap.L2_BITS;
import static dev.guestmem.dispatch.PhysPageMap.L2_SIZE;
import static dev.guestmem.dispatch.PhysPageMap.LEVELS;
import static dev.guestmem.dispatch.PhysPageMap.NIL;
import static dev.guestmem.dispatch.PhysPageMap.entry;
import static dev.guestmem.dispatch.PhysPageMap.ptr;
import static dev.guestmem.dispatch.PhysPageMap.skip;

import java.util.Arrays;

/**
 * The writer's side of a lineage of radix page maps: the uncompacted tree QEMU's
 * {@code phys_page_set} builds, edited in place from one table to the next, and the pool of
 * compacted nodes the published {@link PhysPageMap}s read.
 *
 * <h2>Why two trees</h2>
 * Readers need the compacted tree ({@code phys_page_compact}: single-child levels skipped), but a
 * compacted tree cannot be edited (it forgets which index a skipped level had). The uncompacted
 * ({@code raw}) tree is never read by lookups, so it is private to the writer and edited in place; a
 * lineage is linear (each table is derived from the one before), and a table whose tree has moved on
 * can no longer be derived from ({@link #derivable}).
 *
 * <h2>Compacted pool, append only</h2>
 * Compacted nodes live in one {@code int[]} pool shared by every table of the lineage. A node of the
 * pool is written once, before the table that first reaches it is published, and never again: a
 * commit appends new nodes for the raw nodes it changed and reuses the others, so readers of an older
 * table (which only reach older nodes) never see a write, and the release store that publishes the
 * new view orders the new nodes before any reader that sees it. When the pool is full, a fresh pool
 * is filled from the raw tree (old tables keep the old array).
 *
 * <p>Per raw node the tree keeps its compacted form, so a commit recomputes only the nodes it touched
 * (every node on a {@code phys_page_set} descent, children before parents): {@code summary[n]} is
 * {@code phys_page_compact} applied to a skip-1 entry pointing at {@code n} (a leaf when {@code n}
 * has one leaf child, a longer skip when it has one node child, else a pointer to {@code row[n]}, its
 * compacted node in the pool). The number of valid entries of each raw node and the XOR of their
 * indices are kept up to date, so a single-child node is found without a scan, and the entries
 * written since the last publication are kept as a bitmap, so a changed node is a copy of its old
 * compacted node patched in those entries. The result is entry for entry the tree
 * {@code phys_page_compact} makes of the raw tree.
 *
 * <p><b>Thread safety.</b> Not thread-safe: used by one builder at a time under the topology lock.
 * The pool nodes of published tables are immutable.
 */
final class RadixTree {
    private static final int WORDS = L2_SIZE / 64;

    private int[] raw = new int[L2_SIZE * 16];
    private int rawCount;
    private int rawRoot = entry(1, NIL);
    /** Raw node count after the last full build (garbage accounting). */
    private int baseRaw;
    /** Valid (non-NIL) entries per raw node, and the XOR of their indices. */
    private int[] validCount = new int[16];
    private int[] validXor = new int[16];
    /** Compacted skip-1 entry per raw node; see the class comment. */
    private int[] summary = new int[16];
    /** Pool node holding the compacted copy of each raw node, or -1 (single-child node, or none yet). */
    private int[] row = new int[16];
    /** Per raw node, the entries written since the last publication (8 words of 64 bits). */
    private long[] slotDirty = new long[16 * WORDS];
    /** Raw nodes visited since the last publication (each once), and the stamp that dedupes them. */
    private int[] visited = new int[16];
    private int visitedCount;
    private int[] visitStamp = new int[16];
    private int stamp = 1;

    private int[] pool;
    private int poolCount;
    /** Free nodes a repacked pool gets beyond twice the raw nodes; doubles while pools fill fast. */
    private int slack = 32;
    /** Publications since the last repack. */
    private int publications;

    /** The publication a table must carry to be derivable; bumped on every edit. */
    private long version;
    /** Full build: mapping a mapped page is an error ({@code phys_page_set} never overwrites). */
    private boolean overwrite;

    /** A new, empty lineage (full build). */
    RadixTree() {
    }

    /**
     * A new, empty lineage replacing {@code predecessor} (a busy view's periodic full rebuild): it
     * starts with the headroom the predecessor learned.
     */
    RadixTree(RadixTree predecessor) {
        this.slack = predecessor.slack;
    }

    /**
     * Whether {@code map} is this lineage's latest publication and the tree has not grown too much
     * garbage since the last full build (then the table should rather be built in full).
     */
    boolean derivable(PhysPageMap map) {
        return map.tree() == this && map.version() == version && rawCount <= baseRaw + (baseRaw >> 2) + 16;
    }

    /** Starts an edit: the tree stops matching any published table until {@link #publish}. */
    void beginDerive() {
        version++;
        overwrite = true;
    }

    // ---------------------------------------------------------------------------------------------
    // Raw tree (phys_page_set)

    private int allocNode(boolean leaf) {
        if ((rawCount + 1) * L2_SIZE > raw.length) {
            raw = Arrays.copyOf(raw, raw.length * 2);
        }
        int n = rawCount++;
        if (n >= NIL) {
            throw new IllegalStateException("radix page map exceeds " + NIL + " nodes");
        }
        if (n == validCount.length) {
            int cap = n * 2;
            validCount = Arrays.copyOf(validCount, cap);
            validXor = Arrays.copyOf(validXor, cap);
            summary = Arrays.copyOf(summary, cap);
            row = Arrays.copyOf(row, cap);
            visitStamp = Arrays.copyOf(visitStamp, cap);
            slotDirty = Arrays.copyOf(slotDirty, cap * WORDS);
        }
        // New level-0 node: leaves pointing at section 0 (all valid; XOR of 0..511 is 0); interior
        // node: {skip 1, NIL} (none valid).
        Arrays.fill(raw, n * L2_SIZE, (n + 1) * L2_SIZE, leaf ? entry(0, 0) : entry(1, NIL));
        validCount[n] = leaf ? L2_SIZE : 0;
        validXor[n] = 0;
        row[n] = -1;
        Arrays.fill(slotDirty, n * WORDS, (n + 1) * WORDS, 0L);
        return n;
    }

    private void visit(int n) {
        if (visitStamp[n] != stamp) {
            visitStamp[n] = stamp;
            if (visitedCount == visited.length) {
                visited = Arrays.copyOf(visited, visitedCount * 2);
            }
            visited[visitedCount++] = n;
        }
    }

    private void write(int n, int i, int e) {
        int at = n * L2_SIZE + i;
        boolean was = ptr(raw[at]) != NIL;
        boolean is = ptr(e) != NIL;
        if (was != is) {
            validCount[n] += is ? 1 : -1;
            validXor[n] ^= i;
        }
        raw[at] = e;
        slotDirty[n * WORDS + (i >>> 6)] |= 1L << i;
    }

    /**
     * {@code phys_page_set}: maps {@code nb} pages from page {@code index} to {@code section}.
     *
     * @param index first page number
     * @param nb number of pages (at least 1)
     * @param section section index
     */
    void set(long index, long nb, int section) {
        long[] cursor = {index, nb};
        rawRoot = setLevel(rawRoot, cursor, section, LEVELS - 1);
    }

    /**
     * Unmaps {@code nb} pages from page {@code index} (derivations only): aligned blocks become empty
     * interior entries, level-0 entries section 0, and leaves that straddle the edges are split.
     *
     * @param index first page number
     * @param nb number of pages (at least 1)
     */
    void clear(long index, long nb) {
        if (!overwrite) {
            throw new IllegalStateException("clear on a map that is not being derived");
        }
        long[] cursor = {index, nb};
        rawRoot = setLevel(rawRoot, cursor, -1, LEVELS - 1);
    }

    /** {@code phys_page_set_level}; returns the (possibly newly allocated) entry. A leaf of -1 clears. */
    private int setLevel(int lp, long[] cursor, int leaf, int level) {
        long step = 1L << (level * L2_BITS);
        if (skip(lp) != 0 && ptr(lp) == NIL) {
            if (leaf < 0) {
                // Nothing mapped below: skip to the end of this node's span (or of the request).
                long span = 1L << ((level + 1) * L2_BITS); // at most 2^54 pages: no overflow
                long left = span - (cursor[0] & (span - 1));
                long adv = Long.compareUnsigned(left, cursor[1]) > 0 ? cursor[1] : left;
                cursor[0] += adv;
                cursor[1] -= adv;
                return lp;
            }
            lp = entry(skip(lp), allocNode(level == 0));
        }
        if (skip(lp) == 0) {
            if (!overwrite) {
                throw new IllegalStateException("page 0x" + Long.toHexString(cursor[0]) + " is already mapped at level "
                        + level);
            }
            // A leaf covering a larger block than the request: split it into a node of equal leaves
            // (a leaf's ptr is a section index, never NIL: all 512 valid, XOR 0).
            int n = allocNode(level == 0);
            Arrays.fill(raw, n * L2_SIZE, (n + 1) * L2_SIZE, lp);
            validCount[n] = L2_SIZE;
            lp = entry(1, n);
        }
        int node = ptr(lp);
        visit(node);
        int i = (int) ((cursor[0] >>> (level * L2_BITS)) & (L2_SIZE - 1));
        while (cursor[1] != 0 && i < L2_SIZE) {
            if ((cursor[0] & (step - 1)) == 0 && Long.compareUnsigned(cursor[1], step) >= 0) {
                write(node, i, leaf >= 0 ? entry(0, leaf) : level == 0 ? entry(0, 0) : entry(1, NIL));
                cursor[0] += step;
                cursor[1] -= step;
            } else {
                write(node, i, setLevel(raw[node * L2_SIZE + i], cursor, leaf, level - 1));
            }
            i++;
        }
        return lp;
    }

    /**
     * {@code phys_page_find} on the raw tree (the builder's view while it edits): the section index for
     * {@code addr}, 0 when it hits an empty entry.
     */
    int find(long addr) {
        long index = addr >>> PhysPageMap.PAGE_BITS;
        int lp = rawRoot;
        int i = LEVELS;
        int s;
        while ((s = skip(lp)) != 0 && (i -= s) >= 0) {
            int p = ptr(lp);
            if (p == NIL) {
                return 0;
            }
            lp = raw[p * L2_SIZE + (int) ((index >>> (i * L2_BITS)) & (L2_SIZE - 1))];
        }
        return skip(lp) == 0 ? ptr(lp) : 0;
    }

    // ---------------------------------------------------------------------------------------------
    // Compaction into the pool (address_space_dispatch_compact)

    /**
     * Compacts what changed since the last publication into the pool and returns the table's map.
     *
     * @param baseSections section count of the last full build of the lineage (garbage accounting)
     * @param incremental whether this publication was derived from the previous one
     * @return the map, immutable
     */
    PhysPageMap publish(int baseSections, boolean incremental) {
        if (!incremental) {
            baseRaw = rawCount;
        }
        boolean done = false;
        if (incremental && pool != null) {
            // Children before parents: a child is always allocated after its parent.
            Arrays.sort(visited, 0, visitedCount);
            done = true;
            for (int k = visitedCount - 1; k >= 0 && done; k--) {
                done = compactNode(visited[k], false);
            }
        }
        if (!done) {
            repack(incremental);
        }
        publications++;
        for (int k = 0; k < visitedCount; k++) {
            int n = visited[k];
            Arrays.fill(slotDirty, n * WORDS, (n + 1) * WORDS, 0L);
        }
        visitedCount = 0;
        stamp++;
        overwrite = true;
        int root = ptr(rawRoot) == NIL ? rawRoot : extend(skip(rawRoot), ptr(rawRoot));
        return new PhysPageMap(pool, poolCount, root, this, version, baseSections, incremental);
    }

    /**
     * A fresh pool holding the compacted form of every reachable raw node. A full build's pool is
     * sized to the raw node count (an upper bound of the reachable nodes); a derived table's repack
     * gets twice that plus a slack that grows while pools fill within a few dozen commits, so that
     * the repack's pass over the tree is amortised over many commits on a busy lineage while an idle
     * one keeps a small pool; the bytes a commit costs are the nodes it appends either way. The slack stops at 256 nodes (512 KiB), which keeps a small machine's pool
     * under G1's humongous-object size.
     */
    private void repack(boolean headroom) {
        if (!headroom) {
            // A full build: exactly sized (raw nodes bound the reachable ones). Many full builds are
            // never derived from; the first derivation repacks with headroom.
            pool = new int[Math.max(rawCount, 1) * L2_SIZE];
        } else {
            if (publications < 64 && slack < 256) {
                slack *= 2; // a busy lineage: fewer, larger pools (same bytes per commit, fewer passes)
            }
            pool = new int[(2 * rawCount + slack) * L2_SIZE];
        }
        publications = 0;
        poolCount = 0;
        if (ptr(rawRoot) != NIL) {
            compactSubtree(ptr(rawRoot));
        }
    }

    private void compactSubtree(int n) {
        int base = n * L2_SIZE;
        for (int i = 0; i < L2_SIZE; i++) {
            int e = raw[base + i];
            if (skip(e) != 0 && ptr(e) != NIL) {
                compactSubtree(ptr(e));
            }
        }
        boolean fits = compactNode(n, true);
        assert fits : "pool sized for every reachable node";
    }

    /** {@code phys_page_compact} of an entry {@code {skip s, ptr c}} whose node {@code c} is compacted. */
    private int extend(int s, int c) {
        int sc = summary[c];
        return skip(sc) == 0 ? sc : entry(s - 1 + skip(sc), ptr(sc));
    }

    /** The compacted form of one raw entry. */
    private int compactSlot(int e) {
        return skip(e) != 0 && ptr(e) != NIL ? extend(skip(e), ptr(e)) : e;
    }

    /**
     * Recomputes {@code summary[n]} (and {@code row[n]}) from {@code n}'s entries and its children's
     * summaries. With {@code full}, the row is rebuilt from scratch; else the old row is patched in the
     * entries written since the last publication (and reused when none changed).
     *
     * @return false if the pool is full (nothing was changed then)
     */
    private boolean compactNode(int n, boolean full) {
        int base = n * L2_SIZE;
        if (validCount[n] == 1) {
            // phys_page_compact: a single child replaces this level (a leaf ends the chain).
            int e = raw[base + validXor[n]];
            summary[n] = skip(e) == 0 ? entry(0, ptr(e)) : extend(1 + skip(e), ptr(e));
            row[n] = -1;
            return true;
        }
        int old = row[n];
        if (!full && old >= 0) {
            int ob = old * L2_SIZE;
            boolean same = true;
            for (int w = 0; w < WORDS && same; w++) {
                long bits = slotDirty[n * WORDS + w];
                while (bits != 0) {
                    int i = (w << 6) + Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    if (compactSlot(raw[base + i]) != pool[ob + i]) {
                        same = false;
                        break;
                    }
                }
            }
            if (same) {
                summary[n] = entry(1, old);
                return true;
            }
            if (poolCount * L2_SIZE + L2_SIZE > pool.length) {
                return false;
            }
            int r = poolCount++;
            int rb = r * L2_SIZE;
            System.arraycopy(pool, ob, pool, rb, L2_SIZE);
            for (int w = 0; w < WORDS; w++) {
                long bits = slotDirty[n * WORDS + w];
                while (bits != 0) {
                    int i = (w << 6) + Long.numberOfTrailingZeros(bits);
                    bits &= bits - 1;
                    pool[rb + i] = compactSlot(raw[base + i]);
                }
            }
            row[n] = r;
            summary[n] = entry(1, r);
            return true;
        }
        if (poolCount * L2_SIZE + L2_SIZE > pool.length) {
            return false;
        }
        int r = poolCount++;
        int rb = r * L2_SIZE;
        for (int i = 0; i < L2_SIZE; i++) {
            pool[rb + i] = compactSlot(raw[base + i]);
        }
        row[n] = r;
        summary[n] = entry(1, r);
        return true;
    }
}
