package dev.guestmem.scenario11;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.tlb.VcpuTlb;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A device of one machine (a vfio-user-like peer, a split device process) DMAs through an IOMMU into
 * another machine's RAM while that machine migrates. The write lands in the target machine's RAM, so
 * it is that machine's dirty log that must see it (the target region's system: QEMU has one global
 * {@code ram_list}, where this question cannot arise). Before the fix the slow paths marked the
 * device's own system's bitmap at the target's ram_addr, so the migration missed the page (and the
 * device's machine got a bit at an offset that means something else there).
 */
class CrossMachineDmaDirtyTest {
    private static final long MIB = 1 << 20;
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private MemorySystem target;
    private RamRegion targetRam;
    private MemorySystem peer;
    private RamRegion peerRam;
    private AddressSpace dma;

    @BeforeEach
    void setUp() {
        target = new MemorySystem();
        ContainerRegion troot = new ContainerRegion(target, null, "target", MemoryRegion.SIZE_2_64);
        targetRam = RamRegion.allocate(target, null, "target.ram", 4 * MIB);
        troot.addSubregion(0, targetRam);
        AddressSpace memory = target.addressSpace(troot, "memory");

        peer = new MemorySystem();
        ContainerRegion proot = new ContainerRegion(peer, null, "peer", MemoryRegion.SIZE_2_64);
        peerRam = RamRegion.allocate(peer, null, "peer.ram", 4 * MIB); // same ram_addr range as the target's
        proot.addSubregion(0x1000_0000L, peerRam);
        IommuRegion bridge = new IommuRegion(peer, null, "bridge", MIB, (addr, flag, idx, out) -> {
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            out.targetAs = memory;
            out.translatedAddr = 0x20_0000L + (addr & ~0xfffL);
            out.perm = IommuTlbEntry.RW;
        });
        proot.addSubregion(0, bridge);
        dma = peer.addressSpace(proot, "peer-dma");
        target.globalDirtyLogStart();
        clear(target, targetRam);
        clear(peer, peerRam);
    }

    private static void clear(MemorySystem sys, RamRegion r) {
        sys.dirtyMemory().snapshotAndClearDirty(r.ramBlock().offset(), r.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
    }

    private long targetDirtyPages() {
        return target.dirtyMemory().snapshotAndClearDirty(targetRam.ramBlock().offset(), targetRam.size(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION).dirtyPageCount();
    }

    private long peerDirtyPages() {
        return peer.dirtyMemory().snapshotAndClearDirty(peerRam.ramBlock().offset(), peerRam.size(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION).dirtyPageCount();
    }

    @Test
    void aStoreThroughTheIommuIsLoggedByTheMachineItLandsIn() {
        assertEquals(MemTxResult.OK, dma.stl(0x3000, 0x1234, U));
        assertEquals(1, targetDirtyPages(), "the target's migration must send the page");
        assertEquals(0, peerDirtyPages(), "the peer's RAM was not written");
    }

    @Test
    void aBufferWriteThroughTheIommuIsLoggedByTheMachineItLandsIn() {
        assertEquals(MemTxResult.OK, dma.write(0x5000, U, new byte[8192], 0, 8192));
        assertEquals(2, targetDirtyPages());
        assertEquals(0, peerDirtyPages());
    }

    @Test
    void aDmaUnmapThroughTheIommuIsLoggedByTheMachineItLandsIn() {
        DmaMapping m = dma.map(0x7000, 4096, true, U);
        m.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 7);
        m.unmap(4);
        assertEquals(1, targetDirtyPages());
        assertEquals(0, peerDirtyPages());
    }

    @Test
    void aCachedStoreThroughTheIommuIsLoggedByTheMachineItLandsIn() {
        MemoryRegionCache ring = new MemoryRegionCache();
        ring.init(dma, 0x9000, 64, true);
        assertEquals(MemTxResult.OK, ring.stlLe(0, 9, U));
        ring.destroy();
        assertEquals(1, targetDirtyPages());
        assertEquals(0, peerDirtyPages());
    }

    @Test
    void aWriteRomThroughTheIommuIsLoggedByTheMachineItLandsIn() {
        assertEquals(MemTxResult.OK, dma.writeRom(0xb000, U, new byte[16], 0, 16));
        assertEquals(1, targetDirtyPages());
        assertEquals(0, peerDirtyPages());
    }

    @Test
    void aMemsetThroughTheIommuIsLoggedByTheMachineItLandsIn() {
        assertEquals(MemTxResult.OK, dma.set(0xc000, (byte) 0x5a, 8192, U));
        assertEquals(2, targetDirtyPages());
        assertEquals(0, peerDirtyPages());
    }

    @Test
    void aSoftTlbWindowThroughTheIommuLogsInTheMachineItLandsIn() {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(dma, 0xe000, e);
        DirectWindow w = e.window();
        assertEquals(0, w.write().byteSize(), "the target logs for migration: no plain direct store");
        assertEquals(4096, w.loggedWrite().byteSize());
        w.loggedWrite().set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 1);
        w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + 0x10, 4, w.dirtyMask()); // what storeLogged does
        assertEquals(1, targetDirtyPages());
        assertEquals(0, peerDirtyPages());
    }

