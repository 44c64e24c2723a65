package dev.guestmem.debug;

import dev.guestmem.region.MemoryRegion;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which {@code memory-region:} block each printed alias targets (see {@link MtreeImporter}'s
 * "Alias targets"): the exact assignment in QEMU's queue order where one exists, a greedy one where
 * plain text hid disabled aliases, and no assignment that closes an alias cycle.
 *
 * <p><b>Thread safety.</b> Confined to one import.
 */
final class AliasTargets {
    private static final int MAX_CYCLE_RETRIES = 64;

    private final PrintedRegions regions;
    private final ReadingChoices choices;
    /** Alias class to target class. */
    private final Map<Integer, Integer> targets = new HashMap<>();
    /** (alias class, target class) pairs that closed an alias cycle: never chosen again. */
    private final Set<Long> forbidden = new HashSet<>();
    /** The roots of the {@code memory-region:} blocks, in printed order. */
    private final List<PrintedNode> blockRoots = new ArrayList<>();

    private AliasTargets(PrintedRegions regions, ReadingChoices choices) {
        this.regions = regions;
        this.choices = choices;
        for (int p = 0; p < regions.roots().size(); p++) {
            if (!regions.isAddressSpace(p)) {
                blockRoots.add(regions.roots().get(p));
            }
        }
    }

    /**
     * Assigns every printed alias its target.
     *
     * @return alias class to target class
     * @throws MtreeParseException if an alias's target is printed nowhere
     */
    static Map<Integer, Integer> resolve(PrintedRegions regions, ReadingChoices choices) {
        AliasTargets t = new AliasTargets(regions, choices);
        t.resolve();
        return t.targets;
    }

    private void resolve() {
        // First with windows inside their targets (the engine requires it, boards nearly always
        // do it), then with the type alone (QEMU allows a window past its target's end).
        // Namesakes can make an assignment that closes an alias cycle (alias b @dev picks the alias
        // named dev, which picked b): forbid one edge of the cycle and solve again.
        // Which edge of the cycle to forbid is a reading decision (see the class doc): by
        // default the one whose alias comes last in the walk, as the assignment decides the
        // earlier aliases first and the later ones adapt to them.
        for (int attempt = 0; attempt < MAX_CYCLE_RETRIES; attempt++) {
            if (!resolveInQueueOrder(true) && !resolveInQueueOrder(false)) {
                break;
            }
            List<Long> cycle = cycle();
            if (cycle.isEmpty()) {
                return;
            }
            forbidden.add(cycle.get(choices.decide(cycle.size())));
            targets.clear();
        }
        resolveGreedily();
    }

    private int find(PrintedNode o) {
        return regions.find(o.id);
    }

    /** Aliases in walk order (text order, depth first), visible ones only. */
    private List<PrintedNode> walk() {
        List<PrintedNode> out = new ArrayList<>();
        for (PrintedNode o : regions.nodes()) {
            if (!o.node.hidden() && o.node.isAlias()) {
                out.add(o);
            }
        }
        return out;
    }

    /** Whether the block's root has the type the alias line shows ({@code i/o} also matches a container). */
    private static boolean typeFits(PrintedNode alias, PrintedNode blockRoot) {
        MtreeNode t = blockRoot.node;
        if (t.hidden()) {
            return true;
        }
        MtreeType have = t.type() == MtreeType.CONTAINER ? MtreeType.IO : t.type();
        return alias.node.type() == have;
    }

    private static boolean windowFits(PrintedNode alias, PrintedNode blockRoot) {
        MtreeNode t = blockRoot.node;
        if (t.hidden() || t.size() == MemoryRegion.SIZE_2_64) {
            return true;
        }
        return Long.compareUnsigned(alias.node.alias().targetEnd(), t.size() - 1) <= 0
                && Long.compareUnsigned(alias.node.alias().targetStart(), alias.node.alias().targetEnd()) <= 0;
    }

