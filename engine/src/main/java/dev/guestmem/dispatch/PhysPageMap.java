package dev.guestmem.dispatch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/**
 * The radix page map of one dispatch table, as QEMU's {@code PhysPageMap} plus the root entry
 * {@code phys_map}: 9 bits a level, 4 KiB pages, 6 levels, leaves at any level, and levels with a
 * single child skipped after {@link #compact()} ({@code phys_page_compact}).
 *
 * <p>An entry is QEMU's 32-bit {@code PhysPageEntry}: {@code skip} in the top 6 bits, {@code ptr} in
 * the low 26. {@code skip == 0} is a leaf whose {@code ptr} indexes the sections array; otherwise
 * {@code ptr} names a node (512 consecutive entries of {@link #nodes}) and {@code skip} says how many
 * levels to descend. {@link #NIL} marks an empty interior entry.
 *
 * <p><b>Thread safety.</b> Built by one thread under the topology lock; immutable once the owning
 * {@link AddressSpaceDispatch} is published (the view's release store orders the node writes before
 * any reader's acquire). Readers use plain {@code VarHandle} gets on the node array.
 */
public final class PhysPageMap {
    /** Page size bits ({@code TARGET_PAGE_BITS}). */
    public static final int PAGE_BITS = 12;
    /** Page size in bytes. */
    public static final long PAGE_SIZE = 1L << PAGE_BITS;
    /** Bits resolved per level ({@code P_L2_BITS}). */
    public static final int L2_BITS = 9;
    /** Entries per node ({@code P_L2_SIZE}). */
    public static final int L2_SIZE = 1 << L2_BITS;
    /** Levels ({@code P_L2_LEVELS = ((64 - TARGET_PAGE_BITS - 1) / P_L2_BITS) + 1}). */
    public static final int LEVELS = ((64 - PAGE_BITS - 1) / L2_BITS) + 1;
    /** {@code PHYS_MAP_NODE_NIL}. */
    public static final int NIL = 0x3FFFFFF;

    private static final int PTR_MASK = 0x3FFFFFF;
    private static final int SKIP_SHIFT = 26;
    /** Plain reads of node entries on the lookup path (the array is immutable once published). */
    private static final VarHandle NODE = MethodHandles.arrayElementVarHandle(int[].class);

    private int[] nodes;
    private int nodeCount;
    private int root = entry(1, NIL);
    /**
     * The tree as built, before {@link #compact()} (compaction forgets which index a skipped level had,
     * so a compacted tree cannot be edited). Kept so that the next view's table can be derived from
     * this one ({@link DispatchBuilder#incremental}); never read by lookups.
     */
    private int[] raw;
    private int rawRoot;
    /** While building: leaves at any level may be overwritten or cleared (incremental builds). */
    private boolean overwrite;
    /** Node count of the last full build in this table's lineage (garbage accounting). */
    private int baseNodes;
    /** Section count of the last full build in this lineage (garbage accounting; set by the builder). */
    int baseSections;
    /** Whether this table was derived from an older one rather than built from scratch. */
    private boolean incremental;

    PhysPageMap() {
        this.nodes = new int[L2_SIZE * 16];
    }

    /**
     * A map to be edited into the next view's map: a copy of {@code old}'s uncompacted tree, in
     * overwrite mode. {@code old} is not changed (readers may still use it).
     */
    PhysPageMap(PhysPageMap old) {
        this.nodes = Arrays.copyOf(old.raw, old.raw.length + 4 * L2_SIZE);
        this.nodeCount = old.raw.length / L2_SIZE;
        this.root = old.rawRoot;
        this.overwrite = true;
        this.baseNodes = old.baseNodes;
        this.incremental = true;
    }

    /** @return whether this table was derived from an older table (incremental build) */
    public boolean isIncremental() {
        return incremental;
    }

    /** @return the node count of the last full build this table descends from */
    int baseNodes() {
        return baseNodes;
    }

    static int entry(int skip, int ptr) {
        return (skip << SKIP_SHIFT) | ptr;
    }

    /**
     * @param e an entry
     * @return its skip field
     */
    public static int skip(int e) {
        return e >>> SKIP_SHIFT;
    }

    /**
     * @param e an entry
     * @return its ptr field
     */
    public static int ptr(int e) {
        return e & PTR_MASK;
    }

    /** @return the root entry ({@code d->phys_map}) */
    public int root() {
        return root;
    }

    /** @return the number of allocated nodes */
    public int nodeCount() {
        return nodeCount;
    }

    /**
     * Reads one entry of a node (for dumps and tests).
     *
     * @param node node index
     * @param i entry index in {@code [0, 512)}
     * @return the entry
     */
    public int nodeEntry(int node, int i) {
        return (int) NODE.get(nodes, node * L2_SIZE + i);
    }

