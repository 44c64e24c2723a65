package dev.guestmem.debug;

import java.util.List;
import java.util.Objects;

/**
 * One printed region of an {@code info mtree} tree with its printed subregions, in print order.
 * Addresses are absolute as printed (the printing's base plus the region's offsets), unsigned.
 *
 * <p>A <em>hidden</em> node stands for a region that plain {@code info mtree} left out because it
 * is disabled, but whose subregions were printed one level deeper: it has no line of its own, so
 * its name (unless a {@code memory-region:} header gives it), type and size are unknown. Its
 * {@code start} is its first subregion's and its {@code end} the largest end of its subregions.
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param line 1-based line in the parsed text, 0 for nodes not read from text or hidden
 * @param start first address as printed
 * @param end last address as printed ({@code start + size - 1}, or {@code start} for size 0)
 * @param priority priority among siblings
 * @param nonvolatile whether the type carries {@code nv-}
 * @param type the type (for aliases: the target's, as QEMU prints it); null when hidden
 * @param name the region's name; for hidden nodes the block header's name or null
 * @param alias the alias part, or null for a non-alias
 * @param disabled whether the region is disabled (hidden nodes are)
 * @param readonlyMarker whether an alias line ends in {@code [readonly]}
 * @param overflowMarks how many {@code [DETECTED OVERFLOW!]} prefixes the line had
 * @param hidden whether this node had no line (see above)
 * @param owner the {@code info mtree -o} suffix without its leading space, or empty
 * @param children the printed subregions in print order
 */
public record MtreeNode(int line, long start, long end, int priority, boolean nonvolatile, MtreeType type,
                        String name, MtreeAlias alias, boolean disabled, boolean readonlyMarker,
                        int overflowMarks, boolean hidden, String owner, List<MtreeNode> children) {
    /** Copies the children and checks that visible nodes are complete. */
    public MtreeNode {
        children = List.copyOf(children);
        owner = owner == null ? "" : owner;
        if (!hidden) {
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(name, "name");
        }
    }

    /** @return whether this is an alias line */
    public boolean isAlias() {
        return alias != null;
    }

    /**
     * @return the region size implied by the printed range: {@code end - start + 1}, with
     *     {@code -1L} for 2^64 (a printed size of 0 cannot be told from 1 and reads as 1)
     */
    public long size() {
        long s = end - start + 1;
        return s == 0 ? -1L : s;
    }

    /** @return the number of nodes in this subtree, this one included */
    public int subtreeSize() {
        int n = 1;
        for (MtreeNode c : children) {
            n += c.subtreeSize();
        }
        return n;
    }
}
