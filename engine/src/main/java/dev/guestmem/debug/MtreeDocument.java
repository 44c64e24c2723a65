package dev.guestmem.debug;

import java.util.List;
import java.util.Optional;

/**
 * A whole {@code info mtree} text: the address-space groups and the {@code memory-region:} blocks
 * in printed order.
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param blocks the blocks in printed order
 */
public record MtreeDocument(List<MtreeBlock> blocks) {
    /** Copies the list. */
    public MtreeDocument {
        blocks = List.copyOf(blocks);
    }

    /**
     * The root of an address space the text prints ({@code address-space: NAME} heads a group of
     * spaces that share one root, QEMU printing each root once).
     *
     * @param name an address space's name, as printed (e.g. {@code memory}, {@code I/O})
     * @return the root region of its group, or empty if no group names it
     */
    public Optional<MtreeNode> addressSpace(String name) {
        for (MtreeBlock b : blocks) {
            if (b instanceof MtreeBlock.AddressSpaceGroup g && g.names().contains(name)) {
                return Optional.of(g.root());
            }
        }
        return Optional.empty();
    }

    /** @return whether any line uses a word only the annotated dialect has ({@code container}, {@code [readonly]}) */
    public boolean looksAnnotated() {
        for (MtreeBlock b : blocks) {
            if (annotated(b.root())) {
                return true;
            }
        }
        return false;
    }

    private static boolean annotated(MtreeNode n) {
        if (n.type() == MtreeType.CONTAINER || n.readonlyMarker()) {
            return true;
        }
        for (MtreeNode c : n.children()) {
            if (annotated(c)) {
                return true;
            }
        }
        return false;
    }
}