    /**
     * Finds a cycle in the current assignment, through alias targets and through containment (an
     * alias whose target contains an alias that leads back to it renders forever).
     *
     * @return the (alias, target) pairs on one cycle, the alias last in the walk first; empty if
     *     there is none
     */
    private List<Long> cycle() {
        Map<Integer, Set<Integer>> contains = new HashMap<>();
        Map<Integer, Integer> walkIndex = new HashMap<>();
        List<PrintedNode> walk = walk();
        for (int w = 0; w < walk.size(); w++) {
            PrintedNode o = walk.get(w);
            int a = find(o);
            walkIndex.putIfAbsent(a, w);
            for (PrintedNode p = o.parent; p != null; p = p.parent) {
                contains.computeIfAbsent(find(p), k -> new HashSet<>()).add(a);
            }
        }
        List<Integer> starts = new ArrayList<>(targets.keySet());
        starts.sort(null); // the map's order is not the text's: make the search repeatable
        for (int start : starts) {
            int first = targets.get(start);
            // Breadth-first from the alias's target; for each class reached, the class it was
            // reached from and the alias edge used (-1 for containment).
            Map<Integer, Integer> prev = new HashMap<>();
            Map<Integer, Long> via = new HashMap<>();
            ArrayDeque<Integer> queue = new ArrayDeque<>();
            prev.put(first, start);
            via.put(first, pair(start, first));
            queue.add(first);
            while (!queue.isEmpty()) {
                int x = queue.poll();
                if (x == start) {
                    List<Long> edges = new ArrayList<>();
                    int y = start;
                    do {
                        if (via.get(y) != -1L) {
                            edges.add(via.get(y));
                        }
                        y = prev.get(y);
                    } while (y != start);
                    edges.sort(Comparator.comparingInt((Long e) -> -walkIndex.get((int) (e >>> 32))));
                    return edges;
                }
                List<Integer> next = new ArrayList<>();
                List<Long> how = new ArrayList<>();
                Integer t = targets.get(x);
                if (t != null) {
                    next.add(t);
                    how.add(pair(x, t));
                }
                for (int c : contains.getOrDefault(x, Set.of())) {
                    next.add(c);
                    how.add(-1L);
                }
                for (int i = 0; i < next.size(); i++) {
                    if (!prev.containsKey(next.get(i))) {
                        prev.put(next.get(i), x);
                        via.put(next.get(i), how.get(i));
                        queue.add(next.get(i));
                    }
                }
            }
        }
        return List.of();
    }

    private static long pair(int aliasClass, int targetClass) {
        return ((long) aliasClass << 32) | (targetClass & 0xffff_ffffL);
    }

    private boolean compatible(PrintedNode alias, PrintedNode blockRoot, boolean window) {
        return regions.blockName(blockRoot).equals(alias.node.alias().target()) && typeFits(alias, blockRoot)
                && !forbidden.contains(pair(find(alias), find(blockRoot)))
                && (!window || windowFits(alias, blockRoot)) && find(alias) != find(blockRoot)
                && !isAncestor(blockRoot, alias);
    }

    /** Whether {@code target}'s region contains {@code alias} (an alias to it would be a cycle). */
    private boolean isAncestor(PrintedNode target, PrintedNode alias) {
        int t = find(target);
        for (PrintedNode p = alias.parent; p != null; p = p.parent) {
            if (find(p) == t) {
                return true;
            }
        }
        return false;
    }

    /**
     * Exact rule when every alias is printed (-D, annotated): the k-th block is the k-th distinct
     * target met in walk order. With {@code window}, a target must also hold the alias's window.
     * Finds, by dynamic programming over (alias, blocks opened), an assignment whose first
     * references open the blocks in printed order; at each alias it reuses an already-opened block
     * when that still allows a complete assignment (preferring one the window fits), else opens the
     * next block. Returns false when no assignment exists (plain text, whose disabled aliases are
     * not printed, or hand-edited text).
     */
    private boolean resolveInQueueOrder(boolean window) {
        List<PrintedNode> walk = walk();
        int w0 = walk.size();
        int nb = blockRoots.size();
        boolean[] first = new boolean[w0];
        Set<Integer> seen = new HashSet<>();
        for (int w = 0; w < w0; w++) {
            first[w] = seen.add(find(walk.get(w)));
        }
        // feasible[w][n]: aliases w.. can be assigned when blocks 0..n-1 are open.
        boolean[][] feasible = new boolean[w0 + 1][nb + 1];
        feasible[w0][nb] = true;
        for (int w = w0 - 1; w >= 0; w--) {
            PrintedNode a = walk.get(w);
            for (int n = 0; n <= nb; n++) {
                if (!first[w]) {
                    feasible[w][n] = feasible[w + 1][n];
                    continue;
                }
                boolean ok = n < nb && compatible(a, blockRoots.get(n), window) && feasible[w + 1][n + 1];
                if (!ok && feasible[w + 1][n]) {
                    for (int b = 0; b < n && !ok; b++) {
                        ok = compatible(a, blockRoots.get(b), window);
                    }
                }
                feasible[w][n] = ok;
            }
        }
        if (!feasible[0][0]) {
            return false;
        }
        int n = 0;
        for (int w = 0; w < w0; w++) {
            if (!first[w]) {
                continue;
            }
            PrintedNode a = walk.get(w);
            int reuse = -1;
            if (feasible[w + 1][n]) {
                for (int b = 0; b < n; b++) {
                    if (compatible(a, blockRoots.get(b), window)
                            && (reuse < 0 || !windowFits(a, blockRoots.get(reuse)) && windowFits(a, blockRoots.get(b)))) {
                        reuse = b;
                    }
                }
            }
            boolean open = n < nb && compatible(a, blockRoots.get(n), window) && feasible[w + 1][n + 1];
            int chosen;
            if (reuse >= 0 && !(open && windowFits(a, blockRoots.get(n)) && !windowFits(a, blockRoots.get(reuse)))) {
                chosen = reuse;
            } else {
                chosen = n++;
            }
            targets.put(find(a), find(blockRoots.get(chosen)));
        }
        return true;
    }

