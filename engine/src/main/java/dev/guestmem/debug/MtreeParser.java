package dev.guestmem.debug;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads {@code info mtree} text in any of the three dialects ({@link MtreeDialect}) into an
 * {@link MtreeDocument}. The dialect need not be known: the grammar is the union of the three.
 *
 * <p>Grammar, one item per line; blank lines end a block:
 * <pre>
 * address-space: NAME                       (several in a row share the tree that follows)
 * memory-region: NAME
 * [DETECTED OVERFLOW!] INDENT START-END (prio P, [nv-]TYPE): NAME[ [disabled]][ OWNER]
 *   (older QEMU: INDENT [DETECTED OVERFLOW!] START-END ...)
 * [DETECTED OVERFLOW!] INDENT START-END (prio P, [nv-]TYPE): alias NAME @TARGET TSTART-TEND[ [readonly]][ [disabled]][ OWNER]
 * </pre>
 * INDENT is two spaces per level, the root being at level 1. A line more than one level deeper than
 * its predecessor's parent chain allows is the subregion of a region plain {@code info mtree} left
 * out (disabled); such regions become hidden nodes (see {@link MtreeNode}), consecutive deeper lines
 * sharing one hidden parent. So does a line that breaks QEMU's sibling order (ascending offset, then
 * descending priority) under its apparent parent: it belongs to a left-out sibling of that parent. OWNER is the {@code -o} suffix ({@code owner:{...}}, {@code parent:{...}},
 * {@code orphan}), kept but otherwise ignored.
 *
 * <p><b>Thread safety.</b> Stateless; all methods are thread-safe.
 */
public final class MtreeParser {
    private static final String AS_HEADER = "address-space: ";
    private static final String MR_HEADER = "memory-region: ";
    private static final String OVERFLOW = "[DETECTED OVERFLOW!] ";
    private static final String DISABLED = " [disabled]";
    private static final String READONLY = " [readonly]";
    private static final Pattern LINE = Pattern.compile(
            "( *)([0-9a-fA-F]{1,16})-([0-9a-fA-F]{1,16}) \\(prio (-?[0-9]+), (nv-)?([a-z/]+)\\): (.*)");
    private static final Pattern ALIAS = Pattern.compile(
            "alias (.*?) @(.*) ([0-9a-fA-F]{1,16})-([0-9a-fA-F]{1,16})");
    private static final Pattern OWNER = Pattern.compile(
            " (?:(owner:\\{[^}]*\\}(?: parent:\\{[^}]*\\})?)|(parent:\\{[^}]*\\})|(orphan))$");

    /** Longest owner suffix looked for ({@code owner:{...} parent:{...}}; QEMU's are a few dozen characters). */
    private static final int MAX_OWNER_CHARS = 1024;
    /** Deepest tree accepted (QEMU's machines nest a few dozen levels at most); deeper text is refused. */
    static final int MAX_LEVELS = 512;

    private MtreeParser() {
    }

    /**
     * Reads a file (UTF-8).
     *
     * @param file the text file
     * @return the document
     * @throws IOException if the file cannot be read
     * @throws MtreeParseException if a line is not {@code info mtree} text
     */
    public static MtreeDocument parse(Path file) throws IOException {
        return parse(Files.readString(file, StandardCharsets.UTF_8));
    }

