package dev.guestmem.debug;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * What {@code info mtree} does not print: the age of equal-priority siblings, which decides who
 * wins where they overlap. QEMU prints siblings by address; the importer's default assumes that of
 * two siblings at different addresses the one at the higher address is the newer ({@link
 * MtreeImporter}, "Sibling order"), which a walk that maps a region below an older one it overlaps
 * breaks. This tracker follows ages over the texts of a walk: a region that appears, moves or
 * changes size is the newest of its step, and after it the regions the step's writes re-add in
 * place, in the order the device model re-adds them. The walk imports each text with these ages
 * ({@link #ages()}); {@link #unknownOrder} names a pair that matters (enabled, equal priority,
 * overlapping, different addresses, and not two aliases that map the same target the same way,
 * whose order shows nowhere) whose order is unknown (both (re-)added in one step, or both there
 * from the start but overlapping only later): such a step is not compared.
 *
 * <p>A region is known by its block and the names and printed ranges on its path, so a region that
 * moves or changes size is a new one (the newest), and a namesake's move changes nothing for it.
 * When a container moves, all its subregions look new together: siblings of one age, whose pairs
 * are unknown (a skip), never a wrong order.
 */
final class LiveSiblingAges {
    /**
     * Ages of one step: {@code step * STEP_AGES} for what it moved, plus 1 + i for the i-th of
     * several regions it mapped at once, plus {@code NAMED_AGES} + i for the i-th it re-added in
     * place (a bridge's windows come after its BARs).
     */
    private static final int STEP_AGES = 1 << 16;
    private static final int NAMED_AGES = 64;

    /** Each region's age (when it was last (re-)added), by key. */
    private Map<String, Integer> seen = new HashMap<>();
    private int step;
    /**
     * The pairs that overlapped, both enabled, in the first text: there the importer's order was
     * checked against QEMU's flat view (step 0). Two regions that met only later, neither re-added
     * since, have an age nobody saw.
     */
    private final Set<String> overlappedFirst = new HashSet<>();
    /** The last recorded text's ages by printed line. */
    private Map<Integer, Integer> byLine = Map.of();

    /**
     * Records a step's text.
     *
     * @param doc the parsed {@code info mtree -D}
     * @param reAdded names of regions the step's writes re-add even where they do not move, oldest
     *     first (after anything the step moved)
     * @param mappedAt where the step's write mapped several regions at once, oldest first (a
     *     command write maps a function's BARs in BAR order): a region that appears or moves there
     *     (not inside another that did) is that much newer than the others of its step
     */
    void record(MtreeDocument doc, List<String> reAdded, List<Long> mappedAt) {
        Map<String, Integer> now = new HashMap<>();
        Map<Integer, Integer> lines = new HashMap<>();
        Set<String> fresh = new HashSet<>();
        forEachNode(doc, (parentKey, key, node) -> {
            Integer before = seen.get(key);
            int age = before == null ? 0 : before;
            if (step > 0 && reAdded.contains(node.name())) {
                age = step * STEP_AGES + NAMED_AGES + reAdded.lastIndexOf(node.name());
            } else if (step > 0 && before == null) { // appeared, moved or resized: a new key
                fresh.add(key);
                int order = fresh.contains(parentKey) ? -1 : mappedAt.indexOf(node.start());
                age = step * STEP_AGES + 1 + order; // order -1: the step's plain age
            }
            now.put(key, age);
            lines.put(node.line(), age);
        });
        byLine = lines;
        seen = now;
        if (step == 0) {
            forEachOverlap(doc, (key, a, b) -> overlappedFirst.add(pairKey(key, a, b)));
        }
        step++;
    }

    /**
     * The ages to import the last recorded text with ({@link MtreeImporter}'s sibling ages): by
     * printed line, so every printing of a region answers.
     *
     * @return the age of a node of the last recorded text (0 for a line it does not know)
     */
    ToLongFunction<MtreeNode> ages() {
        Map<Integer, Integer> copy = Map.copyOf(byLine);
        return n -> copy.getOrDefault(n.line(), 0);
    }

    /**
     * @param doc the text last {@linkplain #record recorded}
     * @return null if the order of every pair that matters is known (so the import, given
     *     {@link #ages()}, is QEMU's), else the first pair whose order is unknown: both (re-)added
     *     in one step, or both there from the start but first overlapping later
     */
    String unknownOrder(MtreeDocument doc) {
        List<String> problems = new ArrayList<>();
        forEachOverlap(doc, (key, a, b) -> {
            int ageA = ageOf(key, a);
            int ageB = ageOf(key, b);
            boolean known = ageA != ageB || ageA == 0 && overlappedFirst.contains(pairKey(key, a, b));
            if (!known && problems.isEmpty()) {
                problems.add(String.format("%s: %s @%x and %s @%x (age %x)", key, a.name(), a.start(), b.name(),
                        b.start(), ageA));
            }
        });
        return problems.isEmpty() ? null : problems.getFirst();
    }

    private interface PairVisitor {
        void visit(String parentKey, MtreeNode a, MtreeNode b);
    }

    /**
     * Visits every pair of siblings whose order decides what shows: both enabled, equal priority,
     * overlapping, at different addresses, and not two windows onto the same target.
     */
    private static void forEachOverlap(MtreeDocument doc, PairVisitor v) {
        forEachContainer(doc, (parentKey, key, node) -> {
            List<MtreeNode> kids = node.children();
            for (int i = 0; i < kids.size(); i++) {
                for (int j = i + 1; j < kids.size(); j++) {
                    MtreeNode a = kids.get(i);
                    MtreeNode b = kids.get(j);
                    if (!(a.hidden() || b.hidden() || a.disabled() || b.disabled() || a.priority() != b.priority()
                            || a.start() == b.start()
                            || Long.compareUnsigned(a.start(), b.end()) > 0 || Long.compareUnsigned(b.start(), a.end()) > 0
                            || sameWindow(a, b))) {
                        v.visit(key, a, b);
                    }
                }
            }
        });
    }

    private static String pairKey(String parentKey, MtreeNode a, MtreeNode b) {
        String ka = childKey(parentKey, a);
        String kb = childKey(parentKey, b);
        return ka.compareTo(kb) < 0 ? ka + " & " + kb : kb + " & " + ka;
    }

    private int ageOf(String parentKey, MtreeNode node) {
        return seen.getOrDefault(childKey(parentKey, node), 0);
    }

    /**
     * Two aliases of the same target (by name: the walk's machines have one bridge per bus, so one
     * region per name among siblings) that put each target address at the same place show the same
     * thing wherever they overlap, whichever is newer.
     */
    private static boolean sameWindow(MtreeNode a, MtreeNode b) {
        return a.isAlias() && b.isAlias() && a.alias().target().equals(b.alias().target())
                && a.start() - a.alias().targetStart() == b.start() - b.alias().targetStart();
    }

    private interface NodeVisitor {
        void visit(String parentKey, String key, MtreeNode node);
    }

    private static void forEachNode(MtreeDocument doc, NodeVisitor v) {
        walk(doc, v, false);
    }

    private static void forEachContainer(MtreeDocument doc, NodeVisitor v) {
        walk(doc, v, true);
    }

    private static void walk(MtreeDocument doc, NodeVisitor v, boolean parents) {
        Map<String, Integer> blockRanks = new HashMap<>();
        for (MtreeBlock b : doc.blocks()) {
            String name = switch (b) {
                case MtreeBlock.AddressSpaceGroup g -> "as:" + String.join(",", g.names());
                case MtreeBlock.RegionBlock r -> "mr:" + r.name();
            };
            int rank = blockRanks.merge(name, 1, Integer::sum);
            walk("", name + "#" + rank + "/" + b.root().name(), b.root(), v, parents);
        }
    }

    private static void walk(String parentKey, String key, MtreeNode node, NodeVisitor v, boolean parents) {
        if (!parents || !node.children().isEmpty()) {
            v.visit(parentKey, key, node);
        }
        for (MtreeNode c : node.children()) {
            walk(key, childKey(key, c), c, v, parents);
        }
    }

    private static String childKey(String parentKey, MtreeNode child) {
        return parentKey + "/" + child.name() + "@" + Long.toHexString(child.start()) + "-" + Long.toHexString(child.end());
    }
}
