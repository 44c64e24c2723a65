package dev.guestmem.scenario;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.discard.DiscardedRam;
import dev.guestmem.discard.RamDiscardListener;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Program 4: memfd RAM shared with a second mapping, virtio-mem-like plugging, the soft TLB alive throughout. */
class HotplugSharingTest {
    static final long MIB = 1 << 20;
    static final long VMEM_BASE = 0x0800_0000L;   // 128 MiB, above the 64 MiB of RAM

    /** A VFIO-like DMA mapper: maps only populated parts of sections that have a discard manager. */
    static final class Mapper implements MemoryListener {
        final List<String> log = new ArrayList<>();
        final List<RamDiscardListener> registered = new ArrayList<>();

        @Override
        public void regionAdd(MemoryRegionSection s) {
            if (s.region().hasRamDiscardManager()) {
                RamDiscardListener l = RamDiscardListener.ramDiscardListener(
                        p -> log.add("map +" + ((p.offsetWithinAddressSpace() - VMEM_BASE) >> 20) + "M " + (p.size() >> 20) + "M"),
                        d -> log.add("unmap +" + ((d.offsetWithinAddressSpace() - VMEM_BASE) >> 20) + "M " + (d.size() >> 20) + "M"),
                        false);
                s.region().ramDiscardManager().registerListener(l, s);
                registered.add(l);
            }
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            if (s.region().hasRamDiscardManager()) {
                for (RamDiscardListener l : registered) {
                    s.region().ramDiscardManager().unregisterListener(l);
                }
                registered.clear();
                log.add("del");
            }
        }
    }

    @Test
    void memfdSharedPlugUnplugWhileCpuRuns() {
        ToyMachine m = new ToyMachine(false);
        ToyCpu cpu = new ToyCpu(m.sys, m.as);
        Mapper mapper = new Mapper();
        m.sys.registerListener(mapper, m.as);

        // the DIMM: a memfd block, and a "backend process" mapping the same fd in its own system
        RamBlock block = RamBlock.builder("vmem0", 16 * MIB).memfd().build();
        RamRegion vmem = new RamRegion(m.sys, null, "vmem0", block, false, false);
        MemorySystem peerSys = new MemorySystem();
        RamBlock peerBlock = RamBlock.builder("vmem0-peer", 16 * MIB).fd(block.fd(), 0).build();
        block.close();                          // the region holds its own reference
        ContainerRegion peerRoot = new ContainerRegion(peerSys, null, "peer", MemoryRegion.SIZE_2_64);
        RamRegion peerRam = new RamRegion(peerSys, null, "vmem0-peer", peerBlock, false, false);
        peerRoot.addSubregion(0, peerRam);
        peerBlock.close();
        AddressSpace peer = peerSys.addressSpace(peerRoot, "peer");

        BitmapRamDiscardManager vm = BitmapRamDiscardManager.attach(vmem, 2 * MIB);  // before mapping

        // the CPU is running, with RAM pages in its TLB
        cpu.enterBlock();
        cpu.stl(0x10_1000, 1);
        assertEquals(1, cpu.ldl(0x10_1000));
        long flushes = cpu.tlbFlushes;

        m.system.addSubregion(VMEM_BASE, vmem);  // hot-add
        assertTrue(cpu.exitRequest);
        assertEquals(List.of(), mapper.log, "nothing plugged yet: nothing to map");
        vm.plug(0, 4 * MIB);
        assertEquals(List.of("map +0M 4M"), mapper.log);
        cpu.enterBlock();
        assertEquals(flushes + 1, cpu.tlbFlushes);

        // the guest uses the new memory through the TLB; the peer sees it
        cpu.stl(VMEM_BASE + 0x10, 0xabcd);
        cpu.stl(VMEM_BASE + 0x10, 0xabce);       // second store: TLB hit
        cpu.stl(VMEM_BASE + 2 * MIB + 0x20, 0x1234);
        assertEquals(0xabce, peer.ldlLe(0x10));
        assertEquals(0x1234, peer.ldlLe(2 * MIB + 0x20));
        peer.stlLe(0x30, 0x5555);
        assertEquals(0x5555, cpu.ldl(VMEM_BASE + 0x30));
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(m.as, VMEM_BASE, e);
        assertTrue(e.readDirect() && e.writeDirect(), "small-page memfd RAM stays direct: " + e);
        assertFalse(vmem.ramBlock().canFault());

        // unplug the second 2 MiB: discarded (zeros) for the guest, the peer and the TLB alike
        long gen = m.as.generation();
        vm.unplug(2 * MIB, 2 * MIB);
        assertEquals(List.of("map +0M 4M", "unmap +2M 2M"), mapper.log);
        assertEquals(0, peer.ldlLe(2 * MIB + 0x20));
        assertEquals(0, cpu.ldl(VMEM_BASE + 2 * MIB + 0x20));
        assertEquals(0xabce, cpu.ldl(VMEM_BASE + 0x10));
        assertEquals(2 * MIB, vm.pluggedSize());
        assertEquals(gen, m.as.generation(), "plugging is not a topology change");

        // migration: unplugged memory is not to be sent
        m.sys.globalDirtyLogStart();
        assertEquals((14 * MIB) >> 12, DiscardedRam.clearDiscardedFromMigrationLog(vmem));
        m.sys.globalDirtyLogStop();

        // hot-unplug the whole DIMM: the mapper hears regionDel, the TLB's stale window fails safely
        cpu.enterBlock();
        assertEquals(0xabce, cpu.ldl(VMEM_BASE + 0x10));      // window cached
        RamBlock b = vmem.ramBlock();
        m.system.delSubregion(vmem);
        for (var l : vm.listeners()) {
            vm.unregisterListener(l);
        }
        vm.detach();                                          // virtio-mem's unrealize, then the memory goes
        vmem.destroy();
        assertTrue(mapper.log.contains("del"), mapper.log.toString());
        assertTrue(b.isReleased(), "no view, no DMA mapping: the block is unmapped");
        // no enterBlock: the TLB still holds the released block's window
        assertEquals(0, cpu.ldl(VMEM_BASE + 0x10), "stale window: IllegalStateException caught, slow path says unassigned");
        // the peer keeps its own mapping of the fd
        assertEquals(0xabce, peer.ldlLe(0x10));
    }

    @Test
    void aPeersMappingOfASealedMemfdIsDirect() {
        RamBlock block = RamBlock.builder("m", 2 * MIB).memfd().build();
        RamBlock peer = RamBlock.builder("p", 2 * MIB).fd(block.fd(), 0).build();
        try {
            assertFalse(block.canFault());
            // RamBlock.canFault: an fd that is a memfd sealed against shrinking cannot lose pages
            // under the mapping, so the peer keeps direct TLB pages too
            assertFalse(peer.canFault());
        } finally {
            peer.close();
            block.close();
        }
    }
}
