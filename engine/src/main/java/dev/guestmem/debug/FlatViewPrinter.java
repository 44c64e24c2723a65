package dev.guestmem.debug;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prints address spaces' current flat views as QEMU 7.2's {@code info mtree -f} does.
 *
 * <p>Address spaces are grouped by the {@link FlatView} instance they publish (shared views print
 * once), views numbered from 0 in the order their first address space was created (QEMU: hash
 * order), address spaces of one view in creation order. Per view:
 * <pre>
 * FlatView #N
 *  AS "NAME", root: ROOT[, alias TARGET]
 *  Root memory region: VIEWROOT | (none)
 *   No rendered FlatView                                   (when it has no range)
 *   START-LAST (prio P, [nv-]TYPE): REGION[ @OFFSET]        (one per range)
 * </pre>
 * followed by a blank line. P is the range's terminal region's own priority, TYPE is {@code rom}
 * when the range is read-only, else the region's type, and {@code @OFFSET} shows a non-zero offset
 * into the region.
 *
 * <p><b>Thread safety.</b> Reads published views (safe from any thread) and region names,
 * priorities and types: {@link #print(MemorySystem)} holds the topology lock for that.
 */
public final class FlatViewPrinter {
    private FlatViewPrinter() {
    }

    /**
     * Prints the views of every address space of a system (QEMU's {@code info mtree -f}).
     *
     * @param system the system
     * @return the text
     */
    public static String print(MemorySystem system) {
        system.lock().lock();
        try {
            return print(system.addressSpaces());
        } finally {
            system.lock().unlock();
        }
    }

    /**
     * Prints the views of some address spaces.
     *
     * @param spaces address spaces in creation order
     * @return the text
     */
    public static String print(List<AddressSpace> spaces) {
        List<FlatView> order = new ArrayList<>();
        Map<FlatView, List<AddressSpace>> byView = new IdentityHashMap<>();
        for (AddressSpace as : spaces) {
            byView.computeIfAbsent(as.currentMap(), v -> {
                order.add(v);
                return new ArrayList<>();
            }).add(as);
        }
        StringBuilder sb = new StringBuilder();
        int n = 0;
        for (FlatView v : order) {
            sb.append("FlatView #").append(n++).append('\n');
            for (AddressSpace as : byView.get(v)) {
                sb.append(" AS \"").append(as.name()).append("\", root: ").append(as.root().name());
                if (as.root() instanceof AliasRegion a) {
                    sb.append(", alias ").append(a.target().name());
                }
                sb.append('\n');
            }
            sb.append(" Root memory region: ").append(v.root() == null ? "(none)" : v.root().name()).append('\n');
            if (v.rangeCount() == 0) {
                sb.append("  No rendered FlatView\n\n");
                continue;
            }
            for (int i = 0; i < v.rangeCount(); i++) {
                range(sb, v.range(i));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void range(StringBuilder sb, FlatRange r) {
        MemoryRegion mr = r.region();
        sb.append("  ").append(MtreeWriter.hex(r.start())).append('-').append(MtreeWriter.hex(r.last()))
                .append(" (prio ").append(mr.priority()).append(", ");
        if (r.nonvolatile()) {
            sb.append("nv-");
        }
        sb.append(r.readonly() ? "rom" : MtreeDumper.type(mr).qemuText()).append("): ").append(mr.name());
        if (r.offsetInRegion() != 0) {
            sb.append(" @").append(MtreeWriter.hex(r.offsetInRegion()));
        }
        sb.append('\n');
    }
}
