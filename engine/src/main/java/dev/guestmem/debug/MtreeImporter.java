package dev.guestmem.debug;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.util.ArrayDeque;
import java.util.List;
import java.util.function.Function;
import java.util.function.ToLongFunction;

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
 * last-printed first, each added as the newest. A caller that knows the ages passes them
 * ({@link #importDocument(MtreeDocument, Rules, Function, ToLongFunction)}); this order then only
 * breaks ties.
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
        return importDocument(doc, rules, ramBlocks, null);
    }

    /**
     * Imports a text, with sibling ages the caller knows: the text does not show which of two
     * equal-priority siblings is the newer (see <a href="#age">Sibling order</a>), which decides
     * who shows where they overlap. A caller that followed the machine (a test that moved its
     * registers, a log of its topology changes) can say so.
     *
     * @param doc the parsed text
     * @param rules how to read types and markers
     * @param ramBlocks region name to block, or null for a stand-in (see
     *     {@link #importDocument(MtreeDocument, Rules, Function)})
     * @param siblingAge for a printed node, its age among its siblings (larger is newer); siblings
     *     of equal age keep the order the text implies. Called with the document's own nodes (their
     *     {@link MtreeNode#line()} says which printed line). Null: the text's order everywhere
     * @return the machine
     * @throws MtreeParseException if the text is inconsistent (an alias without a target, a cycle)
     * @throws dev.guestmem.ram.InvalidRamBlockException if a supplied block's used length differs
     *     from the region's size in the text (nothing is kept)
     */
    public static MtreeImport importDocument(MtreeDocument doc, Rules rules, Function<String, RamBlock> ramBlocks,
                                             ToLongFunction<MtreeNode> siblingAge) {
        if (ramBlocks == null) {
            return closestReading(doc, rules, siblingAge).built;
        }
        // Search with stand-ins (the caller's function is called once per region), then build
        // the chosen reading over the caller's blocks.
        Reading r = closestReading(doc, rules, siblingAge);
        r.built.close();
        return new ReadingBuilder(doc, rules, ramBlocks, r.choices, siblingAge).build();
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
    private static Reading closestReading(MtreeDocument doc, Rules rules, ToLongFunction<MtreeNode> siblingAge) {
        MtreeDialect dialect = comparisonDialect(doc);
        String want = null;
        List<Integer> choices = List.of();
        Reading first = null;
        MtreeParseException firstError = null;
        for (int attempt = 0; attempt < MAX_READINGS && choices != null; attempt++) {
            ReadingBuilder builder = new ReadingBuilder(doc, rules, null, choices, siblingAge);
            MtreeImport imp;
            try {
                imp = builder.build();
            } catch (MtreeParseException e) {
                firstError = firstError == null ? e : firstError;
                choices = builder.choices().next();
                continue;
            }
            Reading reading = new Reading(builder.choices().taken(), imp);
            choices = builder.choices().next();
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
        ArrayDeque<MtreeNode> todo = new ArrayDeque<>();
        doc.blocks().forEach(b -> todo.add(b.root()));
        while (!todo.isEmpty()) {
            MtreeNode n = todo.poll();
            hidden |= n.hidden();
            disabled |= !n.hidden() && n.disabled();
            todo.addAll(n.children());
        }
        return disabled && !hidden ? MtreeDialect.DISABLED : MtreeDialect.PLAIN;
    }
}
