package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QEMU's {@code memory_region_from_host}: {@code qemu_ram_block_from_host(ptr, false, &offset)}
 * (any address below the block's {@code max_length}, offset not rounded), then {@code block->mr}.
 */
class RegionFromHostTest {
    private final MemorySystem sys = new MemorySystem();

    @TempDir
    Path dir;

    private void assertFound(MemoryRegion region, long offset, long host) {
        HostRegionLocation loc = sys.regionFromHost(host);
        assertNotNull(loc, "0x" + Long.toHexString(host) + " should resolve to " + region.name());
        assertSame(region, loc.region());
        assertEquals(offset, loc.offset());
        assertSame(region, sys.regionAtHost(host), "the allocation-free form agrees");
    }

    private void assertNotFound(long host) {
        assertNull(sys.regionFromHost(host));
        assertNull(sys.regionAtHost(host));
    }

    @Test
    void findsTheRegionAndTheUnroundedOffset() {
        RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", 0x10000);
        long base = ram.ramBlock().hostAddress();
        assertFound(ram, 0, base);
        assertFound(ram, 0x5123, base + 0x5123);
        assertFound(ram, 0xFFFF, base + 0xFFFF);
        assertNotFound(base + 0x10000);
        assertNotFound(base - 1);
        try (Arena arena = Arena.ofConfined()) {
            assertNotFound(arena.allocate(64).address());
        }
        assertEquals(new HostRegionLocation(ram, 0x40), sys.regionFromHost(ram.ramSegment().asSlice(0x40)));
        assertThrows(IllegalArgumentException.class, () -> sys.regionFromHost(MemorySegment.ofArray(new byte[8])));
    }

    /** A null segment is refused with a message that names it, not a bare NullPointerException. */
    @Test
    void aNullSegmentIsRefusedWithAMessage() {
        NullPointerException e = assertThrows(NullPointerException.class, () -> sys.regionFromHost((MemorySegment) null));
        assertTrue(e.getMessage().startsWith("host"), "the JDK's helpful message, not ours: " + e.getMessage());
    }

    @Test
    void everyRamKindIsFound() {
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, d, s) -> { }).build();
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, ops, "flash", 0x4000);
        RamRegion rom = RamRegion.allocateRom(sys, null, "bios", 0x4000);
        try (Arena arena = Arena.ofShared()) {
            RamBlock bar = RamBlock.builder("bar", 0x1000).ramDevice(arena.allocate(0x1000, 0x1000)).build();
            RamRegion device = new RamRegion(sys, null, "bar", bar, false, true);
            bar.close();
            assertFound(device, 0x10, bar.hostAddress() + 0x10);
            device.destroy();
        }
        assertFound(flash, 0x100, flash.ramBlock().hostAddress() + 0x100);
        assertFound(rom, 0x200, rom.ramBlock().hostAddress() + 0x200);
    }

    @Test
    void anotherSystemsBlockIsNotFound() {
        MemorySystem other = new MemorySystem();
        RamRegion theirs = RamRegion.allocate(other, null, "theirs", 0x1000);
        assertNotFound(theirs.ramBlock().hostAddress());
        assertSame(theirs, other.regionAtHost(theirs.ramBlock().hostAddress()));
    }

    /** The lookup is bounded by max_length, not by the used length, in both directions of a resize. */
    @Test
    void followsResizesUpToTheReservation() {
        RamBlock vram = RamBlock.builder("vga.vram", 0x1000).resizeable(0x10000, null).build();
        RamRegion region = new RamRegion(sys, null, "vga.vram", vram, false, false);
        vram.close();
        long base = vram.hostAddress();
        assertFound(region, 0x8000, base + 0x8000);
        region.ramResize(0xC000);
        assertFound(region, 0x8000, base + 0x8000);
        region.ramResize(0x2000);
        assertFound(region, 0x8000, base + 0x8000);
        assertNotFound(base + vram.maxLength());
    }

    /** memory_region_from_host is answered until the region is finalized, as QEMU's block->mr. */
    @Test
    void anUnpluggedRegionIsFoundUntilItIsFinalized() {
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        sys.addressSpace(root, "memory");
        RamRegion dimm = RamRegion.allocate(sys, null, "dimm0", 0x4000);
        root.addSubregion(0x100000, dimm);
        long host = dimm.ramBlock().hostAddress() + 0x10;
        assertFound(dimm, 0x10, host);

        dimm.ref(); // a device still holds it (memory_region_ref)
        root.delSubregion(dimm);
        dimm.destroy();
        assertFound(dimm, 0x10, host);
        dimm.unref(); // finalized: the block goes with it
        assertTrue(dimm.ramBlock().isReleased());
        assertNotFound(host);
    }

    @Test
    void aBlockWhoseRegionIsGoneBacksNoRegionUntilANewOneIsMadeOverIt() {
        RamBlock block = RamBlock.anonymous("mem", 0x2000);
        RamRegion first = new RamRegion(sys, null, "first", block, false, false);
        first.destroy();
        long host = block.hostAddress() + 0x1000;
        assertSame(sys.ramList(), block.ramList(), "the creator still holds the block: it stays in the list");
        assertNotFound(host);
        RamRegion second = new RamRegion(sys, null, "second", block, false, false);
        assertFound(second, 0x1000, host);
        second.destroy();
        block.close();
        assertNotFound(host);
    }

    @Test
    void regionsSharingABlockAnswerTheOldestAlive() {
        RamBlock block = RamBlock.anonymous("shared", 0x1000);
        RamRegion a = new RamRegion(sys, null, "a", block, false, false);
        RamRegion b = new RamRegion(sys, null, "b", block, true, false);
        block.close();
        assertFound(a, 0, block.hostAddress());
        a.destroy();
        assertFound(b, 0, block.hostAddress());
    }

    /** Two mappings of one memfd (a peer's view, SharedMachine's attach): each address is its own block's. */
    @Test
    void twoMappingsOfOneMemfdResolveToTheirOwnRegions() {
        RamBlock owner = RamBlock.builder("mem0", 0x4000).memfd().build();
        RamRegion mine = new RamRegion(sys, null, "mem0", owner, false, false);
        RamBlock peer = RamBlock.builder("mem0.peer", 0x4000).fd(owner.fd(), 0).build();
        RamRegion theirs = new RamRegion(sys, null, "mem0.peer", peer, false, false);
        owner.close();
        peer.close();
        mine.ramSegment().set(ValueLayout.JAVA_INT, 0x100, 0xCAFE);
        assertEquals(0xCAFE, theirs.ramSegment().get(ValueLayout.JAVA_INT, 0x100), "one memory, two mappings");
        assertFound(mine, 0x100, mine.ramBlock().hostAddress() + 0x100);
        assertFound(theirs, 0x100, theirs.ramBlock().hostAddress() + 0x100);
    }

    @Test
    void aFileBackedBlockIsFound() {
        RamBlock file = RamBlock.builder("nvdimm0", 0x3000).file(dir.resolve("nvdimm0")).shared(true).build();
        RamRegion nvdimm = new RamRegion(sys, null, "nvdimm0", file, false, false);
        file.close();
        assertFound(nvdimm, 0x2FFF, file.hostAddress() + 0x2FFF);
        nvdimm.destroy();
        assertNotFound(file.hostAddress() + 0x2FFF);
    }

    /** Memory hotplug with shared memfd blocks: a plugged DIMM resolves, an unplugged one no longer. */
    @Test
    void aSharedMachinesPluggedDimmResolvesUntilUnplugged() {
        SharedRamRegion ram0 = new SharedRamRegion("ram0", 0, 1L << 20);
        SharedRamRegion dimm0 = new SharedRamRegion("dimm0", 0x100000000L, 2L << 20);
        try (SharedMachine m = SharedMachine.createMemfd(List.of(ram0))) {
            MemorySystem ms = m.system();
            m.plug(dimm0);
            RamBlock dimm = m.blocks().get(1);
            long host = dimm.hostAddress() + 0x1234;
            HostRegionLocation loc = ms.regionFromHost(host);
            assertNotNull(loc);
            assertEquals("dimm0", loc.region().name());
            assertSame(dimm, loc.region().ramBlock());
            assertEquals(0x1234, loc.offset());
            m.unplug("dimm0");
            assertNull(ms.regionFromHost(host), "unplugged: its region is finalized and its block freed");
            assertEquals("ram0", ms.regionFromHost(m.blocks().get(0).hostAddress()).region().name());
        }
    }

    /** A freed block's address range may be mapped again: the lookup must name the new region. */
    @Test
    void aReusedHostRangeNamesTheNewRegion() {
        for (int i = 0; i < 8; i++) {
            RamRegion r = RamRegion.allocate(sys, null, "hot" + i, 0x10000);
            long host = r.ramBlock().hostAddress();
            assertFound(r, 0, host);
            r.destroy();
            assertNotFound(host);
        }
    }
}
