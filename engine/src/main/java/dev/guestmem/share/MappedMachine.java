package dev.guestmem.share;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.debug.MtreeBlock;
import dev.guestmem.debug.MtreeDocument;
import dev.guestmem.debug.MtreeImport;
import dev.guestmem.debug.MtreeImporter;
import dev.guestmem.debug.MtreeNode;
import dev.guestmem.debug.MtreeType;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockBuilder;
import dev.guestmem.region.MemoryRegion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Another process's machine, seen from here: the layout from QEMU's {@code info mtree} text
 * (plain or annotated) and the bytes of its RAM regions mapped {@code MAP_SHARED} from their
 * files, such as a {@code memory-backend-file}'s {@code mem-path} or a
 * {@code memory-backend-memfd}'s {@code /proc/PID/fd/N}. Writes through its address spaces land in
 * the other process's RAM and the other way round.
 *
 * <p>Regions without a file are the importer's stand-ins: they give the flat view its shape (a ROM
 * hiding RAM still hides it) but their bytes are not the other process's. {@link #unreadable}
 * tells them apart so a tool never prints stand-in bytes as guest memory.
 *
 * <p><b>Thread safety.</b> Guest accesses through the address spaces may run on any thread;
 * {@link #close()} once, after they stop.
 */
public final class MappedMachine implements AutoCloseable {
    /**
     * One region's bytes.
     *
     * @param region the region's name in the text
     * @param path the file ({@code /proc/PID/fd/N} works for a memfd)
     */
    public record RamFile(String region, Path path) {
        /** Checks the values. */
        public RamFile {
            Objects.requireNonNull(region, "region");
            Objects.requireNonNull(path, "path");
        }

        /**
         * Parses {@code REGION=PATH}.
         *
         * @param spec the text
         * @return the value
         * @throws IllegalArgumentException if there is no {@code =} or a side is empty
         */
        public static RamFile parse(String spec) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new IllegalArgumentException("'" + spec + "' is not REGION=PATH");
            }
            return new RamFile(spec.substring(0, eq), Path.of(spec.substring(eq + 1)));
        }
    }

    private final MtreeImport machine;
    private final Map<String, RamBlock> blocks;
    private final Set<RamBlock> real;

    private MappedMachine(MtreeImport machine, Map<String, RamBlock> blocks) {
        this.machine = machine;
        this.blocks = Collections.unmodifiableMap(blocks);
        this.real = Collections.newSetFromMap(new IdentityHashMap<>());
        this.real.addAll(blocks.values());
    }

    /**
     * Maps the files and lays the machine out.
     *
     * @param doc the parsed {@code info mtree} text
     * @param files the regions to map; each name must be a {@code ram}, {@code rom}, {@code ramd}
     *     or {@code romd} region of the text, the file at least the region's size. A writable file
     *     is mapped shared read-write, another read-only.
     * @return the machine
     * @throws IllegalArgumentException if a name is not such a region (the message lists them),
     *     is given twice, or a file is missing or smaller than its region (an empty file too: it is
     *     never grown)
     * @throws dev.guestmem.ram.RamBackendException if mapping fails
     */
    public static MappedMachine open(MtreeDocument doc, List<RamFile> files) {
        Map<String, Long> sizes = ramRegionSizes(doc);
        Map<String, RamBlock> made = new LinkedHashMap<>();
        try {
            for (RamFile f : files) {
                Long size = sizes.get(f.region());
                if (size == null) {
                    throw new IllegalArgumentException("'" + f.region() + "' is not a RAM or ROM region of the mtree text;"
                            + " those are: " + String.join(", ", new TreeSet<>(sizes.keySet())));
                }
                if (size < 0) {
                    throw new IllegalArgumentException("the mtree text has several RAM regions named '" + f.region()
                            + "' with different sizes");
                }
                if (made.containsKey(f.region())) {
                    throw new IllegalArgumentException("region '" + f.region() + "' is given twice");
                }
                if (!Files.isReadable(f.path())) {
                    throw new IllegalArgumentException("cannot read " + f.path() + " for region '" + f.region() + "'");
                }
                checkCovers(f, size);
                RamBlockBuilder b = RamBlock.builder(f.region(), size).file(f.path(), 0);
                b = Files.isWritable(f.path()) ? b.shared(true) : b.readOnly();
                made.put(f.region(), b.build());
            }
            MtreeImport imp = MtreeImporter.importDocument(doc, MtreeImporter.Rules.detect(doc), made::get);
            return new MappedMachine(imp, made);
        } catch (RuntimeException e) {
            made.values().forEach(RamBlock::close);
            throw e;
        }
    }

    /**
     * Refuses a file smaller than its region, an empty one included: the RAM builder would grow an
     * empty file (right for a new backing file), but here the file is the other process's RAM, and
     * an empty one is a wrong path, not RAM to create.
     */
    private static void checkCovers(RamFile f, long size) {
        long have;
        try {
            have = Files.size(f.path());
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("cannot read the size of " + f.path() + " for region '" + f.region() + "': " + e, e);
        }
        if (Long.compareUnsigned(have, size) < 0) {
            throw new IllegalArgumentException(f.path() + " is 0x" + Long.toHexString(have) + " bytes but region '" + f.region()
                    + "' is 0x" + Long.toHexString(size) + " (the file is not that region's RAM)");
        }
    }

    /** Sizes of named RAM-like regions; -1 when one name has several sizes. */
    private static Map<String, Long> ramRegionSizes(MtreeDocument doc) {
        Map<String, Long> sizes = new LinkedHashMap<>();
        List<MtreeNode> todo = new ArrayList<>();
        for (MtreeBlock b : doc.blocks()) {
            todo.add(b.root());
        }
        while (!todo.isEmpty()) {
            MtreeNode n = todo.removeLast();
            todo.addAll(n.children());
            if (n.hidden() || n.isAlias()) {
                continue;
            }
            if (n.type() == MtreeType.RAM || n.type() == MtreeType.ROM || n.type() == MtreeType.RAMD
                    || n.type() == MtreeType.ROMD) {
                sizes.merge(n.name(), n.size(), (a, c) -> a.equals(c) ? a : -1L);
            }
        }
        return sizes;
    }

    /** @return the imported machine (regions, system, address spaces) */
    public MtreeImport machine() {
        return machine;
    }

    /** @return the mapped blocks by region name, in the order given */
    public Map<String, RamBlock> blocks() {
        return blocks;
    }

    /**
     * Finds an address space by name.
     *
     * @param name the name on an {@code address-space:} line
     * @return it
     * @throws IllegalArgumentException if there is none (the message lists them)
     */
    public AddressSpace addressSpace(String name) {
        for (AddressSpace as : machine.addressSpaces()) {
            if (as.name().equals(name)) {
                return as;
            }
        }
        List<String> names = machine.addressSpaces().stream().map(AddressSpace::name).toList();
        throw new IllegalArgumentException("no address space '" + name + "'; the text has: " + String.join(", ", names));
    }

    /**
     * Says whether {@code [addr, addr+len)} reads the other process's bytes.
     *
     * @param as one of this machine's address spaces
     * @param addr guest address (unsigned)
     * @param len bytes, at least 1
     * @param write whether the access writes
     * @return null when every byte is in a region mapped from a file (and, for a write, writable
     *     RAM), else why not: unassigned, MMIO, a RAM/ROM region without a file, or (for a write) ROM
     *     or a file mapped read-only
     */
    public String unreadable(AddressSpace as, long addr, long len, boolean write) {
        Translation t = new Translation();
        long done = 0;
        while (Long.compareUnsigned(done, len) < 0) {
            long a = addr + done;
            PhysSection s = as.translate(a, len - done, write, MemTxAttrs.UNSPECIFIED, t);
            MemoryRegion r = s.region();
            if (s.isUnassigned() || r == null) {
                return "nothing is mapped at 0x" + Long.toHexString(a);
            }
            RamBlock b = s.ramBlock();
            if (b == null) {
                return "0x" + Long.toHexString(a) + " is in '" + r.name() + "', which is MMIO (device registers), not RAM";
            }
            if (!real.contains(b)) {
                return "0x" + Long.toHexString(a) + " is in '" + r.name() + "', a RAM/ROM region with no file given (--ram "
                        + r.name() + "=PATH)";
            }
            if (write && b.isReadOnly()) {
                return "0x" + Long.toHexString(a) + " is in '" + r.name() + "', whose file is read-only for this process";
            }
            if (write && (s.flags() & PhysSection.DIRECT_WRITE) == 0) {
                return "0x" + Long.toHexString(a) + " is in '" + r.name() + "', which the guest cannot write (ROM)";
            }
            long plen = Math.max(1, Math.min(t.plen(), s.last() - a + 1));
            done += plen;
        }
        return null;
    }

    /**
     * A {@link MemoryDump.LineReader} over an address space of this machine: QEMU's text for
     * unassigned addresses and failed reads, a precise reason for bytes this side cannot see.
     *
     * @param as the address space
     * @return the reader
     */
    public MemoryDump.LineReader lineReader(AddressSpace as) {
        return (addr, buf, len) -> {
            String why = unreadable(as, addr, len, false);
            if (why != null) {
                return why.startsWith("nothing is mapped") ? MemoryDump.CANNOT_ACCESS : MemoryDump.CANNOT_ACCESS + " (" + why + ")";
            }
            int r = as.read(addr, MemTxAttrs.UNSPECIFIED, buf, 0, len);
            return r == MemTxResult.OK ? null : MemoryDump.CANNOT_ACCESS;
        };
    }

    /** Unmaps the files (the other process keeps its RAM) and releases the stand-ins. */
    @Override
    public void close() {
        try {
            machine.close();
        } finally {
            blocks.values().forEach(RamBlock::close);
        }
    }
}
