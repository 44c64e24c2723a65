package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.InvalidRangeException;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionCycleException;
import dev.guestmem.region.RomDeviceRegion;
import org.junit.jupiter.api.Test;

/**
 * Defects the setup-API fuzzer ({@link SetupApiFuzzProperties}) found (the later ones by its oracles
 * of state kept across calls: soft-TLB entries, caches, DMA mappings, dirty bitmaps), and one that
 * {@code RenderOracleProperties} found while the fuzzer was being checked, each shrunk to its
 * smallest case; every test here failed before its fix.
 */
class FuzzFoundRegressionTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    /**
     * A buffer read of nothing across 2^63: {@code memory_access_size} compared the offset's
     * alignment ({@code addr & -addr}, negative at 2^63) signed, so the chunk was not clamped to 4
     * bytes and the dispatch threw {@code IllegalArgumentException} ("MMIO access size 16") out of
     * {@code AddressSpace.read} instead of answering {@code DECODE_ERROR}.
     */
    @Test
    void bufferAccessOfNothingAtTwoTo63IsADecodeError() {
        MemorySystem sys = new MemorySystem();
        try {
            AddressSpace as = sys.addressSpace(new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64), "as");
            byte[] buf = new byte[16];
            java.util.Arrays.fill(buf, (byte) 1);
            assertEquals(MemTxResult.DECODE_ERROR, as.read(Long.MIN_VALUE, U, buf, 0, 16));
            assertArrayEquals(new byte[16], buf);
            assertEquals(MemTxResult.DECODE_ERROR, as.write(Long.MIN_VALUE, U, buf, 0, 16));
        } finally {
            sys.close();
        }
    }

    /**
     * A root destroyed while an alias in another space still shows it: when its own space went, its
     * last reference went too (the alias held none) and it was finalized, emptied and disabled
     * behind the other space's back, whose published view then no longer matched its tree (a full
     * render showed nothing; the next commit would have unmapped everything).
     */
    @Test
    void aRegionAnAliasShowsOutlivesItsDestroy() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            system.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
            ContainerRegion smm = new ContainerRegion(sys, null, "smm", MemoryRegion.SIZE_2_64);
            smm.addSubregion(0, new AliasRegion(sys, null, "smm-system", system, 0, MemoryRegion.SIZE_2_64));
            AddressSpace memory = sys.addressSpace(system, "memory");
            AddressSpace smmSpace = sys.addressSpace(smm, "smm");
            assertEquals(MemTxResult.OK, memory.stlLe(0x10, 42));
            system.destroy();
            sys.destroyAddressSpace(memory);
            assertFalse(system.isFinalized(), "the alias still shows it");
            assertEquals(FlatViewRenderer.render(FlatViewRoots.of(smm)), smmSpace.currentMap().ranges(),
                    "the published view is the tree's");
            assertEquals(42, smmSpace.ldlLe(0x10));
            smm.setSize(0x10000); // any later commit keeps it
            assertEquals(42, smmSpace.ldlLe(0x10));
        } finally {
            sys.close();
        }
    }

    /**
     * RAM destroyed while only an unmapped alias referred to it was finalized (its block unmapped);
     * mapping the alias afterwards was accepted and showed RAM whose memory was gone.
     */
    @Test
    void ramAnUnmappedAliasRefersToOutlivesItsDestroy() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            AddressSpace as = sys.addressSpace(root, "as");
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
            AliasRegion window = new AliasRegion(sys, null, "window", ram, 0, 0x1000);
            ram.destroy();
            assertFalse(ram.isFinalized(), "the alias still refers to it");
            root.addSubregion(0x2000, window);
            assertEquals(MemTxResult.OK, as.stlLe(0x2010, 7));
            assertEquals(7, as.ldlLe(0x2010));
        } finally {
            sys.close();
        }
    }

    /**
     * A buffer access over a ROM device grown past its block ({@code setSize}) and on into RAM: the
     * bytes past the block are a decode error, but the skip took the whole rest of the access (a ROM
     * device's length is not clamped to its section), so neither those bytes (not read as 0) nor the
     * RAM after it were read: the caller's bytes stayed in the buffer.
     */
    @Test
    void aRomDeviceGrownPastItsBlockDoesNotSwallowTheRamAfterIt() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null,
                    MemoryRegionOps.builder().read((a, n) -> 0).write((a, d, n) -> { }).build(), "flash", 0x1000);
            flash.setSize(0x2000);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x1000);
            ram.ramBlock().segment().fill((byte) 0x33);
            root.addSubregion(0x10000, flash);
            root.addSubregion(0x12000, ram);
            AddressSpace as = sys.addressSpace(root, "as");
            byte[] buf = new byte[16];
            java.util.Arrays.fill(buf, (byte) 0x77);
            assertEquals(MemTxResult.DECODE_ERROR, as.read(0x11ff8, U, buf, 0, 16));
            byte[] want = new byte[16];
            java.util.Arrays.fill(want, 8, 16, (byte) 0x33);
            assertArrayEquals(want, buf, "nothing past the block reads 0; the RAM after it is read");
            java.util.Arrays.fill(buf, (byte) 0x44);
            // writes go to the device's ops (ROMD mode or not), which take them past the block too
            assertEquals(MemTxResult.OK, as.write(0x11ff8, U, buf, 0, 16));
            assertEquals(0x44444444, as.ldlLe(0x12000), "the RAM after it is written");
        } finally {
            sys.close();
        }
    }

    /**
     * RAM grown to 2^64 ({@code setSize(-1)}) and read near 2^64: the bytes left in its block from
     * the offset ({@code byteSize - xlat}) were computed signed, so at an offset past 2^63 they came
     * out positive and the copy was made at a negative segment offset: {@code IndexOutOfBoundsException}
     * out of {@code read}, {@code write} and {@code writeRom}. ({@code map} and
     * {@code MemoryRegionCache.init} did the same arithmetic but did not throw here; checked too.)
     */
    @Test
    void ramGrownTo2To64IsADecodeErrorPastItsBlockEvenPast2To63() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
            root.addSubregion(0, ram);
            ram.setSize(MemoryRegion.SIZE_2_64);
            AddressSpace as = sys.addressSpace(root, "as");
            byte[] buf = {1, 2, 3, 4, 5, 6, 7, 8};
            long far = -8L;
            assertEquals(MemTxResult.DECODE_ERROR, as.read(far, U, buf, 0, 8));
            assertArrayEquals(new byte[8], buf);
            assertEquals(MemTxResult.DECODE_ERROR, as.write(far, U, buf, 0, 8));
            assertEquals(MemTxResult.OK, as.writeRom(far, U, buf, 0, 8), "write_rom skips what it cannot write");
            assertEquals(MemTxResult.DECODE_ERROR, as.write(Long.MIN_VALUE, U, buf, 0, 8));
            DmaMapping map = as.map(far, 8, false, U);
            assertTrue(map == null || map.isBounce(), "no direct mapping past the block");
            if (map != null) {
                map.unmap(0);
            }
            MemoryRegionCache cache = new MemoryRegionCache();
            cache.init(as, far, 8, false);
            cache.destroy();
        } finally {
            sys.close();
        }
    }

    /**
     * A region put inside an alias of itself (an alias's own subregions are kept, though rendering
     * ignores them), then that alias added to the region: the cycle check found the path through the
     * alias's target first and accepted it as the boards' shifted self-alias, missing that the alias
     * also contains the region. The two became each other's container, and every walk of the tree
     * (info mtree, a walk up the containers) recursed until the stack ran out.
     */
    @Test
    void aRegionInsideAnAliasOfItselfCannotTakeThatAlias() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            AliasRegion alias = new AliasRegion(sys, null, "alias", system, 0, 0x1000);
            alias.addSubregion(0, system);
            assertThrows(RegionCycleException.class, () -> system.addSubregion(0x800, alias));
            assertNull(alias.container(), "refused: nothing changed");
            assertSame(alias, system.container());
            assertEquals(java.util.List.of(), system.subregions());
        } finally {
            sys.close();
        }
    }

    /**
     * {@code setCoalescing()} on a region shrunk to 0 bytes is refused (an empty window), but only
     * after it had cleared the region's windows and flush flag and told listeners
     * {@code coalescedIoDel}: the refused call changed the region.
     */
    @Test
    void setCoalescingRefusedForAnEmptyRegionKeepsItsWindows() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            IoRegion dev = new IoRegion(sys, null, null, "dev", 0x1000);
            root.addSubregion(0x1000, dev);
            sys.addressSpace(root, "as");
            EventLog log = new EventLog();
            sys.registerListener(log.recorder("l"), null);
            dev.addCoalescing(0, 1);
            dev.setSize(0);
            int heard = log.size();
            assertThrows(InvalidRangeException.class, dev::setCoalescing);
            assertEquals(java.util.List.of(new CoalescedRange(0, 1)), dev.coalescedRanges());
            assertTrue(dev.isFlushCoalesced());
            assertEquals(java.util.List.of(), log.since(heard), "listeners heard nothing");
        } finally {
            sys.close();
        }
    }

    /**
     * In one transaction a container is shrunk to 0 bytes, moved, and grown again: the commit
     * re-rendered only the window it left, not the one it came to, so its contents (a device at
     * 0x1000) were missing from the published view, which no longer matched a full render.
     */
    @Test
    void aContainerShrunkToNothingMovedAndGrownInOneTransactionIsRendered() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            system.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x4000));
            ContainerRegion pci = new ContainerRegion(sys, null, "pci", 0x100000);
            pci.addSubregion(0x1000, new IoRegion(sys, null, null, "dev", 0x100));
            system.addSubregion(0x100000, pci);
            AddressSpace as = sys.addressSpace(system, "memory");
            sys.transactionBegin();
            pci.setSize(0);
            pci.setAddress(0);
            pci.setSize(0x2000);
            sys.transactionCommit();
            assertEquals(FlatViewRenderer.render(FlatViewRoots.of(system)), as.currentMap().ranges());
            assertEquals("dev", as.currentMap().range(as.currentMap().lookup(0x1000)).region().name());
        } finally {
            sys.close();
        }
    }

    /**
     * Found by {@code RenderOracleProperties} (seed -8180008153324543283): an alias of a region that
     * had changed since the last commit (here: before any address space, so no commit had cleared
     * the record), made the root of an address space. The target's recorded window had gone up to
     * the aliases there were then, so a later change inside it stopped at the target, the alias's
     * view was taken as clean and kept showing nothing where a device had been enabled.
     */
    @Test
    void anAliasMadeAfterItsTargetChangedFollowsItsNextChange() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", 0x10000);
            IoRegion dev = new IoRegion(sys, null, null, "dev", 0x1000);
            dev.setEnabled(false);
            root.addSubregion(0, dev);
            AliasRegion window = new AliasRegion(sys, null, "window", root, 0, 0x1000);
            AddressSpace as = sys.addressSpace(window, "as");
            dev.setEnabled(true);
            assertEquals(FlatViewRenderer.render(FlatViewRoots.of(window)), as.currentMap().ranges());
            assertEquals(1, as.currentMap().ranges().size(), "the device is shown");
        } finally {
            sys.close();
        }
    }

    /**
     * A cache made for writing over a ROMD-mode ROM device (or a ROM) is not direct, but its reads
     * copy the device's block, and it held no reference on the block (only a direct cache did): once
     * the device was unplugged and destroyed (or the machine closed) the block was released and
     * every read through the cache answered {@code ERROR}, although a held cache keeps its block
     * mapped ({@code MemorySystem.close}; QEMU's cache holds its region).
     */
    @Test
    void aWriteCacheOverAFlashKeepsItsBlockMapped() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null,
                    MemoryRegionOps.builder().read((a, n) -> 0).write((a, d, n) -> { }).build(), "flash", 0x1000);
            dev.guestmem.ram.RamBlock block = flash.ramBlock();
            block.segment().fill((byte) 0x5c);
            root.addSubregion(0x10000, flash);
            AddressSpace as = sys.addressSpace(root, "as");
            MemoryRegionCache cache = new MemoryRegionCache();
            assertEquals(0x100, cache.init(as, 0x10000, 0x100, true));
            assertFalse(cache.isDirect(), "stores go to the device");
            root.delSubregion(flash);
            flash.destroy();
            assertFalse(block.isReleased(), "the cache holds it");
            dev.guestmem.access.MemTxResultHolder res = new dev.guestmem.access.MemTxResultHolder();
            assertEquals(0x5c5c5c5c, cache.ldlLe(0, U, res));
            assertEquals(MemTxResult.toString(MemTxResult.OK), MemTxResult.toString(res.get()));
            cache.destroy();
            assertTrue(block.isReleased(), "destroy lets it go");
        } finally {
            sys.close();
        }
    }

    /**
     * A cache made exactly at the end of a RAM block, in a region grown past it ({@code setSize}):
     * no byte is left, so {@code init} gives 0, but it kept a 0-byte slice of the block as its
     * pointer, so {@code isDirect()} said true (and the block was held) where one byte further it
     * said false.
     */
    @Test
    void aCacheAtTheEndOfABlockIsNotDirect() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x2000);
            root.addSubregion(0, ram);
            ram.setSize(0x10000);
            AddressSpace as = sys.addressSpace(root, "as");
            for (boolean write : new boolean[] {false, true}) {
                for (long addr : new long[] {0x2000, 0x2001}) {
                    MemoryRegionCache cache = new MemoryRegionCache();
                    assertEquals(0, cache.init(as, addr, 8, write));
                    assertFalse(cache.isDirect(), "no byte of the block at 0x" + Long.toHexString(addr));
                    cache.destroy();
                }
            }
        } finally {
            sys.close();
        }
    }

    /**
     * A cache made for writing over a ROM grown past its block ({@code setSize}) is not direct, but
     * its buffer reads copy the block, without a bound: a read past the block threw
     * {@code IndexOutOfBoundsException} out of {@code read} (its loads answered {@code DECODE_ERROR},
     * as the address space does). The bytes past the block now read 0 with {@code DECODE_ERROR}.
     */
    @Test
    void aWriteCacheReadPastARomsBlockIsADecodeError() {
        MemorySystem sys = new MemorySystem();
        try {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
            rom.ramBlock().segment().fill((byte) 0x3c);
            root.addSubregion(0x10000, rom);
            rom.setSize(0x10000);
            AddressSpace as = sys.addressSpace(root, "as");
            MemoryRegionCache cache = new MemoryRegionCache();
            assertEquals(0x20, cache.init(as, 0x10ff0, 0x20, true));
            byte[] buf = new byte[0x20];
            java.util.Arrays.fill(buf, (byte) 0x77);
            assertEquals(MemTxResult.DECODE_ERROR, cache.read(0, buf, 0, 0x20));
            byte[] want = new byte[0x20];
            java.util.Arrays.fill(want, 0, 0x10, (byte) 0x3c);
            assertArrayEquals(want, buf, "the block's bytes, then zeros");
            assertEquals(MemTxResult.OK, cache.read(0, buf, 0, 0x10));
            dev.guestmem.access.MemTxResultHolder res = new dev.guestmem.access.MemTxResultHolder();
            assertEquals(0, cache.ldlLe(0x18, U, res));
            assertEquals(MemTxResult.DECODE_ERROR, res.get(), "as a load there");
            cache.destroy();
        } finally {
            sys.close();
        }
    }

    /**
     * The fuzzer's own model (VcpuCheck), found at 20,000 tries: a stale vCPU store to a page an older
     * entry drops (it was filled while the RAM was read-only), of the byte the RAM already held, on a
     * code page. The TLB drops it, as the guide allows; the model took it for a store through the
     * space (first in its list, and RAM looks the same either way), then wanted the code hook to have
     * heard it. Each outcome is now also checked against the code hook.
     */
    @Test
    void aStaleDroppedStoreIsNotTakenForOneThroughTheSpace() {
        FuzzMachine m = new FuzzMachine(true, false);
        try {
            for (FuzzOp op : java.util.List.of(new FuzzOp.SetReadonly(0, true),
                    new FuzzOp.VcpuStore(0, 4, 0, 0, true, 0), new FuzzOp.DirtyClear(8, 1, 0, 0),
                    new FuzzOp.SetReadonly(0, false))) {
                FuzzStep.run(m, op);
            }
            String last = FuzzStep.run(m, new FuzzOp.VcpuStore(0, 4, 6, 0, true, -1));
            assertTrue(last.startsWith("stale store, dropped"), last);
        } finally {
            m.close();
        }
    }
}