    private int allocNode(boolean leaf) {
        if ((nodeCount + 1) * L2_SIZE > nodes.length) {
            nodes = Arrays.copyOf(nodes, nodes.length * 2);
        }
        int n = nodeCount++;
        // New level-0 node: leaves pointing at section 0; interior node: {skip 1, NIL}.
        Arrays.fill(nodes, n * L2_SIZE, (n + 1) * L2_SIZE, leaf ? entry(0, 0) : entry(1, NIL));
        if (n >= NIL) {
            throw new IllegalStateException("radix page map exceeds " + NIL + " nodes");
        }
        return n;
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
        root = setLevel(root, cursor, section, LEVELS - 1);
    }

    /**
     * Unmaps {@code nb} pages from page {@code index} (incremental builds only): aligned blocks become
     * empty interior entries, level-0 entries section 0, and leaves that straddle the edges are split.
     *
     * @param index first page number
     * @param nb number of pages (at least 1)
     */
    void clear(long index, long nb) {
        if (!overwrite) {
            throw new IllegalStateException("clear on a map that is not being derived");
        }
        long[] cursor = {index, nb};
        root = setLevel(root, cursor, -1, LEVELS - 1);
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
            // A leaf covering a larger block than the request: split it into a node of equal leaves.
            int n = allocNode(level == 0);
            Arrays.fill(nodes, n * L2_SIZE, (n + 1) * L2_SIZE, lp);
            lp = entry(1, n);
        }
        int base = ptr(lp) * L2_SIZE;
        int i = (int) ((cursor[0] >>> (level * L2_BITS)) & (L2_SIZE - 1));
        while (cursor[1] != 0 && i < L2_SIZE) {
            if ((cursor[0] & (step - 1)) == 0 && Long.compareUnsigned(cursor[1], step) >= 0) {
                nodes[base + i] = leaf >= 0 ? entry(0, leaf) : level == 0 ? entry(0, 0) : entry(1, NIL);
                cursor[0] += step;
                cursor[1] -= step;
            } else {
                int child = setLevel(nodes[base + i], cursor, leaf, level - 1);
                base = ptr(lp) * L2_SIZE; // the node array may have grown
                nodes[base + i] = child;
            }
            i++;
        }
        return lp;
    }

    /** {@code address_space_dispatch_compact}: skips levels that have a single child. */
    void compact() {
        raw = Arrays.copyOf(nodes, nodeCount * L2_SIZE);
        rawRoot = root;
        if (!incremental) {
            baseNodes = nodeCount;
        }
        overwrite = false;
        if (skip(root) != 0) {
            root = compactEntry(root);
        }
        if (!incremental) {
            nodes = Arrays.copyOf(nodes, Math.max(nodeCount * L2_SIZE, 1));
        } // a derived map has only a few spare nodes: keep them rather than copy again
    }

    /** {@code phys_page_compact}. */
    private int compactEntry(int lp) {
        if (ptr(lp) == NIL) {
            return lp;
        }
        int base = ptr(lp) * L2_SIZE;
        int valid = 0;
        int validPtr = L2_SIZE;
        for (int i = 0; i < L2_SIZE; i++) {
            int e = nodes[base + i];
            if (ptr(e) == NIL) {
                continue;
            }
            validPtr = i;
            valid++;
            if (skip(e) != 0) {
                nodes[base + i] = compactEntry(e);
            }
        }
        if (valid != 1) {
            return lp;
        }
        int child = nodes[base + validPtr];
        // QEMU's bit-width guard only matters when LEVELS >= 64; skip fits in 6 bits here.
        if (skip(child) == 0) {
            return entry(0, ptr(child));
        }
        return entry(skip(lp) + skip(child), ptr(child));
    }

    /**
     * {@code phys_page_find} without the final {@code section_covers_addr} check: the section index
     * the radix tree yields for {@code addr}, 0 when it hits an empty entry.
     *
     * @param addr an address (unsigned)
     * @return a section index; the caller must check that the section covers {@code addr}
     * @implNote Allocation-free, lock-free; plain reads of immutable published arrays (P1).
     */
    public int find(long addr) {
        long index = addr >>> PAGE_BITS;
        int lp = root;
        int[] n = nodes;
        int i = LEVELS;
        int s;
        while ((s = lp >>> SKIP_SHIFT) != 0 && (i -= s) >= 0) {
            int p = lp & PTR_MASK;
            if (p == NIL) {
                return 0;
            }
            lp = (int) NODE.get(n, p * L2_SIZE + (int) ((index >>> (i * L2_BITS)) & (L2_SIZE - 1)));
        }
        // Skips never overshoot in a well-formed tree; be safe instead of indexing sections with a node.
        return (lp >>> SKIP_SHIFT) == 0 ? lp & PTR_MASK : 0;
    }
}
