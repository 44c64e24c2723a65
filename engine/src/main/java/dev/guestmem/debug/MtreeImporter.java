package dev.guestmem.debug;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionException;
import dev.guestmem.region.RegionTeardown;
import dev.guestmem.region.RomDeviceRegion;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Rebuilds a {@link MemorySystem} from {@code info mtree} text: the region tree with stand-in
 * regions of the same names, sizes, priorities, aliases and flags, and the address spaces.
 * Nothing here knows a region name: every fact comes from the text and the rules below.
 *
 * <h2 id="types">Kinds</h2>
 * A printed range of one byte is read as size 1; QEMU prints size 0 the same way, so an alias
 * window of one byte that would start at its target's end is read as size 0.
 *
 * <p>{@code ram}, {@code rom} (read-only RAM) and {@code ramd} become {@link RamRegion}s over lazily
 * reserved anonymous blocks, {@code romd} a {@link RomDeviceRegion} in ROMD mode (writes ignored),
 * {@code container} a {@link ContainerRegion}, {@code i/o} an {@link IoRegion} without callbacks
 * (a reservation: it terminates). With {@link Rules#QEMU} (plain and {@code -D} text) an {@code i/o}
 * region with printed subregions (or subregions plain text shows under a left-out disabled region)
 * is a container instead, and no alias is read-only by itself; with {@link Rules#ANNOTATED}
 * {@code [readonly]} sets an alias's own read-only flag. {@code nv-} sets the non-volatile flag,
 * {@code [disabled]} clears the enabled flag. A region plain text left out (a hidden node) becomes a
 * disabled container named by its {@code memory-region:} header or {@value #HIDDEN_NAME}; its size
 * is unknown, so it reaches up to 2^64. RAM block names are made unique ({@code name#2}, ...).
 *
 * <h2 id="identity">Which printings are one region</h2>
 * A region appears once in every printing (address-space tree or {@code memory-region:} block)
 * that contains it, always with the same subtree. Each printed node gets a signature: its line's
 * facts (name, type, size, priority, flags, alias part, offset from its parent's start, or its start
 * for a printing's root) and its children's signatures in order. The roots of the printings are
 * processed from the largest subtree down; each root is made one region with a node of another
 * printing that has its signature (by default the first in text order), and their subtrees
 * pairwise, unless that node's region already is the root of another printing of the same kind
 * (two address-space groups have different roots, two {@code memory-region:} blocks are different
 * targets). Nodes that are not roots are never matched on their own: a region has one container,
 * so its printings follow from its container's.
 *
 * <h2 id="readings">Readings</h2>
 * When several regions have a root's signature (namesakes with equal lines and subtrees, such as
 * two {@code alias bank @bank} lines at the same offsets), the text alone does not say which one
 * the root prints, and the choice decides which alias may target which block (an alias cannot
 * target itself, and the k-th block must be the k-th target met). Likewise, when an assignment of
 * alias targets closes an alias cycle, one (alias, target) pair of the cycle is forbidden and the
 * assignment solved again, and which pair is a choice (by default the pair of the alias met last in
 * the walk: the assignment settles earlier aliases first). Each way of choosing is a reading. The importer builds the default reading, prints it again (in the dialect the text's
 * words show: annotated, {@code -D} or plain) and keeps it if it prints the input; otherwise it
 * tries the other readings in depth-first order of the choices, at most {@value #MAX_READINGS} in
 * all, and keeps the first that prints the input, else the first that could be built. Among
 * readings that explain the text equally well, this prefers the one whose printing is the text.
 *
 * <h2 id="aliases">Alias targets</h2>
 * QEMU queues every alias's target (disabled aliases too) and prints each distinct target once, as
 * a {@code memory-region:} block, in the order the walk first met it; the walk is the text order.
 * So {@code @NAME} names one of the blocks headed {@code NAME} whose root has the type the alias
 * line shows ({@code i/o} also matches {@code container}), that is not the alias itself and does
 * not contain it, and the k-th block is the k-th distinct target met. An assignment with that
 * property is found by dynamic programming over (alias in walk order, blocks opened so far): first
 * requiring each window to lie inside its target (the likelier reading when names repeat), then
 * without that (QEMU, and the engine, allow a window past its target's end: it renders clipped, as
 * on the i.MX6UL's {@code imx6ul.ocram_alias}). At each alias an already-opened block is reused when
 * the rest can still be assigned, else the next block is opened. With one block per name this is
 * simply the block of that name. Plain text hides disabled aliases, so an assignment may not exist:
 * then each alias takes the next block if it fits and no opened one does, else the first opened one
 * that fits; a block no printed alias names gets a disabled stand-in alias
 * ({@value #UNSEEN_ALIAS_NAME}) under the first address-space root, so that it prints again.
 *
 * <h2 id="age">Sibling order</h2>
 * Text does not show the age of equal-priority siblings. Siblings are added in the order that
 * makes the one printed first at an address the newest, and at different addresses the one at the
 * higher address the newer (the fixtures' README rule): by address ascending, at one address
 * last-printed first, each added as the newest.
 *
 * <h2 id="roots">Roots</h2>
 * A region that is in no printed container (an address-space root, an alias target reached only
 * through aliases) but is printed at a non-zero address or priority is mapped into an unnamed-in-
 * the-text holder container ({@value #HOLDER_NAME}) so that it keeps them; rendering through an
 * alias cancels the target's own address, so this changes no flat view.
 *
 * <p><b>Thread safety.</b> Stateless; each import builds its own system.
 */
public final class MtreeImporter {
    /** Name of the container that holds rootless regions printed at a non-zero address or priority. */
    public static final String HOLDER_NAME = "mtree-import-holder";
    /** Name of the disabled alias that stands for one plain text left out (see {@code memory-region:} blocks). */
    public static final String UNSEEN_ALIAS_NAME = "(disabled alias, not printed)";
    /** Name given to a region plain text left out and no header names. */
    public static final String HIDDEN_NAME = "(disabled, not printed)";

    /** Which facts the text is read for. */
    public enum Rules {
        /** The annotated dialect: types and {@code [readonly]} taken as they stand. */
        ANNOTATED,
        /** QEMU's own text: {@code i/o} with subregions is a container, no alias is read-only by itself. */
        QEMU;

        /**
         * @param doc a parsed text
         * @return {@link #ANNOTATED} when the text uses a word only that dialect has, else {@link #QEMU}
         */
        public static Rules detect(MtreeDocument doc) {
            return doc.looksAnnotated() ? ANNOTATED : QEMU;
        }
    }

    private MtreeImporter() {
    }

    /**
     * Imports a text with the rules its words call for ({@link Rules#detect}).
     *
     * @param doc the parsed text
     * @return the machine
     * @throws MtreeParseException if the text is inconsistent (an alias without a target, a cycle)
     */
    public static MtreeImport importDocument(MtreeDocument doc) {
        return importDocument(doc, Rules.detect(doc));
    }

    /**
     * Imports a text.
     *
     * @param doc the parsed text
     * @param rules how to read types and markers
     * @return the machine
     * @throws MtreeParseException if the text is inconsistent (an alias without a target, a cycle)
     */
    public static MtreeImport importDocument(MtreeDocument doc, Rules rules) {
        return importDocument(doc, rules, null);
    }

    /**
     * Imports a text over caller-supplied RAM: each {@code ram}, {@code rom}, {@code ramd} or
     * {@code romd} region whose name {@code ramBlocks} maps to a block is made over that block
     * instead of a stand-in (a machine's real guest RAM, shared with the process that printed the
     * text). Supplied blocks stay the caller's: {@link MtreeImport#close()} leaves them open. On a
     * failure the regions made so far are destroyed, so none keeps a supplied block referenced:
     * closing the block then releases it.
     *
     * @param doc the parsed text
     * @param rules how to read types and markers
     * @param ramBlocks region name to block, or null for a stand-in; called once per such region
     * @return the machine
     * @throws MtreeParseException if the text is inconsistent (an alias without a target, a cycle)
     * @throws dev.guestmem.ram.InvalidRamBlockException if a supplied block's used length differs
     *     from the region's size in the text (nothing is kept)
     */
    public static MtreeImport importDocument(MtreeDocument doc, Rules rules, Function<String, RamBlock> ramBlocks) {
        if (ramBlocks == null) {
            return closestReading(doc, rules).built;
        }
        // Search with stand-ins (the caller's function is called once per region), then build
        // the chosen reading over the caller's blocks.
        Reading r = closestReading(doc, rules);
        r.built.close();
        return new Run(doc, rules, ramBlocks, r.choices).run();
    }

    /** At most this many readings of the text are built before the first one is kept. */
    static final int MAX_READINGS = 64;

    /** A reading of the text: the namesake choices that made it and the machine built from them. */
    private record Reading(List<Integer> choices, MtreeImport built) {
    }

    /**
     * Builds readings of the text (see <a href="#readings">Readings</a>) until one prints the
     * text again.
     *
     * @return the first reading that prints the text again, else the first that could be built
     * @throws MtreeParseException the first reading's error if no reading could be built
     */
    private static Reading closestReading(MtreeDocument doc, Rules rules) {
        MtreeDialect dialect = comparisonDialect(doc);
        String want = null;
        List<Integer> choices = List.of();
        Reading first = null;
        MtreeParseException firstError = null;
        for (int attempt = 0; attempt < MAX_READINGS && choices != null; attempt++) {
            Run run = new Run(doc, rules, null, choices);
            MtreeImport imp;
            try {
                imp = run.run();
            } catch (MtreeParseException e) {
                firstError = firstError == null ? e : firstError;
                choices = run.nextChoices();
                continue;
            }
            Reading reading = new Reading(run.taken, imp);
            choices = run.nextChoices();
            if (first == null && choices == null) {
                return reading; // the only reading there is: nothing to compare
            }
            if (want == null) {
                want = MtreeWriter.write(doc, dialect);
            }
            if (want.equals(MtreeWriter.write(MtreeDumper.dump(imp.system()), dialect))) {
                if (first != null) {
                    first.built.close();
                }
                return reading;
            }
            if (first == null) {
                first = reading;
            } else {
                imp.close();
            }
        }
        if (first == null) {
            throw firstError;
        }
        return first;
    }

    /** The dialect the text was printed in, as far as its words tell: the one to compare re-printings in. */
    static MtreeDialect comparisonDialect(MtreeDocument doc) {
        if (doc.looksAnnotated()) {
            return MtreeDialect.ANNOTATED;
        }
        boolean hidden = false;
        boolean disabled = false;
        java.util.ArrayDeque<MtreeNode> todo = new java.util.ArrayDeque<>();
        doc.blocks().forEach(b -> todo.add(b.root()));
        while (!todo.isEmpty()) {
            MtreeNode n = todo.poll();
            hidden |= n.hidden();
            disabled |= !n.hidden() && n.disabled();
            todo.addAll(n.children());
        }
        return disabled && !hidden ? MtreeDialect.DISABLED : MtreeDialect.PLAIN;
    }

    /** A printed node with its place. */
    private static final class Occ {
        final int id;
        final MtreeNode node;
        final Occ parent;
        final int printing;
        final List<Occ> children = new ArrayList<>();
        int sig;

        Occ(int id, MtreeNode node, Occ parent, int printing) {
            this.id = id;
            this.node = node;
            this.parent = parent;
            this.printing = printing;
        }

        long rel() {
            return parent == null ? node.start() : node.start() - parent.node.start();
        }

        int line() {
            return node.line();
        }
    }

    /** One import. */
    private static final class Run {
        private static final MemoryRegionOps IGNORE_OPS = MemoryRegionOps.builder()
                .read((addr, size) -> 0L)
                .write((addr, data, size) -> { })
                .build();

        final MtreeDocument doc;
        final Rules rules;
        final List<Occ> occs = new ArrayList<>();
        final List<Occ> roots = new ArrayList<>();
        final Map<String, Integer> sigIds = new HashMap<>();
        int[] uf;
        boolean[] hasAsRoot;
        boolean[] hasBlockRoot;
        final Map<Integer, Integer> aliasTarget = new HashMap<>();
        /** (alias class, target class) pairs that closed an alias cycle: never chosen again. */
        final Set<Long> forbidden = new HashSet<>();
        static final int MAX_CYCLE_RETRIES = 64;
        final Map<Integer, MemoryRegion> made = new HashMap<>();
        final Map<Integer, Boolean> making = new HashMap<>();
        final List<MemoryRegion> regionOrder = new ArrayList<>();
        final List<RamBlock> blocks = new ArrayList<>();
        final Set<String> blockNames = new HashSet<>();
        MemorySystem sys;
        ContainerRegion holder;

        final Function<String, RamBlock> supplied;

        /** Which option to take at each namesake decision (missing ones: the first). */
        final List<Integer> choices;
        /** The options taken at each decision with more than one, in decision order. */
        final List<Integer> taken = new ArrayList<>();
        /** How many options each of those decisions had. */
        final List<Integer> optionCounts = new ArrayList<>();

        Run(MtreeDocument doc, Rules rules, Function<String, RamBlock> supplied, List<Integer> choices) {
            this.doc = doc;
            this.rules = rules;
            this.supplied = supplied;
            this.choices = choices;
        }

        /** Takes an option at a decision with {@code options} options, as {@link #choices} say. */
        int decide(int options) {
            if (options == 1) {
                return 0;
            }
            int i = taken.size();
            int k = i < choices.size() ? Math.min(choices.get(i), options - 1) : 0;
            taken.add(k);
            optionCounts.add(options);
            return k;
        }

        /**
         * @return the choices of the next reading in depth-first order (the last decision that has
         *     an untried option takes it; later decisions start over), or null after the last one
         */
        List<Integer> nextChoices() {
            for (int j = taken.size() - 1; j >= 0; j--) {
                if (taken.get(j) + 1 < optionCounts.get(j)) {
                    List<Integer> next = new ArrayList<>(taken.subList(0, j));
                    next.add(taken.get(j) + 1);
                    return next;
                }
            }
            return null;
        }

        MtreeImport run() {
            for (int p = 0; p < doc.blocks().size(); p++) {
                roots.add(collect(doc.blocks().get(p).root(), null, p));
            }
            uf = new int[occs.size()];
            hasAsRoot = new boolean[occs.size()];
            hasBlockRoot = new boolean[occs.size()];
            for (int i = 0; i < uf.length; i++) {
                uf[i] = i;
            }
            for (int p = 0; p < roots.size(); p++) {
                if (isAs(p)) {
                    hasAsRoot[roots.get(p).id] = true;
                } else {
                    hasBlockRoot[roots.get(p).id] = true;
                }
            }
            unifyPrintings();
            resolveAliases();
            sys = new MemorySystem();
            List<AddressSpace> spaces = new ArrayList<>();
            try {
                sys.transactionBegin();
                try {
                    for (Occ o : occs) {
                        region(find(o.id));
                    }
                    assemble();
                    addUnseenAliases();
                } finally {
                    sys.transactionCommit();
                }
                for (int p = 0; p < roots.size(); p++) {
                    if (doc.blocks().get(p) instanceof MtreeBlock.AddressSpaceGroup g) {
                        MemoryRegion root = made.get(find(roots.get(p).id));
                        for (String name : g.names()) {
                            spaces.add(sys.addressSpace(root, name));
                        }
                    }
                }
                return new MtreeImport(sys, spaces, regionOrder, blocks);
            } catch (RuntimeException | Error e) {
                discard(spaces, e);
                throw e;
            }
        }

        /**
         * Takes down what a failed run made: the regions made so far hold a reference on their
         * blocks, the caller's supplied ones too, which closing the blocks alone would leave mapped.
         */
        private void discard(List<AddressSpace> spaces, Throwable failure) {
            try {
                RegionTeardown.destroy(sys, spaces, regionOrder);
            } catch (RuntimeException e) {
                failure.addSuppressed(e);
            } finally {
                blocks.forEach(RamBlock::close);
            }
        }

        boolean isAs(int printing) {
            return doc.blocks().get(printing) instanceof MtreeBlock.AddressSpaceGroup;
        }

        Occ collect(MtreeNode n, Occ parent, int printing) {
            Occ o = new Occ(occs.size(), n, parent, printing);
            occs.add(o);
            StringBuilder key = new StringBuilder();
            for (MtreeNode c : n.children()) {
                Occ co = collect(c, o, printing);
                o.children.add(co);
            }
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
            for (Occ co : o.children) {
                key.append(',').append(co.sig);
            }
            o.sig = sigIds.computeIfAbsent(key.toString(), k -> sigIds.size());
            return o;
        }

        int find(int i) {
            while (uf[i] != i) {
                uf[i] = uf[uf[i]];
                i = uf[i];
            }
            return i;
        }

        void union(int a, int b) {
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

        void unionSubtree(Occ a, Occ b) {
            union(a.id, b.id);
            for (int i = 0; i < a.children.size(); i++) {
                unionSubtree(a.children.get(i), b.children.get(i));
            }
        }

        void unifyPrintings() {
            Map<Integer, List<Occ>> bySig = new HashMap<>();
            for (Occ o : occs) {
                bySig.computeIfAbsent(o.sig, k -> new ArrayList<>()).add(o);
            }
            List<Integer> order = new ArrayList<>();
            for (int p = 0; p < roots.size(); p++) {
                order.add(p);
            }
            order.sort(Comparator.comparingInt((Integer p) -> -roots.get(p).node.subtreeSize())
                    .thenComparingInt(p -> p));
            for (int p : order) {
                Occ r = roots.get(p);
                boolean as = isAs(p);
                List<Occ> cands = bySig.get(r.sig);
                boolean already = false;
                // One option per region (class), in text order of its first candidate printing.
                Map<Integer, Occ> options = new java.util.LinkedHashMap<>();
                for (Occ c : cands) {
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
                    unionSubtree(r, new ArrayList<>(options.values()).get(decide(options.size())));
                }
            }
        }

        /** Aliases in walk order (text order, depth first), visible ones only. */
        List<Occ> aliasWalk() {
            List<Occ> out = new ArrayList<>();
            for (Occ o : occs) {
                if (!o.node.hidden() && o.node.isAlias()) {
                    out.add(o);
                }
            }
            return out;
        }

        boolean fits(Occ alias, Occ blockRoot) {
            MtreeNode t = blockRoot.node;
            if (t.hidden()) {
                return true;
            }
            MtreeType want = alias.node.type();
            MtreeType have = t.type() == MtreeType.CONTAINER ? MtreeType.IO : t.type();
            return want == have;
        }

        boolean windowFits(Occ alias, Occ blockRoot) {
            MtreeNode t = blockRoot.node;
            if (t.hidden() || t.size() == MemoryRegion.SIZE_2_64) {
                return true;
            }
            return Long.compareUnsigned(alias.node.alias().targetEnd(), t.size() - 1) <= 0
                    && Long.compareUnsigned(alias.node.alias().targetStart(), alias.node.alias().targetEnd()) <= 0;
        }

        void resolveAliases() {
            List<Occ> blockRoots = new ArrayList<>();
            for (int p = 0; p < roots.size(); p++) {
                if (!isAs(p)) {
                    blockRoots.add(roots.get(p));
                }
            }
            // First with windows inside their targets (the engine requires it, boards nearly always
            // do it), then with the type alone (QEMU allows a window past its target's end).
            // Namesakes can make an assignment that closes an alias cycle (alias b @dev picks the alias
            // named dev, which picked b): forbid one edge of the cycle and solve again.
            // Which edge of the cycle to forbid is a reading decision (see the class doc): by
            // default the one whose alias comes last in the walk, as the assignment decides the
            // earlier aliases first and the later ones adapt to them.
            Map<Integer, Integer> before = new HashMap<>(aliasTarget);
            for (int attempt = 0; attempt < MAX_CYCLE_RETRIES; attempt++) {
                if (!resolveInQueueOrder(blockRoots, true) && !resolveInQueueOrder(blockRoots, false)) {
                    break;
                }
                List<Long> cycle = aliasCycle();
                if (cycle.isEmpty()) {
                    return;
                }
                forbidden.add(cycle.get(decide(cycle.size())));
                aliasTarget.clear();
                aliasTarget.putAll(before);
            }
            resolveGreedily(blockRoots);
        }

        /**
         * Finds a cycle in the current assignment, through alias targets and through containment (an
         * alias whose target contains an alias that leads back to it renders forever).
         *
         * @return the (alias, target) pairs on one cycle, the alias last in the walk first; empty if
         *     there is none
         */
        List<Long> aliasCycle() {
            Map<Integer, Set<Integer>> contains = new HashMap<>();
            Map<Integer, Integer> walkIndex = new HashMap<>();
            List<Occ> walk = aliasWalk();
            for (int w = 0; w < walk.size(); w++) {
                Occ o = walk.get(w);
                int a = find(o.id);
                walkIndex.putIfAbsent(a, w);
                for (Occ p = o.parent; p != null; p = p.parent) {
                    contains.computeIfAbsent(find(p.id), k -> new HashSet<>()).add(a);
                }
            }
            List<Integer> starts = new ArrayList<>(aliasTarget.keySet());
            starts.sort(null); // the map's order is not the text's: make the search repeatable
            for (int start : starts) {
                int first = aliasTarget.get(start);
                // Breadth-first from the alias's target; for each class reached, the class it was
                // reached from and the alias edge used (-1 for containment).
                Map<Integer, Integer> prev = new HashMap<>();
                Map<Integer, Long> via = new HashMap<>();
                java.util.ArrayDeque<Integer> queue = new java.util.ArrayDeque<>();
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
                    Integer t = aliasTarget.get(x);
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

        boolean compatible(Occ alias, Occ blockRoot, boolean window) {
            String bn = ((MtreeBlock.RegionBlock) doc.blocks().get(blockRoot.printing)).name();
            return bn.equals(alias.node.alias().target()) && fits(alias, blockRoot)
                    && !forbidden.contains(pair(find(alias.id), find(blockRoot.id)))
                    && (!window || windowFits(alias, blockRoot)) && find(alias.id) != find(blockRoot.id)
                    && !isAncestor(blockRoot, alias);
        }

        /** Whether {@code target}'s region contains {@code alias} (an alias to it would be a cycle). */
        boolean isAncestor(Occ target, Occ alias) {
            int t = find(target.id);
            for (Occ p = alias.parent; p != null; p = p.parent) {
                if (find(p.id) == t) {
                    return true;
                }
            }
            return false;
        }

        /**
         * Exact rule when every alias is printed (-D, annotated): the k-th block is the k-th distinct
         * target met in walk order. With {@code window}, a target must also hold the alias's window. Finds, by dynamic programming over (alias, blocks opened), an
         * assignment whose first references open the blocks in printed order; at each alias it
         * reuses an already-opened block when that still allows a complete assignment (preferring
         * one the window fits), else opens the next block. Returns false when no assignment exists
         * (plain text, whose disabled aliases are not printed, or hand-edited text).
         */
        boolean resolveInQueueOrder(List<Occ> blockRoots, boolean window) {
            List<Occ> walk = aliasWalk();
            int w0 = walk.size();
            int nb = blockRoots.size();
            boolean[] first = new boolean[w0];
            Set<Integer> seen = new HashSet<>();
            for (int w = 0; w < w0; w++) {
                first[w] = seen.add(find(walk.get(w).id));
            }
            // feasible[w][n]: aliases w.. can be assigned when blocks 0..n-1 are open.
            boolean[][] feasible = new boolean[w0 + 1][nb + 1];
            feasible[w0][nb] = true;
            for (int w = w0 - 1; w >= 0; w--) {
                Occ a = walk.get(w);
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
                Occ a = walk.get(w);
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
                aliasTarget.put(find(a.id), find(blockRoots.get(chosen).id));
            }
            return true;
        }

        /** Fallback when no exact assignment exists: per alias, by the heuristics in the class doc. */
        void resolveGreedily(List<Occ> blockRoots) {
            boolean[] opened = new boolean[blockRoots.size()];
            int next = 0;
            List<Occ> walk = aliasWalk();
            for (int w = 0; w < walk.size(); w++) {
                Occ a = walk.get(w);
                int cls = find(a.id);
                if (aliasTarget.containsKey(cls)) {
                    continue;
                }
                String target = a.node.alias().target();
                List<Integer> cands = new ArrayList<>();
                for (int b = 0; b < blockRoots.size(); b++) {
                    Occ br = blockRoots.get(b);
                    String bn = ((MtreeBlock.RegionBlock) doc.blocks().get(br.printing)).name();
                    if (bn.equals(target) && fits(a, br)) {
                        cands.add(b);
                    }
                }
                // QEMU allows a window to pass its target's end, but boards rarely do: prefer targets it fits.
                List<Integer> fitting = cands.stream().filter(b -> windowFits(a, blockRoots.get(b))).toList();
                if (!fitting.isEmpty()) {
                    cands = fitting;
                }
                int chosen;
                if (cands.isEmpty()) {
                    aliasTarget.put(cls, fallbackTarget(a));
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
                if (nextFits && (firstOpened == null || !laterReference(walk, w, blockRoots.get(next), target))) {
                    chosen = next;
                } else if (firstOpened != null) {
                    chosen = firstOpened;
                } else {
                    chosen = cands.getFirst();
                }
                chosen = acyclicChoice(cls, chosen, cands, blockRoots);
                opened[chosen] = true;
                while (next < blockRoots.size() && opened[next]) {
                    next++;
                }
                aliasTarget.put(cls, find(blockRoots.get(chosen).id));
            }
        }

        /** The preferred candidate unless it closes an alias cycle; then the first one that does not. */
        int acyclicChoice(int aliasClass, int preferred, List<Integer> cands, List<Occ> blockRoots) {
            List<Integer> order = new ArrayList<>();
            order.add(preferred);
            order.addAll(cands);
            for (int b : order) {
                aliasTarget.put(aliasClass, find(blockRoots.get(b).id));
                boolean cyclic = !aliasCycle().isEmpty();
                aliasTarget.remove(aliasClass);
                if (!cyclic) {
                    return b;
                }
            }
            return preferred;
        }

        boolean laterReference(List<Occ> walk, int w, Occ blockRoot, String target) {
            for (int i = w + 1; i < walk.size(); i++) {
                Occ a = walk.get(i);
                if (a.node.alias().target().equals(target) && fits(a, blockRoot) && windowFits(a, blockRoot)
                        && find(a.id) != find(walk.get(w).id) && !aliasTarget.containsKey(find(a.id))) {
                    return true;
                }
            }
            return false;
        }

        /** Text without the target's block (cut short, hand-written): any region of that name and type. */
        int fallbackTarget(Occ a) {
            for (Occ o : occs) {
                if (!o.node.hidden() && o.node.name().equals(a.node.alias().target()) && !o.node.isAlias()
                        && fits(a, o)) {
                    return find(o.id);
                }
            }
            throw new MtreeParseException(a.line(), aliasLine(a),
                    "alias target '" + a.node.alias().target() + "' is printed nowhere (no memory-region block)");
        }

        String aliasLine(Occ a) {
            int depth = 1;
            for (Occ p = a.parent; p != null; p = p.parent) {
                depth++;
            }
            return MtreeWriter.line(a.node, depth, MtreeDialect.ANNOTATED);
        }

        /** The class's representative: its first-printed non-hidden member, else its first member. */
        Occ rep(int cls) {
            Occ first = null;
            for (Occ o : occs) {
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

        String hiddenName(int cls) {
            for (int p = 0; p < roots.size(); p++) {
                Occ r = roots.get(p);
                if (find(r.id) == cls && r.node.name() != null) {
                    return r.node.name();
                }
            }
            return HIDDEN_NAME;
        }

        MemoryRegion region(int cls) {
            MemoryRegion done = made.get(cls);
            if (done != null) {
                return done;
            }
            Occ o = rep(cls);
            MtreeNode n = o.node;
            if (making.putIfAbsent(cls, Boolean.TRUE) != null) {
                throw new MtreeParseException(n.line(), aliasLine(o), "alias cycle through '" + n.name() + "'");
            }
            MemoryRegion r;
            long size = n.size();
            if (n.hidden()) {
                // The size of a region plain text left out is unknown: let it reach the top of the
                // address space, so any alias window onto it and any subregion fits.
                size = n.start() == 0 ? MemoryRegion.SIZE_2_64 : -n.start();
                r = new ContainerRegion(sys, null, hiddenName(cls), size);
                r.setEnabled(false);
            } else {
                try {
                    r = create(cls, o, n, size);
                } catch (RuntimeException e) {
                    throw new MtreeParseException(n.line(), aliasLine(o), "cannot make this region: " + e.getMessage());
                }
                if (n.nonvolatile()) {
                    r.setNonvolatile(true);
                }
                if (n.isAlias() && n.readonlyMarker() && rules == Rules.ANNOTATED) {
                    r.setReadonly(true);
                }
                if (n.disabled()) {
                    r.setEnabled(false);
                }
            }
            made.put(cls, r);
            regionOrder.add(r);
            return r;
        }

        MemoryRegion create(int cls, Occ o, MtreeNode n, long size) {
            String name = n.name();
            if (n.isAlias()) {
                MemoryRegion target = region(aliasTarget.get(cls));
                long windowSize = size;
                if (n.start() == n.end() && target.size() != MemoryRegion.SIZE_2_64
                        && Long.compareUnsigned(n.alias().targetStart(), target.size()) >= 0) {
                    // QEMU prints size 0 like size 1; a window starting at the target's end is empty.
                    windowSize = 0;
                }
                // A window may pass the target's end, as in QEMU: rendering clips it.
                return new AliasRegion(sys, null, name, target, n.alias().targetStart(), windowSize);
            }
            return switch (n.type()) {
                case RAM -> new RamRegion(sys, null, name, ram(name, size), false, false);
                case ROM -> new RamRegion(sys, null, name, ram(name, size), true, false);
                case RAMD -> new RamRegion(sys, null, name, ram(name, size), false, true);
                case ROMD -> new RomDeviceRegion(sys, null, IGNORE_OPS, name, ram(name, size));
                case CONTAINER -> new ContainerRegion(sys, null, name, size);
                case IO -> rules == Rules.QEMU && !o.children.isEmpty()
                        ? new ContainerRegion(sys, null, name, size)
                        : new IoRegion(sys, null, null, name, size);
            };
        }

        RamBlock ram(String name, long size) {
            RamBlock real = supplied == null ? null : supplied.apply(name);
            if (real != null) {
                if (real.usedLength() != size) {
                    throw new InvalidRamBlockException(real.idstr(), "supplied for region '" + name + "' with 0x"
                            + Long.toHexString(real.usedLength()) + " bytes; the text's region has 0x"
                            + Long.toHexString(size));
                }
                return real; // the caller's: not in blocks, so never closed here
            }
            // RAM block names are unique in a system (QEMU makes them so with the owner's path,
            // which the text does not show); region names need not be.
            String idstr = name;
            for (int k = 2; !blockNames.add(idstr); k++) {
                idstr = name + "#" + k;
            }
            RamBlock b = RamBlock.anonymous(idstr, size);
            blocks.add(b);
            return b;
        }

        void assemble() {
            boolean[] placed = new boolean[occs.size()];
            for (int cls = 0; cls < occs.size(); cls++) {
                if (find(cls) != cls) {
                    continue;
                }
                Occ o = rep(cls);
                MemoryRegion parent = made.get(cls);
                Integer[] idx = new Integer[o.children.size()];
                for (int i = 0; i < idx.length; i++) {
                    idx[i] = i;
                }
                // Oldest first: address ascending; at one address the last printed is the oldest.
                Arrays.sort(idx, (x, y) -> {
                    int c = Long.compareUnsigned(o.children.get(x).rel(), o.children.get(y).rel());
                    return c != 0 ? c : Integer.compare(y, x);
                });
                for (int i : idx) {
                    Occ k = o.children.get(i);
                    int kc = find(k.id);
                    if (placed[kc]) {
                        throw new MtreeParseException(k.line(), aliasLine(k),
                                "region printed under two different containers");
                    }
                    placed[kc] = true;
                    map(parent, k.rel(), made.get(kc), k.node.priority(), k);
                }
            }
            for (int cls = 0; cls < occs.size(); cls++) {
                if (find(cls) != cls || placed[cls]) {
                    continue;
                }
                Occ o = rep(cls);
                if (o.node.start() != 0 || o.node.priority() != 0) {
                    if (holder == null) {
                        holder = new ContainerRegion(sys, null, HOLDER_NAME, MemoryRegion.SIZE_2_64);
                    }
                    map(holder, o.node.start(), made.get(cls), o.node.priority(), o);
                }
            }
        }

        /**
         * A {@code memory-region:} block that no printed alias names was queued by an alias plain
         * text left out (a disabled one). Stand in for it with a disabled alias under the first
         * address space's root, so that the block prints again; disabled, it renders nothing.
         */
        void addUnseenAliases() {
            List<MemoryRegion> homes = new ArrayList<>();
            for (int p = 0; p < roots.size(); p++) {
                if (isAs(p)) {
                    homes.add(made.get(find(roots.get(p).id)));
                }
            }
            Set<Integer> targeted = new HashSet<>(aliasTarget.values());
            for (int p = 0; p < roots.size(); p++) {
                int cls = find(roots.get(p).id);
                if (isAs(p) || !targeted.add(cls)) {
                    continue;
                }
                MemoryRegion target = made.get(cls);
                AliasRegion a = new AliasRegion(sys, null, UNSEEN_ALIAS_NAME, target, 0, target.size());
                a.setEnabled(false);
                regionOrder.add(a);
                // The first address-space root that does not contain the target (that would be a cycle).
                for (MemoryRegion home : homes) {
                    try {
                        home.addSubregionOverlap(0, a, Integer.MIN_VALUE);
                        break;
                    } catch (RegionException e) {
                        // try the next root
                    }
                }
            }
        }

        void map(MemoryRegion parent, long offset, MemoryRegion child, int prio, Occ where) {
            try {
                parent.addSubregionOverlap(offset, child, prio);
            } catch (RegionException e) {
                throw new MtreeParseException(where.line(), aliasLine(where),
                        "cannot map this region: " + e.getMessage());
            }
        }
    }
}
