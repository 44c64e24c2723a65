package dev.guestmem.fuzz;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The machine the fuzzer drives: containers, RAM (one resizeable), ROM, a ROM device, two I/O
 * regions, aliases (one of an alias), an IOMMU region (each page to the same address of the second
 * space), two address spaces and a recording listener
 * of every space; plus a second machine whose regions the fuzzer tries to bring in. It holds the
 * handles the fuzzer's selectors index and the {@link RamModel}; {@link FuzzStep} runs the calls.
 * It keeps one or two vCPU TLBs for its whole life ({@link VcpuCheck}), and a code-invalidation
 * hook as a JIT registers one ({@link DirtyModel}); the TCG-like variant runs with the CODE dirty
 * client on for RAM ({@code new MemorySystem(true)}), as QEMU's TCG does.
 *
 * <p>I/O regions and the ROM device's ops read {@value #DEVICE_BYTE} in every byte and ignore
 * writes, so any splitting of an access reads the same bytes.
 */
final class FuzzMachine implements AutoCloseable {
    /** What every byte of a device reads. */
    static final int DEVICE_BYTE = 0x5a;
    /** Most regions the machine holds, the fixed ones and those the fuzzer makes. */
    static final int MAX_REGIONS = 30;
    /** The IOMMU's page mask. */
    static final long PAGE_MASK = 0xfff;
    /** Most address spaces it makes. */
    static final int MAX_SPACES = 5;

    final MemorySystem sys;
    /** Another machine: its regions may not enter this one's tree. */
    final MemorySystem other = new MemorySystem();
    /** Every region of this machine the fuzzer holds, fixed ones first. */
    final List<MemoryRegion> regions = new ArrayList<>();
    /** The other machine's regions. */
    final List<MemoryRegion> foreign = new ArrayList<>();
    /** Every address space made, destroyed ones kept (their handles must answer decode errors). */
    final List<AddressSpace> spaces = new ArrayList<>();
    final EventLog log = new EventLog();
    final List<EventLog.Recorder> listeners = List.of(log.recorder("all"), log.recorder("one"));
    final EventNotifier[] notifiers = {EventNotifier.create(), EventNotifier.create()};
    final RamModel ram = new RamModel();
    /** The resizeable block, built here: the machine does not close it. */
    private final RamBlock hotBlock = RamBlock.builder("hotram", 0x2000).resizeable(0x8000, null).build();
    /** What the fuzzer did, for failure messages. */
    final List<String> history = new ArrayList<>();
    /** What the dirty bitmaps must say. */
    final DirtyModel dirty = new DirtyModel();
    /** Soft-TLB entries the fuzzer filled and keeps, oldest first. */
    final List<TlbCheck.Kept> tlbs = new ArrayList<>();
    /** The caches the fuzzer inits, uses and destroys, with what each holds. */
    final CacheCheck.Kept[] caches = {new CacheCheck.Kept(), new CacheCheck.Kept(), new CacheCheck.Kept()};
    /** DMA mappings the fuzzer made, unmapped ones kept (a second unmap must be refused). */
    final List<DmaCheck.Kept> mappings = new ArrayList<>();
    /** Map clients registered, per space index: how often each ran. */
    final List<DmaCheck.Client> mapClients = new ArrayList<>();
    /** Guest pages a JIT translated code from ({@link FuzzOp.Translate}), newest last. */
    final List<Long> codePages = new ArrayList<>();
    /** Where accesses near code land in a page: its start, inside, and where wide ones cross. */
    private static final long[] NEAR_CODE = {0, 4, 0x10, 0x800, 0xff8, 0xffc, 0xfff};
    /** The vCPUs' TLBs, kept from construction to {@link #close()}. */
    final List<VcpuCheck.Vcpu> vcpus = new ArrayList<>();

