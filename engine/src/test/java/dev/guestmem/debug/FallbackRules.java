package dev.guestmem.debug;

import java.util.ArrayList;
import java.util.List;

/**
 * The README's fallback rules applied to an annotated document, as an independent reference for
 * what importing QEMU's own text must give: {@code i/o}/{@code container} become {@code container}
 * when subregions are printed below, else {@code i/o}; {@code [readonly]} is dropped. For plain
 * text ({@code plain = true}) a subregion counts only if plain text prints something of it (it is
 * enabled, or a subregion of it is printed), and disabled aliases, which plain text does not show,
 * are removed (they render nothing and hide nothing).
 */
final class FallbackRules {
    private FallbackRules() {
    }

    static MtreeDocument rewrite(MtreeDocument doc, boolean plain) {
        List<MtreeBlock> out = new ArrayList<>();
        for (MtreeBlock b : doc.blocks()) {
            MtreeNode r = rewrite(b.root(), plain);
            out.add(switch (b) {
                case MtreeBlock.AddressSpaceGroup g -> new MtreeBlock.AddressSpaceGroup(g.names(), r, g.line());
                case MtreeBlock.RegionBlock rb -> new MtreeBlock.RegionBlock(rb.name(), r, rb.line());
            });
        }
        return new MtreeDocument(out);
    }

    static boolean printsSomething(MtreeNode n) {
        return !n.disabled() || n.children().stream().anyMatch(FallbackRules::printsSomething);
    }

    private static MtreeNode rewrite(MtreeNode n, boolean plain) {
        List<MtreeNode> kids = new ArrayList<>();
        boolean seen = false;
        for (MtreeNode c : n.children()) {
            if (plain && c.isAlias() && c.disabled() && c.children().isEmpty()) {
                continue;
            }
            kids.add(rewrite(c, plain));
            seen |= !plain || printsSomething(c);
        }
        MtreeType t = n.type();
        if (!n.isAlias() && (t == MtreeType.IO || t == MtreeType.CONTAINER)) {
            t = seen ? MtreeType.CONTAINER : MtreeType.IO;
        }
        return new MtreeNode(n.line(), n.start(), n.end(), n.priority(), n.nonvolatile(), t, n.name(), n.alias(),
                n.disabled(), false, n.overflowMarks(), n.hidden(), n.owner(), kids);
    }
}