    /** Fallback when no exact assignment exists: per alias, by the heuristics in the class doc. */
    private void resolveGreedily() {
        boolean[] opened = new boolean[blockRoots.size()];
        int next = 0;
        List<PrintedNode> walk = walk();
        for (int w = 0; w < walk.size(); w++) {
            PrintedNode a = walk.get(w);
            int cls = find(a);
            if (targets.containsKey(cls)) {
                continue;
            }
            String target = a.node.alias().target();
            List<Integer> cands = new ArrayList<>();
            for (int b = 0; b < blockRoots.size(); b++) {
                PrintedNode br = blockRoots.get(b);
                if (regions.blockName(br).equals(target) && typeFits(a, br)) {
                    cands.add(b);
                }
            }
            // QEMU allows a window to pass its target's end, but boards rarely do: prefer targets it fits.
            List<Integer> fitting = cands.stream().filter(b -> windowFits(a, blockRoots.get(b))).toList();
            if (!fitting.isEmpty()) {
                cands = fitting;
            }
            if (cands.isEmpty()) {
                targets.put(cls, fallbackTarget(a));
                continue;
            }
            Integer firstOpened = null;
            for (int b : cands) {
                if (opened[b]) {
                    firstOpened = b;
                    break;
                }
            }
            boolean nextFits = next < blockRoots.size() && cands.contains(next);
            int chosen;
            if (nextFits && (firstOpened == null || !laterReference(walk, w, blockRoots.get(next), target))) {
                chosen = next;
            } else if (firstOpened != null) {
                chosen = firstOpened;
            } else {
                chosen = cands.getFirst();
            }
            chosen = acyclicChoice(cls, chosen, cands);
            opened[chosen] = true;
            while (next < blockRoots.size() && opened[next]) {
                next++;
            }
            targets.put(cls, find(blockRoots.get(chosen)));
        }
    }

    /** The preferred candidate unless it closes an alias cycle; then the first one that does not. */
    private int acyclicChoice(int aliasClass, int preferred, List<Integer> cands) {
        List<Integer> order = new ArrayList<>();
        order.add(preferred);
        order.addAll(cands);
        for (int b : order) {
            targets.put(aliasClass, find(blockRoots.get(b)));
            boolean cyclic = !cycle().isEmpty();
            targets.remove(aliasClass);
            if (!cyclic) {
                return b;
            }
        }
        return preferred;
    }

    private boolean laterReference(List<PrintedNode> walk, int w, PrintedNode blockRoot, String target) {
        for (int i = w + 1; i < walk.size(); i++) {
            PrintedNode a = walk.get(i);
            if (a.node.alias().target().equals(target) && typeFits(a, blockRoot) && windowFits(a, blockRoot)
                    && find(a) != find(walk.get(w)) && !targets.containsKey(find(a))) {
                return true;
            }
        }
        return false;
    }

    /** Text without the target's block (cut short, hand-written): any region of that name and type. */
    private int fallbackTarget(PrintedNode a) {
        for (PrintedNode o : regions.nodes()) {
            if (!o.node.hidden() && o.node.name().equals(a.node.alias().target()) && !o.node.isAlias()
                    && typeFits(a, o)) {
                return find(o);
            }
        }
        throw new MtreeParseException(a.line(), a.text(),
                "alias target '" + a.node.alias().target() + "' is printed nowhere (no memory-region block)");
    }
}
