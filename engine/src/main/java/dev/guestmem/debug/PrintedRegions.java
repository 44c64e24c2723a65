package dev.guestmem.debug;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which printed nodes of an {@code info mtree} text are one region (see {@link MtreeImporter}'s
 * "Which printings are one region"): every node with its signature, and a union-find over the
 * nodes whose classes are the regions. A class is named by its earliest-printed node's id.
 *
 * <p><b>Thread safety.</b> Confined to one import.
 */
final class PrintedRegions {
    private final MtreeDocument doc;
    /** Every printed node, in text order (a node's id is its index). */
    private final List<PrintedNode> nodes = new ArrayList<>();
    /** The root of each printing, by printing index. */
    private final List<PrintedNode> roots = new ArrayList<>();
    private final Map<String, Integer> sigIds = new HashMap<>();
    private final int[] uf;
    /** Per class representative: whether the class is the root of an address-space printing. */
    private final boolean[] hasAsRoot;
    /** Per class representative: whether the class is the root of a {@code memory-region:} block. */
    private final boolean[] hasBlockRoot;

    /** Reads every printing of the text; each node is its own region until {@link #unify}. */
    PrintedRegions(MtreeDocument doc) {
        this.doc = doc;
        for (int p = 0; p < doc.blocks().size(); p++) {
            roots.add(collect(doc.blocks().get(p).root(), null, p));
        }
        uf = new int[nodes.size()];
        hasAsRoot = new boolean[nodes.size()];
        hasBlockRoot = new boolean[nodes.size()];
        for (int i = 0; i < uf.length; i++) {
            uf[i] = i;
        }
        for (int p = 0; p < roots.size(); p++) {
            if (isAddressSpace(p)) {
                hasAsRoot[roots.get(p).id] = true;
            } else {
                hasBlockRoot[roots.get(p).id] = true;
            }
        }
    }

    List<PrintedNode> nodes() {
        return nodes;
    }

    List<PrintedNode> roots() {
        return roots;
    }

    /** @return whether printing {@code printing} is an address-space tree (else a {@code memory-region:} block) */
    boolean isAddressSpace(int printing) {
        return doc.blocks().get(printing) instanceof MtreeBlock.AddressSpaceGroup;
    }

    /** @return the header name of the {@code memory-region:} block whose root {@code blockRoot} is */
    String blockName(PrintedNode blockRoot) {
        return ((MtreeBlock.RegionBlock) doc.blocks().get(blockRoot.printing)).name();
    }

    private PrintedNode collect(MtreeNode n, PrintedNode parent, int printing) {
        PrintedNode o = new PrintedNode(nodes.size(), n, parent, printing);
        nodes.add(o);
        for (MtreeNode c : n.children()) {
            o.children.add(collect(c, o, printing));
        }
        StringBuilder key = new StringBuilder();
        if (n.hidden()) {
            key.append("H|");
        } else {
            key.append(n.name()).append('\u0000').append(n.type()).append('\u0000').append(n.size())
                    .append('\u0000').append(n.priority()).append('\u0000').append(n.nonvolatile())
                    .append('\u0000').append(n.disabled()).append('\u0000').append(n.readonlyMarker());
            if (n.isAlias()) {
                key.append("\u0000@").append(n.alias().target()).append('\u0000')
                        .append(n.alias().targetStart());
            }
            key.append('|');
        }
        key.append(o.rel());
        for (PrintedNode co : o.children) {
            key.append(',').append(co.sig);
        }
        o.sig = sigIds.computeIfAbsent(key.toString(), k -> sigIds.size());
        return o;
    }

    /** @return the class (region) of node {@code i} */
    int find(int i) {
        while (uf[i] != i) {
            uf[i] = uf[uf[i]];
            i = uf[i];
        }
        return i;
    }

    private void union(int a, int b) {
        int ra = find(a);
        int rb = find(b);
        if (ra == rb) {
            return;
        }
        // Keep the earlier-printed node as the class's representative.
        if (rb < ra) {
            int t = ra;
            ra = rb;
            rb = t;
        }
        uf[rb] = ra;
        hasAsRoot[ra] |= hasAsRoot[rb];
        hasBlockRoot[ra] |= hasBlockRoot[rb];
    }

    private void unionSubtree(PrintedNode a, PrintedNode b) {
        union(a.id, b.id);
        for (int i = 0; i < a.children.size(); i++) {
            unionSubtree(a.children.get(i), b.children.get(i));
        }
    }

    /**
     * Makes each printing's root one region with a node of another printing that has its
     * signature, largest subtree first; which namesake is a reading decision.
     */
    void unify(ReadingChoices choices) {
        Map<Integer, List<PrintedNode>> bySig = new HashMap<>();
        for (PrintedNode o : nodes) {
            bySig.computeIfAbsent(o.sig, k -> new ArrayList<>()).add(o);
        }
        List<Integer> order = new ArrayList<>();
        for (int p = 0; p < roots.size(); p++) {
            order.add(p);
        }
        order.sort(Comparator.comparingInt((Integer p) -> -roots.get(p).node.subtreeSize())
                .thenComparingInt(p -> p));
        for (int p : order) {
            PrintedNode r = roots.get(p);
            boolean as = isAddressSpace(p);
            boolean already = false;
            // One option per region (class), in text order of its first candidate printing.
            Map<Integer, PrintedNode> options = new LinkedHashMap<>();
            for (PrintedNode c : bySig.get(r.sig)) {
                if (c.printing == p) {
                    continue;
                }
                int cr = find(c.id);
                if (cr == find(r.id)) {
                    already = true;
                    break;
                }
                if (!(as ? hasAsRoot[cr] : hasBlockRoot[cr])) {
                    options.putIfAbsent(cr, c);
                }
            }
            if (!already && !options.isEmpty()) {
                unionSubtree(r, new ArrayList<>(options.values()).get(choices.decide(options.size())));
            }
        }
    }

    /** The class's representative: its first-printed non-hidden member, else its first member. */
    PrintedNode rep(int cls) {
        PrintedNode first = null;
        for (PrintedNode o : nodes) {
            if (find(o.id) == cls) {
                if (!o.node.hidden()) {
                    return o;
                }
                if (first == null) {
                    first = o;
                }
            }
        }
        return first;
    }

    /** @return the header name of a block the class is the root of, else {@code fallback} */
    String headerName(int cls, String fallback) {
        for (PrintedNode r : roots) {
            if (find(r.id) == cls && r.node.name() != null) {
                return r.node.name();
            }
        }
        return fallback;
    }
}
