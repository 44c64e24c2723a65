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
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToLongFunction;

/**
 * Builds the machine of one reading of an {@code info mtree} text: stand-in regions for the
 * regions {@link PrintedRegions} found, alias targets from {@link AliasTargets}, subregions in the
 * sibling order of {@link MtreeImporter}'s "Sibling order", and the address spaces.
 *
 * <p><b>Thread safety.</b> Confined to one import; used once.
 */
final class ReadingBuilder {
    private static final MemoryRegionOps IGNORE_OPS = MemoryRegionOps.builder()
            .read((addr, size) -> 0L)
            .write((addr, data, size) -> { })
            .build();

    private final MtreeDocument doc;
    private final MtreeImporter.Rules rules;
    /** The caller's RAM blocks by region name, or null for stand-ins everywhere. */
    private final Function<String, RamBlock> supplied;
    private final ReadingChoices choices;
    /** The caller's sibling ages (larger is newer), or null: the text's order alone. */
    private final ToLongFunction<MtreeNode> siblingAge;
    private PrintedRegions regions;
    private Map<Integer, Integer> aliasTargets;
    private final Map<Integer, MemoryRegion> made = new HashMap<>();
    private final Set<Integer> making = new HashSet<>();
    private final List<MemoryRegion> regionOrder = new ArrayList<>();
    /** The stand-in blocks made here (closed with the import). */
    private final List<RamBlock> blocks = new ArrayList<>();
    private final Set<String> blockNames = new HashSet<>();
    private MemorySystem sys;
    private ContainerRegion holder;

    ReadingBuilder(MtreeDocument doc, MtreeImporter.Rules rules, Function<String, RamBlock> supplied,
            List<Integer> choices, ToLongFunction<MtreeNode> siblingAge) {
        this.doc = doc;
        this.rules = rules;
        this.supplied = supplied;
        this.choices = new ReadingChoices(choices);
        this.siblingAge = siblingAge;
    }

    /** @return the decisions this build took; valid after {@link #build} (also when it failed) */
    ReadingChoices choices() {
        return choices;
    }

    /**
     * Builds the reading's machine.
     *
     * @return the machine
     * @throws MtreeParseException if the text cannot be built this way (nothing is kept)
     */
    MtreeImport build() {
        regions = new PrintedRegions(doc);
        regions.unify(choices);
        aliasTargets = AliasTargets.resolve(regions, choices);
        sys = new MemorySystem();
        List<AddressSpace> spaces = new ArrayList<>();
        try {
            sys.transactionBegin();
            try {
                for (PrintedNode o : regions.nodes()) {
                    region(regions.find(o.id));
                }
                assemble();
                addUnseenAliases();
            } finally {
                sys.transactionCommit();
            }
            for (int p = 0; p < regions.roots().size(); p++) {
                if (doc.blocks().get(p) instanceof MtreeBlock.AddressSpaceGroup g) {
                    MemoryRegion root = made.get(regions.find(regions.roots().get(p).id));
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
     * Takes down what a failed build made: the regions made so far hold a reference on their
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

    private MemoryRegion region(int cls) {
        MemoryRegion done = made.get(cls);
        if (done != null) {
            return done;
        }
        PrintedNode o = regions.rep(cls);
        MtreeNode n = o.node;
        if (!making.add(cls)) {
            throw new MtreeParseException(n.line(), o.text(), "alias cycle through '" + n.name() + "'");
        }
        MemoryRegion r;
        long size = n.size();
        if (n.hidden()) {
            // The size of a region plain text left out is unknown: let it reach the top of the
            // address space, so any alias window onto it and any subregion fits.
            size = n.start() == 0 ? MemoryRegion.SIZE_2_64 : -n.start();
            r = new ContainerRegion(sys, null, regions.headerName(cls, MtreeImporter.HIDDEN_NAME), size);
            r.setEnabled(false);
        } else {
            try {
                r = create(cls, o, n, size);
            } catch (RuntimeException e) {
                throw new MtreeParseException(n.line(), o.text(), "cannot make this region: " + e.getMessage());
            }
            if (n.nonvolatile()) {
                r.setNonvolatile(true);
            }
            if (n.isAlias() && n.readonlyMarker() && rules == MtreeImporter.Rules.ANNOTATED) {
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

    private MemoryRegion create(int cls, PrintedNode o, MtreeNode n, long size) {
        String name = n.name();
        if (n.isAlias()) {
            MemoryRegion target = region(aliasTargets.get(cls));
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
            case IO -> rules == MtreeImporter.Rules.QEMU && !o.children.isEmpty()
                    ? new ContainerRegion(sys, null, name, size)
                    : new IoRegion(sys, null, null, name, size);
        };
    }

    private RamBlock ram(String name, long size) {
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

    private void assemble() {
        List<PrintedNode> nodes = regions.nodes();
        boolean[] placed = new boolean[nodes.size()];
        for (int cls = 0; cls < nodes.size(); cls++) {
            if (regions.find(cls) != cls) {
                continue;
            }
            PrintedNode o = regions.rep(cls);
            MemoryRegion parent = made.get(cls);
            Integer[] idx = new Integer[o.children.size()];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = i;
            }
            // Oldest first: by the caller's ages if given, then address ascending; at one address
            // the last printed is the oldest.
            Arrays.sort(idx, (x, y) -> {
                if (siblingAge != null) {
                    int a = Long.compare(siblingAge.applyAsLong(o.children.get(x).node),
                            siblingAge.applyAsLong(o.children.get(y).node));
                    if (a != 0) {
                        return a;
                    }
                }
                int c = Long.compareUnsigned(o.children.get(x).rel(), o.children.get(y).rel());
                return c != 0 ? c : Integer.compare(y, x);
            });
            for (int i : idx) {
                PrintedNode k = o.children.get(i);
                int kc = regions.find(k.id);
                if (placed[kc]) {
                    throw new MtreeParseException(k.line(), k.text(), "region printed under two different containers");
                }
                placed[kc] = true;
                map(parent, k.rel(), made.get(kc), k.node.priority(), k);
            }
        }
        for (int cls = 0; cls < nodes.size(); cls++) {
            if (regions.find(cls) != cls || placed[cls]) {
                continue;
            }
            PrintedNode o = regions.rep(cls);
            if (o.node.start() != 0 || o.node.priority() != 0) {
                if (holder == null) {
                    holder = new ContainerRegion(sys, null, MtreeImporter.HOLDER_NAME, MemoryRegion.SIZE_2_64);
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
    private void addUnseenAliases() {
        List<PrintedNode> roots = regions.roots();
        List<MemoryRegion> homes = new ArrayList<>();
        for (int p = 0; p < roots.size(); p++) {
            if (regions.isAddressSpace(p)) {
                homes.add(made.get(regions.find(roots.get(p).id)));
            }
        }
        Set<Integer> targeted = new HashSet<>(aliasTargets.values());
        for (int p = 0; p < roots.size(); p++) {
            int cls = regions.find(roots.get(p).id);
            if (regions.isAddressSpace(p) || !targeted.add(cls)) {
                continue;
            }
            MemoryRegion target = made.get(cls);
            AliasRegion a = new AliasRegion(sys, null, MtreeImporter.UNSEEN_ALIAS_NAME, target, 0, target.size());
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

    private void map(MemoryRegion parent, long offset, MemoryRegion child, int prio, PrintedNode where) {
        try {
            parent.addSubregionOverlap(offset, child, prio);
        } catch (RegionException e) {
            throw new MtreeParseException(where.line(), where.text(), "cannot map this region: " + e.getMessage());
        }
    }
}