    /**
     * Reads text.
     *
     * @param text the whole output of one {@code info mtree} command
     * @return the document
     * @throws MtreeParseException if a line is not {@code info mtree} text
     */
    public static MtreeDocument parse(String text) {
        State st = new State();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String raw = lines[i];
            String line = raw.endsWith("\r") ? raw.substring(0, raw.length() - 1) : raw;
            st.accept(i + 1, line);
        }
        st.endBlock();
        if (st.blocks.isEmpty()) {
            throw new MtreeParseException(0, null, "no address-space or memory-region block in the text");
        }
        return new MtreeDocument(st.blocks);
    }

    /** Mutable node used while a block is read. */
    private static final class Builder {
        final int line;
        long start;
        long end;
        final int priority;
        final boolean nonvolatile;
        final MtreeType type;
        String name;
        final MtreeAlias alias;
        final boolean disabled;
        final boolean readonlyMarker;
        final int overflowMarks;
        final boolean hidden;
        final String owner;
        final List<Builder> children = new ArrayList<>();

        Builder(int line, long start, long end, int priority, boolean nonvolatile, MtreeType type, String name,
                MtreeAlias alias, boolean disabled, boolean readonlyMarker, int overflowMarks, boolean hidden,
                String owner) {
            this.line = line;
            this.start = start;
            this.end = end;
            this.priority = priority;
            this.nonvolatile = nonvolatile;
            this.type = type;
            this.name = name;
            this.alias = alias;
            this.disabled = disabled;
            this.readonlyMarker = readonlyMarker;
            this.overflowMarks = overflowMarks;
            this.hidden = hidden;
            this.owner = owner;
        }

        static Builder hidden(long start, long end) {
            return new Builder(0, start, end, 0, false, null, null, null, true, false, 0, true, "");
        }

        void add(Builder child) {
            if (hidden) {
                if (children.isEmpty()) {
                    start = child.start;
                    end = child.end;
                } else if (Long.compareUnsigned(child.end, end) > 0) {
                    end = child.end;
                }
            }
            children.add(child);
        }

        MtreeNode build() {
            List<MtreeNode> kids = new ArrayList<>(children.size());
            for (Builder c : children) {
                kids.add(c.build());
            }
            return new MtreeNode(line, start, end, priority, nonvolatile, type, name, alias, disabled,
                    readonlyMarker, overflowMarks, hidden, owner, kids);
        }
    }

    /** The reader's position: the open block and the path from its root to the last line. */
    private static final class State {
        final List<MtreeBlock> blocks = new ArrayList<>();
        final List<String> asNames = new ArrayList<>();
        String regionName;
        int headerLine;
        String headerText;
        Builder root;
        /** stack.get(k) is the node at level k + 1. */
        final List<Builder> stack = new ArrayList<>();

        boolean inBlock() {
            return !asNames.isEmpty() || regionName != null;
        }

        void accept(int no, String line) {
            if (line.isBlank()) {
                endBlock();
                return;
            }
            if (line.startsWith(AS_HEADER)) {
                if (regionName != null || root != null) {
                    endBlock();
                }
                if (asNames.isEmpty()) {
                    headerLine = no;
                    headerText = line;
                }
                asNames.add(line.substring(AS_HEADER.length()));
                return;
            }
            if (line.startsWith(MR_HEADER)) {
                endBlock();
                regionName = line.substring(MR_HEADER.length());
                headerLine = no;
                headerText = line;
                return;
            }
            treeLine(no, line);
        }

        void treeLine(int no, String line) {
            int marks = 0;
            String s = line;
            while (s.startsWith(OVERFLOW)) {
                marks++;
                s = s.substring(OVERFLOW.length());
            }
            // Older QEMU printed the marker after the indentation ("    [DETECTED OVERFLOW!] 0000...");
            // both orders give the same node.
            int indent = 0;
            while (indent < s.length() && s.charAt(indent) == ' ') {
                indent++;
            }
            String afterIndent = s.substring(indent);
            if (afterIndent.startsWith(OVERFLOW)) {
                while (afterIndent.startsWith(OVERFLOW)) {
                    marks++;
                    afterIndent = afterIndent.substring(OVERFLOW.length());
                }
                s = s.substring(0, indent) + afterIndent;
            }
            Matcher m = LINE.matcher(s);
            if (!m.matches()) {
                if (line.startsWith("FlatView #") || line.startsWith(" AS \"") || line.startsWith(" Root memory region")) {
                    throw new MtreeParseException(no, line,
                            "this is flat-view text (info mtree -f); give the tree text (info mtree [-D])");
                }
                throw new MtreeParseException(no, line,
                        "not an info mtree line (expected 'address-space: NAME', 'memory-region: NAME' or "
                                + "'START-END (prio P, TYPE): NAME')");
            }
            if (!inBlock()) {
                throw new MtreeParseException(no, line,
                        "region line outside a block (no 'address-space:' or 'memory-region:' line before it)");
            }
            int spaces = m.group(1).length();
            if (spaces < 2 || spaces % 2 != 0) {
                throw new MtreeParseException(no, line,
                        "indentation of " + spaces + " spaces; expected a positive multiple of two");
            }
            int level = spaces / 2;
            if (level > MAX_LEVELS) {
                throw new MtreeParseException(no, line.substring(0, Math.min(line.length(), 80)) + "...",
                        "indentation of " + level + " levels; at most " + MAX_LEVELS);
            }
            long start = Long.parseUnsignedLong(m.group(2), 16);
            long end = Long.parseUnsignedLong(m.group(3), 16);
            int prio;
            try {
                prio = Integer.parseInt(m.group(4));
            } catch (NumberFormatException e) {
                throw new MtreeParseException(no, line, "priority out of range");
            }
            boolean nv = m.group(5) != null;
            MtreeType type = MtreeType.fromText(m.group(6));
            if (type == null) {
                throw new MtreeParseException(no, line, "unknown region type '" + m.group(6)
                        + "' (expected ram, rom, romd, ramd, i/o or container, optionally with nv-)");
            }
            String rest = m.group(7);
            String owner = "";
            Matcher om = OWNER.matcher(rest);
            // The suffix is short; searching only the line's tail keeps a crafted line from costing
            // quadratic time in the pattern's [^}]* runs.
            om.region(Math.max(0, rest.length() - MAX_OWNER_CHARS), rest.length());
            if (om.find()) {
                owner = rest.substring(om.start() + 1);
                rest = rest.substring(0, om.start());
            }
            boolean disabled = false;
            if (rest.endsWith(DISABLED)) {
                disabled = true;
                rest = rest.substring(0, rest.length() - DISABLED.length());
            }
            MtreeAlias alias = null;
            boolean readonly = false;
            String name = rest;
            if (rest.startsWith("alias ")) {
                String a = rest;
                if (a.endsWith(READONLY)) {
                    readonly = true;
                    a = a.substring(0, a.length() - READONLY.length());
                }
                Matcher am = ALIAS.matcher(a);
                if (!am.matches()) {
                    throw new MtreeParseException(no, line,
                            "alias line without '@TARGET TSTART-TEND' (expected 'alias NAME @TARGET TSTART-TEND')");
                }
                name = am.group(1);
                alias = new MtreeAlias(am.group(2), Long.parseUnsignedLong(am.group(3), 16),
                        Long.parseUnsignedLong(am.group(4), 16));
            }
            Builder node = new Builder(no, start, end, prio, nv, type, name, alias, disabled, readonly, marks,
                    false, owner);
            place(no, line, level, node);
        }

        void place(int no, String line, int level, Builder node) {
            if (level == 1) {
                if (root != null) {
                    throw new MtreeParseException(no, line,
                            "second root in one block (a block has one level-1 line; a blank line or header is missing)");
                }
                if (regionName != null && !regionName.equals(node.name)) {
                    throw new MtreeParseException(no, line,
                            "root '" + node.name + "' does not match its header '" + headerText + "'");
                }
                root = node;
                stack.add(node);
                return;
            }
            if (root == null) {
                // Plain text left the (disabled) root out; its subregions are still printed.
                root = Builder.hidden(node.start, node.end);
                root.name = regionName;
                stack.add(root);
            }
            while (stack.size() > level - 1) {
                stack.removeLast();
            }
            while (stack.size() < level - 1) {
                Builder h = Builder.hidden(node.start, node.end);
                stack.getLast().add(h);
                stack.add(h);
            }
            if (level >= 3 && outOfOrder(stack.getLast(), node)) {
                // QEMU prints siblings by address, then priority (highest first): a line that sorts
                // before the previous child cannot be its sibling. It is the subregion of a region
                // plain text left out (disabled), a sibling of the line's apparent parent.
                stack.removeLast();
                Builder h = Builder.hidden(node.start, node.end);
                stack.getLast().add(h);
                stack.add(h);
            }
            stack.getLast().add(node);
            stack.add(node);
        }

        /**
         * Whether {@code node} cannot follow {@code parent}'s last child in {@code mtree_print_mr}'s
         * order (ascending offset in the parent, then descending priority; offsets taken from the
         * parent's start, so that a child whose printed address wrapped past 2^64 still sorts last).
         */
        static boolean outOfOrder(Builder parent, Builder node) {
            if (parent.children.isEmpty()) {
                return false;
            }
            Builder last = parent.children.getLast();
            int byOffset = Long.compareUnsigned(node.start - parent.start, last.start - parent.start);
            return byOffset < 0 || byOffset == 0 && node.priority > last.priority;
        }

        void endBlock() {
            if (!inBlock()) {
                return;
            }
            Builder r = root;
            if (r == null) {
                r = Builder.hidden(0, 0);
                r.name = regionName;
            }
            MtreeNode built = r.build();
            if (regionName != null) {
                blocks.add(new MtreeBlock.RegionBlock(regionName, built, headerLine));
            } else {
                blocks.add(new MtreeBlock.AddressSpaceGroup(asNames, built, headerLine));
            }
            asNames.clear();
            regionName = null;
            root = null;
            stack.clear();
            headerText = null;
        }
    }
}
