package dev.guestmem.debug;

import java.util.ArrayList;
import java.util.List;

/**
 * One node of an {@code info mtree} text with its place: which printing (address-space tree or
 * {@code memory-region:} block) it is in, its parent there, and its signature (see
 * {@link PrintedRegions}).
 *
 * <p><b>Thread safety.</b> Confined to one import.
 */
final class PrintedNode {
    /** Index in text order over all printings. */
    final int id;
    final MtreeNode node;
    /** The printed container, or null for a printing's root. */
    final PrintedNode parent;
    /** Index of the printing (block of the document) this node is in. */
    final int printing;
    final List<PrintedNode> children = new ArrayList<>();
    /** The signature's number: equal for nodes with equal lines, offsets and subtrees. */
    int sig;

    PrintedNode(int id, MtreeNode node, PrintedNode parent, int printing) {
        this.id = id;
        this.node = node;
        this.parent = parent;
        this.printing = printing;
    }

    /** @return the offset in the parent, or the start for a printing's root */
    long rel() {
        return parent == null ? node.start() : node.start() - parent.node.start();
    }

    int line() {
        return node.line();
    }

    /** @return the node's line as the annotated dialect prints it, for error messages */
    String text() {
        int depth = 1;
        for (PrintedNode p = parent; p != null; p = p.parent) {
            depth++;
        }
        return MtreeWriter.line(node, depth, MtreeDialect.ANNOTATED);
    }
}
