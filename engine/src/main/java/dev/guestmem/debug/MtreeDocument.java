package dev.guestmem.debug;

import java.util.List;

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
