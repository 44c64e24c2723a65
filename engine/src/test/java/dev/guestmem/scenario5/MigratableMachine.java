package dev.guestmem.scenario5;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionTeardown;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One machine's memory as a migration sees it: the same layout is built on both sides, so blocks
 * pair up by name (QEMU's idstr).
 */
record MigratableMachine(MemorySystem sys, ContainerRegion root, AddressSpace as, RamRegion big,
        RamRegion small, RamRegion hot, RamRegion bios, RamRegion vram) {
    static final long KIB = 1024;
    static final long MIB = 1024 * KIB;
    static final long BIG_BASE = 0;
    static final long BIG_SIZE = 8 * MIB;
    static final long SMALL_BASE = 0x1000_0000L;
    static final long SMALL_SIZE = 64 * KIB;
    static final long HOT_BASE = 0x2000_0000L;
    static final long HOT_SIZE = 256 * KIB;
    static final long HOT_MAX = MIB;
    static final long VRAM_BASE = 0x3000_0000L;
    static final long VRAM_SIZE = 256 * KIB;
    static final long BIOS_BASE = 0xffff_0000L;
    static final long BIOS_SIZE = 64 * KIB;
    static final long DEVICE_BASE = 0xfe00_0000L;

    /** Builds the layout; {@code tcg} turns on the CODE client, as a translating emulator does. */
    static MigratableMachine build(boolean tcg) {
        MemorySystem sys = new MemorySystem(tcg);
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion big = RamRegion.allocate(sys, null, "ram-big", BIG_SIZE);
        RamRegion small = RamRegion.allocate(sys, null, "ram-small", SMALL_SIZE);
        RamBlock hotBlock = RamBlock.builder("ram-hot", HOT_SIZE).resizeable(HOT_MAX, (id, size, host) -> { })
                .build();
        RamRegion hot = new RamRegion(sys, null, "ram-hot", hotBlock, false, false);
        hotBlock.close(); // the region holds its own reference
        RamRegion bios = RamRegion.allocateRom(sys, null, "bios", BIOS_SIZE);
        RamRegion vram = RamRegion.allocate(sys, null, "vram", VRAM_SIZE);
        root.addSubregion(BIG_BASE, big);
        root.addSubregion(SMALL_BASE, small);
        root.addSubregion(HOT_BASE, hot);
        root.addSubregion(VRAM_BASE, vram);
        root.addSubregion(BIOS_BASE, bios);
        AddressSpace as = sys.addressSpace(root, "memory");
        return new MigratableMachine(sys, root, as, big, small, hot, bios, vram);
    }

    /** Fills the ROM with a recognisable image (as firmware loading does before the guest runs). */
    void loadBios(long seed) {
        MemorySegment rom = bios.ramBlock().segment();
        for (long off = 0; off < BIOS_SIZE; off += 8) {
            rom.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off, seed * 31 + off);
        }
    }

    /** The machine's RAM region for a block name. */
    RamRegion region(String idstr) {
        for (RamRegion r : new RamRegion[] {big, small, hot, bios, vram}) {
            if (r.ramBlock().idstr().equals(idstr)) {
                return r;
            }
        }
        throw new IllegalArgumentException("no block " + idstr);
    }

    /** Tears the machine down (regions out of the map, blocks released). */
    void destroy() {
        RegionTeardown.destroy(sys, List.of(as), List.of(root, big, small, hot, bios, vram));
    }
}
