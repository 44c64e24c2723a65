package dev.guestmem.debug;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.MemoryRegion;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Walks live regions the way QEMU 7.2's {@code mtree_info_as} / {@code mtree_print_mr} do and
 * returns what they would print as an {@link MtreeDocument} (print it with {@link MtreeWriter}).
 *
 * <ul>
 * <li>Address spaces are grouped by identical root region; a group lists its address spaces'
 *     names sorted as {@code strcmp} sorts them. QEMU orders groups by hash-table iteration; here
 *     groups come in the order their first address space was created.</li>
 * <li>A region's line shows {@code base + addr} to {@code start + size - 1} (the start for size 0);
 *     {@code [DETECTED OVERFLOW!]} when either wraps.</li>
 * <li>Subregions print by address ascending, then priority descending, then list order (newest
 *     first): QEMU's insertion into its print queue is a stable sort on (address, -priority).</li>
 * <li>Every alias's target (disabled aliases included) is queued once, by identity, in walk order;
 *     after the groups each queued target prints as a {@code memory-region:} block (root at level
 *     1, base 0), and aliases met there extend the queue.</li>
 * <li>Types: {@code ramd}, {@code romd} (ROM device in ROMD mode), {@code rom} (RAM with its own
 *     read-only flag), {@code ram}, else {@code i/o}, recorded as {@code container} for a
 *     non-alias region that does not terminate. An alias shows its target's type, never
 *     {@code container}, and its own read-only flag as the annotated {@code [readonly]}.</li>
 * </ul>
 *
 * <p><b>Thread safety.</b> Reads the region tree: {@link #dump(MemorySystem)} holds the topology
 * lock while it walks; {@link #dump(List)} expects the caller to hold it (or no thread to change
 * the topology).
 */
public final class MtreeDumper {
    private static final Comparator<String> STRCMP = (a, b) ->
            Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));

    private MtreeDumper() {
    }

    /**
     * Dumps every address space of a system (QEMU's {@code info mtree}).
     *
     * @param system the system
     * @return the document QEMU would print
     */
    public static MtreeDocument dump(MemorySystem system) {
        system.lock().lock();
        try {
            return dump(system.addressSpaces());
        } finally {
            system.lock().unlock();
        }
    }

    /**
     * Dumps the trees of some address spaces and the alias targets they reach.
     *
     * @param spaces address spaces in creation order
     * @return the document QEMU would print
     */
    public static MtreeDocument dump(List<AddressSpace> spaces) {
        List<MemoryRegion> rootOrder = new ArrayList<>();
        Map<MemoryRegion, List<String>> names = new IdentityHashMap<>();
        for (AddressSpace as : spaces) {
            names.computeIfAbsent(as.root(), r -> {
                rootOrder.add(r);
                return new ArrayList<>();
            }).add(as.name());
        }
        List<MemoryRegion> queue = new ArrayList<>();
        Set<MemoryRegion> queued = Collections.newSetFromMap(new IdentityHashMap<>());
        List<MtreeBlock> blocks = new ArrayList<>();
        for (MemoryRegion root : rootOrder) {
            List<String> n = new ArrayList<>(names.get(root));
            n.sort(STRCMP);
            blocks.add(new MtreeBlock.AddressSpaceGroup(n, node(root, 0, queue, queued), 0));
        }
        for (int i = 0; i < queue.size(); i++) {
            MemoryRegion mr = queue.get(i);
            blocks.add(new MtreeBlock.RegionBlock(mr.name(), node(mr, 0, queue, queued), 0));
        }
        return new MtreeDocument(blocks);
    }

    /**
     * QEMU's {@code memory_region_type}, with {@link MtreeType#CONTAINER} for a non-alias region
     * that does not terminate.
     *
     * @param mr a region
     * @return its type
     */
    public static MtreeType type(MemoryRegion mr) {
        if (mr instanceof AliasRegion a) {
            MtreeType t = type(a.target());
            return t == MtreeType.CONTAINER ? MtreeType.IO : t;
        }
        if (mr.isRamDevice()) {
            return MtreeType.RAMD;
        }
        if (mr.isRomd()) {
            return MtreeType.ROMD;
        }
        if (mr.isRam()) {
            return mr.isReadonly() ? MtreeType.ROM : MtreeType.RAM;
        }
        return mr.terminates() ? MtreeType.IO : MtreeType.CONTAINER;
    }

    /**
     * QEMU's {@code MR_SIZE}: size minus one, 0 for size 0.
     *
     * @param size a size, {@code -1L} for 2^64
     * @return what QEMU adds to a start to print the end
     */
    static long lastOffset(long size) {
        return size == -1L ? -1L : size == 0 ? 0 : size - 1;
    }

    private static MtreeNode node(MemoryRegion mr, long base, List<MemoryRegion> queue, Set<MemoryRegion> queued) {
        long start = base + mr.addr();
        long end = start + lastOffset(mr.size());
        int overflow = Long.compareUnsigned(start, base) < 0 || Long.compareUnsigned(end, start) < 0 ? 1 : 0;
        MtreeAlias alias = null;
        if (mr instanceof AliasRegion a) {
            if (queued.add(a.target())) {
                queue.add(a.target());
            }
            alias = new MtreeAlias(a.target().name(), a.aliasOffset(), a.aliasOffset() + lastOffset(mr.size()));
        }
        List<MemoryRegion> subs = new ArrayList<>(mr.subregions());
        // List.sort is stable: equal (address, priority) keep list order, newest first.
        subs.sort((x, y) -> {
            int c = Long.compareUnsigned(x.addr(), y.addr());
            return c != 0 ? c : Integer.compare(y.priority(), x.priority());
        });
        List<MtreeNode> kids = new ArrayList<>(subs.size());
        for (MemoryRegion s : subs) {
            kids.add(node(s, start, queue, queued));
        }
        return new MtreeNode(0, start, end, mr.priority(), mr.isNonvolatile(), type(mr), mr.name(), alias,
                !mr.isEnabled(), alias != null && mr.isReadonly(), overflow, false, "", kids);
    }
}