    /**
     * @param tcg whether the CODE dirty client is on for RAM (QEMU's {@code tcg_enabled()})
     * @param twoVcpus whether a second vCPU runs in the second space (as x86's SMM world), beside
     *     the first in "memory"
     */
    FuzzMachine(boolean tcg, boolean twoVcpus) {
        sys = new MemorySystem(tcg);
        // as a JIT does (the guide's CODE section): drop translations, unprotect pages left without
        sys.dirtyMemory().setCodeInvalidator((ramAddr, length) ->
                dirty.codeInvalidated(sys.dirtyMemory(), sys.ramList(), blocks(), ramAddr, length));
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        ContainerRegion pci = new ContainerRegion(sys, null, "pci", 0x100000);
        ContainerRegion bus = new ContainerRegion(sys, null, "bus", 0x10000);
        RamRegion main = RamRegion.allocate(sys, null, "ram", 0x4000);
        RamRegion hot = new RamRegion(sys, null, "hotram", hotBlock, false, false);
        RamRegion bios = RamRegion.allocateRom(sys, null, "bios", 0x2000);
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, "flash-dev", deviceOps(), "flash", 0x2000);
        IoRegion mmio = new IoRegion(sys, "dev0", deviceOps(), "mmio", 0x1000);
        IoRegion mmio2 = new IoRegion(sys, "dev1", deviceOps(), "mmio2", 0x100);
        AliasRegion low = new AliasRegion(sys, null, "ram-low", main, 0x1000, 0x2000);
        AliasRegion lowAlias = new AliasRegion(sys, null, "ram-low-alias", low, 0x800, 0x1000);
        AliasRegion pciWindow = new AliasRegion(sys, null, "pci-window", pci, 0, 0x10000);
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x10000, this::translate);
        ContainerRegion smm = new ContainerRegion(sys, null, "smm", MemoryRegion.SIZE_2_64);
        AliasRegion smmSystem = new AliasRegion(sys, null, "smm-system", system, 0, MemoryRegion.SIZE_2_64);
        regions.addAll(List.of(system, pci, bus, main, hot, bios, flash, mmio, mmio2, low, lowAlias, pciWindow,
                iommu, smm, smmSystem));
        for (MemoryRegion mr : regions) {
            if (mr.ramBlock() != null) {
                fill(mr.ramBlock(), mr.name().length());
                ram.track(mr.ramBlock());
            }
        }
        system.addSubregion(0, main);
        system.addSubregion(0x10000, hot);
        system.addSubregion(0x20000, bios);
        system.addSubregion(0x30000, flash);
        system.addSubregion(0x40000, mmio);
        system.addSubregion(0x50000, low);
        system.addSubregion(0x60000, lowAlias);
        system.addSubregion(0x70000, pciWindow);
        system.addSubregion(0x100000, pci);
        pci.addSubregion(0x1000, bus);
        bus.addSubregion(0, mmio2);
        pci.addSubregion(0x80000, iommu);
        smm.addSubregion(0, smmSystem);
        ContainerRegion foreignRoot = new ContainerRegion(other, null, "foreign", 0x10000);
        RamRegion foreignRam = RamRegion.allocate(other, null, "foreign-ram", 0x1000);
        foreignRoot.addSubregion(0, foreignRam);
        foreign.addAll(List.of(foreignRoot, foreignRam));
        spaces.add(sys.addressSpace(system, "memory"));
        spaces.add(sys.addressSpace(smm, "smm"));
        other.addressSpace(foreignRoot, "foreign");
        sys.registerListener(listeners.getFirst(), null);
        vcpus.add(new VcpuCheck.Vcpu("vcpu0", spaces.get(0)));
        if (twoVcpus) {
            vcpus.add(new VcpuCheck.Vcpu("vcpu1", spaces.get(1)));
        }
    }

    /** The default machine: no TCG, one vCPU. */
    FuzzMachine() {
        this(false, false);
    }

    /** The IOMMU's model: each 4 KiB page to the same address of {@link #iommuTarget()}, read and write. */
    private void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
        out.targetAs = iommuTarget();
        out.iova = addr & ~PAGE_MASK;
        out.translatedAddr = addr & ~PAGE_MASK;
        out.addrMask = PAGE_MASK;
        out.perm = IommuTlbEntry.RW;
    }

    /** @return where the IOMMU translates to: the second space, "smm" (once destroyed, its empty view) */
    AddressSpace iommuTarget() {
        return spaces.get(1);
    }

    private static void fill(RamBlock block, int seed) {
        for (long i = 0; i < block.usedLength(); i++) {
            block.segment().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + seed));
        }
    }

    /** Ops whose every byte reads {@link #DEVICE_BYTE} and which take any write. */
    static MemoryRegionOps deviceOps() {
        return MemoryRegionOps.builder()
                .read((addr, size) -> size == 8 ? 0x5a5a5a5a5a5a5a5aL : 0x5a5a5a5a5a5a5a5aL & ((1L << (8 * size)) - 1))
                .write((addr, data, size) -> { })
                .valid(1, 8, true)
                .impl(1, 8, true)
                .endianness(Endianness.LITTLE)
                .build();
    }

    /**
     * Steers two accesses in seven to a page a JIT translated code from (so that stores meet code
     * pages through every path).
     *
     * @param point the op's point selector
     * @param delta the op's delta selector
     * @param otherwise the address the op picks else
     * @return the address
     */
    long nearCode(int point, int delta, long otherwise) {
        if (point % 7 < 5 || codePages.isEmpty()) {
            return otherwise;
        }
        return codePages.get((point / 7) % codePages.size()) + NEAR_CODE[delta % NEAR_CODE.length];
    }

    /**
     * @param sel a selector
     * @return the address space it picks (destroyed ones too)
     */
    AddressSpace space(int sel) {
        return spaces.get(sel % spaces.size());
    }

    /**
     * @param block a RAM block of this machine
     * @return the region it backs (RAM, ROM or ROM device; not an alias), or null
     */
    MemoryRegion regionOf(RamBlock block) {
        for (MemoryRegion r : regions) {
            if ((r instanceof RamRegion || r instanceof RomDeviceRegion) && r.ramBlock() == block) {
                return r;
            }
        }
        return null;
    }

    /** @return every RAM block the machine made (the models track them) */
    List<RamBlock> blocks() {
        return regions.stream().filter(r -> r instanceof RamRegion || r instanceof RomDeviceRegion)
                .map(MemoryRegion::ramBlock).toList();
    }

    /**
     * A byte the model expects a write through an address space (or an unmap, or a cache that
     * logs at once) to have stored: in the RAM model, and dirty for the clients its region logs now.
     *
     * @param block the block
     * @param offset the byte's offset
     * @param value the byte
     */
    void wrote(RamBlock block, long offset, byte value) {
        ram.set(block, offset, value);
        dirty.wrote(block, offset, 1, logMask(block));
    }

    /**
     * @param block a block of this machine
     * @return the clients a write to it logs now: its region's mask, or none when the block has no
     *     region or is out of this machine's list (close() took it: no ram_addr here)
     */
    int logMask(RamBlock block) {
        MemoryRegion r = regionOf(block);
        return r == null || block.ramList() != sys.ramList() ? 0 : r.dirtyLogMask();
    }

    /**
     * A byte stored around the logging (a direct DMA or write-cache pointer): in the RAM model only,
     * until an unmap or invalidate logs it.
     *
     * @param block the block
     * @param offset the byte's offset
     * @param value the byte
     */
    void wroteUnlogged(RamBlock block, long offset, byte value) {
        ram.set(block, offset, value);
        dirty.wrote(block, offset, 1, 0);
    }

    /**
     * @param sel a selector
     * @return the region it picks, of this machine
     */
    MemoryRegion region(int sel) {
        return regions.get(sel % regions.size());
    }

    /**
     * @param sel a selector
     * @return the region it picks among this machine's and (one in eight) the other machine's
     */
    MemoryRegion anyRegion(int sel) {
        return sel % 8 == 7 ? foreign.get((sel / 8) % foreign.size()) : region(sel);
    }

    /**
     * @param sel a selector
     * @return with an even selector, a region of this machine without a container if there is one
     *     (else, and with an odd one, {@link #anyRegion})
     */
    MemoryRegion addable(int sel) {
        if (sel % 2 == 0) {
            List<MemoryRegion> free = regions.stream().filter(r -> r.container() == null).toList();
            if (!free.isEmpty()) {
                return free.get((sel / 2) % free.size());
            }
        }
        return anyRegion(sel / 2);
    }

    /**
     * Unmaps what the machines hold: closes both systems (committing open transactions first), then
     * unmaps the DMA mappings and destroys the caches still held (which the guide lets outlive the
     * machine), and closes our block.
     */
    @Override
    public void close() {
        try {
            while (sys.transactionDepth() > 0) {
                sys.transactionCommit();
            }
            sys.close();
            other.close();
            for (DmaCheck.Kept k : mappings) {
                if (!k.unmapped) {
                    k.unmapped = true;
                    k.map.unmap(k.map.length());
                }
            }
            for (CacheCheck.Kept c : caches) {
                c.cache.destroy();
            }
            // the vCPUs outlive the machine: what their entries may hit is still mapped, and their
            // own close (after the machine's) lets it go
            for (VcpuCheck.Vcpu v : vcpus) {
                for (RamBlock b : v.mayHold()) {
                    if (b.isReleased()) {
                        throw new AssertionError("after close, block '" + b.idstr() + "' is released while "
                                + v.name + "'s TLB may still hit it (" + String.join(", ", history) + ")");
                    }
                }
                v.closed = true;
                v.tlb.close();
                if (v.tlb.heldBlocks() != 0) {
                    throw new AssertionError(v.name + " holds blocks after its close");
                }
            }
            // nothing holds them now: every block the machine allocated is unmapped (not ours)
            for (RamBlock b : ram.blocks()) {
                if (b != hotBlock && !b.isReleased()) {
                    throw new AssertionError("after close and every mapping and cache let go, block '" + b.idstr()
                            + "' is still mapped (" + String.join(", ", history) + ")");
                }
            }
        } finally {
            for (VcpuCheck.Vcpu v : vcpus) {
                if (!v.closed) {
                    v.closed = true;
                    v.tlb.close();
                }
            }
            hotBlock.close();
            for (EventNotifier n : notifiers) {
                n.close();
            }
        }
    }
}
