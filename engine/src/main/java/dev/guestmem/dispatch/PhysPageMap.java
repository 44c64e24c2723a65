package dev.guestmem.dispatch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The radix page map of one dispatch table, as QEMU's {@code PhysPageMap} plus the root entry
 * {@code phys_map}: 9 bits a level, 4 KiB pages, 6 levels, leaves at any level, and levels with a
 * single child skipped ({@code phys_page_compact}, done when the table is built).
 *
 * <p>An entry is QEMU's 32-bit {@code PhysPageEntry}: {@code skip} in the top 6 bits, {@code ptr} in
 * the low 26. {@code skip == 0} is a leaf whose {@code ptr} indexes the sections array; otherwise
 * {@code ptr} names a node (512 consecutive entries of the node array) and {@code skip} says how many
 * levels to descend. {@link #NIL} marks an empty interior entry.
 *
 * <p>This is the compacted tree only. It is built by a {@link RadixTree}, which keeps the uncompacted
 * tree for deriving the next table, and whose node pool successive tables of one lineage share
 * (append only: a node is never written after a table that reaches it was published), so a commit
 * that changes a few pages writes a few new nodes instead of copying the tree.
 *
 * <p><b>Thread safety.</b> Immutable: every field is final and every node reachable from
 * {@link #root()} was written before the owning {@link AddressSpaceDispatch} was published (the
 * view's release store orders those writes before any reader's acquire). Readers use plain
 * {@code VarHandle} gets on the node array.
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
    /** Plain reads of node entries on the lookup path (the reachable nodes never change once published). */
    private static final VarHandle NODE = MethodHandles.arrayElementVarHandle(int[].class);

    /** The lineage's node pool as of this table (later tables may append past {@link #nodeCount}). */
    private final int[] nodes;
    private final int nodeCount;
    private final int root;
    /** The lineage this map belongs to, and which of its publications it is (for derivations). */
    private final RadixTree tree;
    private final long version;
    /** Section count of the last full build in this lineage (garbage accounting). */
    final int baseSections;
    /** Whether this table was derived from an older one rather than built from scratch. */
    private final boolean incremental;

    PhysPageMap(int[] nodes, int nodeCount, int root, RadixTree tree, long version, int baseSections,
                boolean incremental) {
        this.nodes = nodes;
        this.nodeCount = nodeCount;
        this.root = root;
        this.tree = tree;
        this.version = version;
        this.baseSections = baseSections;
        this.incremental = incremental;
    }

    /** @return whether this table was derived from an older table (incremental build) */
    public boolean isIncremental() {
        return incremental;
    }

    RadixTree tree() {
        return tree;
    }

    long version() {
        return version;
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

    /** @return the number of nodes in the pool as of this table (reachable or not) */
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