    /** A vCPU of the peer storing through the IOMMU: directly, then marked in the target's bitmaps. */
    @Test
    void aVcpuTlbStoreThroughTheIommuIsLoggedByTheMachineItLandsIn() {
        try (VcpuTlb tlb = new VcpuTlb(dma, U, null)) {
            tlb.enterBlock();
            for (int round = 0; round < 3; round++) {
                tlb.stlLe(0xe010, round);     // every clear makes the next store mark the page again
                tlb.stlLe(0xe014, round);
                assertEquals(1, targetDirtyPages(), "round " + round);
                assertEquals(0, peerDirtyPages());
                assertEquals(round, target.addressSpaces().get(0).ldlLe(0x20_e014L));
            }
        }
    }

    /**
     * A translator of the peer machine that fetched code through the IOMMU from the target's RAM: the
     * page's ram_addr is the target's, and so are the bitmaps and the invalidator a write through the
     * IOMMU reaches (the entry's window names them; the peer's own bitmaps are the wrong ones).
     */
    @Test
    void codeFetchedThroughTheIommuIsProtectedInTheMachineItLivesIn() {
        try (MemorySystem tcgTarget = new MemorySystem(true); MemorySystem tcgPeer = new MemorySystem(true)) {
            ContainerRegion troot = new ContainerRegion(tcgTarget, null, "target", MemoryRegion.SIZE_2_64);
            troot.addSubregion(0, RamRegion.allocate(tcgTarget, null, "target.ram", MIB));
            AddressSpace memory = tcgTarget.addressSpace(troot, "memory");
            ContainerRegion proot = new ContainerRegion(tcgPeer, null, "peer", MemoryRegion.SIZE_2_64);
            proot.addSubregion(0x1000_0000L, RamRegion.allocate(tcgPeer, null, "peer.ram", MIB));
            proot.addSubregion(0, new IommuRegion(tcgPeer, null, "bridge", MIB, (addr, flag, idx, out) -> {
                out.iova = addr & ~0xfffL;
                out.addrMask = 0xfff;
                out.targetAs = memory;
                out.translatedAddr = 0x2_0000L + (addr & ~0xfffL);
                out.perm = IommuTlbEntry.RW;
            }));
            AddressSpace cpu = tcgPeer.addressSpace(proot, "peer-cpu");
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(cpu, 0x3000, e);
            DirtyMemory code = e.window().section().region().system().dirtyMemory();
            assertEquals(tcgTarget.dirtyMemory(), code, "the page's bitmaps are the target's");
            assertEquals(code, e.window().dirtyMemory(), "a writable logged page's window names them too");
            java.util.List<Long> dropped = new java.util.ArrayList<>();
            code.setCodeInvalidator((ramAddr, length) -> dropped.add(ramAddr));
            tcgPeer.dirtyMemory().setCodeInvalidator((ramAddr, length) -> dropped.add(-ramAddr));
            code.resetDirty(e.ramAddr(), 4096, DirtyMemory.DIRTY_MEMORY_CODE); // tlb_protect_code
            assertEquals(MemTxResult.OK, cpu.stlLe(0x3010, 0x90909090, U));
            assertEquals(java.util.List.of(e.ramAddr() + 0x10), dropped);
        }
    }
}
