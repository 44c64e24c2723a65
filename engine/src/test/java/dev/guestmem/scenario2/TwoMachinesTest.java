package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Program 4: two machines in one JVM. Each has its own RAM, topology, listeners and dirty log; they
 * share one memfd block (mapped in each by its own {@link RamBlock}), and one machine's device reaches
 * the other's memory through an IOMMU.
 */
class TwoMachinesTest {
    static final long MIB = 1 << 20;
    static final long SHARED_A = 0x1_0000_0000L;
    static final long SHARED_B = 0x2000_0000L;

    /** One machine: RAM at 0 and a root container. */
    static final class Machine {
        final MemorySystem sys;
        final ContainerRegion system;
        final RamRegion ram;
        final AddressSpace as;

        Machine(String name, long ramSize) {
            sys = new MemorySystem();
            system = new ContainerRegion(sys, null, name, MemoryRegion.SIZE_2_64);
            ram = RamRegion.allocate(sys, null, name + ".ram", ramSize);
            system.addSubregion(0, ram);
            as = sys.addressSpace(system, "memory");
        }
    }

    @Test
    void twoMachinesAreIndependent() {
        Machine a = new Machine("a", 4 * MIB);
        Machine b = new Machine("b", 4 * MIB);
        List<String> heardByB = new ArrayList<>();
        b.sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                heardByB.add("add " + s.region().name());
            }

            @Override
            public void logGlobalStart() {
                heardByB.add("log_global_start");
            }
        }, null);
        heardByB.clear();

        a.as.stlLe(0x1000, 0xaaaa);
        b.as.stlLe(0x1000, 0xbbbb);
        assertEquals(0xaaaa, a.as.ldlLe(0x1000));
        assertEquals(0xbbbb, b.as.ldlLe(0x1000));

        long genB = b.as.generation();
        a.ram.setAddress(0x4000_0000L);
        a.sys.globalDirtyLogStart();
        assertEquals(genB, b.as.generation(), "A's topology change leaves B's TLBs alone");
        assertEquals(List.of(), heardByB);
        assertFalse(b.sys.isGlobalDirtyTracking());
        assertEquals(0xbbbb, b.as.ldlLe(0x1000));

        // both RAM lists start at ram_addr 0: the bitmaps are per machine, so the same ram_addr is no clash
        assertEquals(a.ram.ramBlock().offset(), b.ram.ramBlock().offset());
        DirtyMemory da = a.sys.dirtyMemory();
        DirtyMemory db = b.sys.dirtyMemory();
        da.snapshotAndClearDirty(0, 4 * MIB, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        db.snapshotAndClearDirty(0, 4 * MIB, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        b.as.stlLe(0x2000, 1);                             // B is not migrating: A must not see it
        assertEquals(0, da.snapshotAndClearDirty(0, 4 * MIB, DirtyMemory.DIRTY_MEMORY_MIGRATION).dirtyPageCount());
        a.as.stlLe(0x4000_2000L, 1);
        DirtyBitmapSnapshot snap = da.snapshotAndClearDirty(0, 4 * MIB, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(1, snap.dirtyPageCount());
        assertEquals(0x2000, snap.nextDirtyPage(0));
        a.sys.globalDirtyLogStop();

        // a region or a block of one machine cannot be used in the other
        RamRegion foreign = RamRegion.allocate(a.sys, null, "a.extra", MIB);
        assertThrows(RuntimeException.class, () -> b.system.addSubregion(0x1000_0000L, foreign));
        assertThrows(IllegalArgumentException.class,
                () -> new RamRegion(b.sys, null, "stolen", a.ram.ramBlock(), false, false));
        assertEquals(0xbbbb, b.as.ldlLe(0x1000), "B unchanged by the refused attempts");
    }

    @Test
    void oneMemfdBlockMappedInBothMachines() {
        Machine a = new Machine("a", 4 * MIB);
        Machine b = new Machine("b", 8 * MIB);
        RamBlock memA = RamBlock.builder("shm", 2 * MIB).memfd().build();
        a.system.addSubregion(SHARED_A, new RamRegion(a.sys, null, "shm", memA, false, false));
        // B maps the same memory through its own block: a dup of A's descriptor
        RamBlock memB = RamBlock.builder("shm", 2 * MIB).fd(memA.fd(), 0).shared(true).build();
        b.system.addSubregion(SHARED_B, new RamRegion(b.sys, null, "shm", memB, false, false));

        assertEquals(MemTxResult.OK, a.as.stqLe(SHARED_A + 0x100, 0x1122334455667788L));
        assertEquals(0x1122334455667788L, b.as.ldqLe(SHARED_B + 0x100));
        b.as.stlLe(SHARED_B + 0x1ff000, 0xb0b0);
        assertEquals(0xb0b0, a.as.ldlLe(SHARED_A + 0x1ff000));

        // a sealed memfd cannot shrink: both machines' JITs may access it directly
        TlbEntry ea = new TlbEntry();
        TlbEntry eb = new TlbEntry();
        GuestTlb.fill(a.as, SHARED_A, ea);
        GuestTlb.fill(b.as, SHARED_B, eb);
        assertTrue(ea.writeDirect(), ea.toString());
        assertTrue(eb.writeDirect(), eb.toString());

        // A lets go of its block: B's mapping is its own and stays valid
        memA.close();
        a.system.delSubregion(a.system.subregions().stream().filter(r -> r.name().equals("shm")).findFirst().orElseThrow());
        assertEquals(0xb0b0, b.as.ldlLe(SHARED_B + 0x1ff000));
        assertEquals(MemTxResult.DECODE_ERROR, a.as.stlLe(SHARED_A, 1));
        memB.close();
    }

    /**
     * Machine B's device DMAs into machine A's memory through an IOMMU. B's JIT caches a page behind
     * it; A moving its RAM must make that entry stale (architecture.md: a publication of any space a
     * translation passed through moves the generation, "the dependency matters for a target in
     * another system").
     */
    @Test
    void iommuIntoTheOtherMachineFollowsItsTopology() {
        Machine a = new Machine("a", 4 * MIB);
        MemorySystem bsys = new MemorySystem();
        ContainerRegion broot = new ContainerRegion(bsys, null, "b-dma", MemoryRegion.SIZE_2_64);
        IommuRegion iommu = new IommuRegion(bsys, null, "bridge", MIB, (addr, flag, idx, out) -> {
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            out.targetAs = a.as;
            out.translatedAddr = 0x10_0000L + (addr & ~0xfffL);
            out.perm = IommuTlbEntry.RW;
        });
        broot.addSubregion(0, iommu);
        AddressSpace dma = bsys.addressSpace(broot, "b-dma");

        a.as.stlLe(0x10_1000L, 0x5a5a);
        assertEquals(0x5a5a, dma.ldlLe(0x1000));
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(dma, 0x1000, e));
        assertTrue(e.readDirect());
        long gen = dma.generation();

        a.ram.setAddress(0x4000_0000L);                    // A's RAM leaves 0x100000
        assertNotEquals(gen, dma.generation(), "B's cached translation through A must go stale");
        assertEquals(0, dma.ldlLe(0x1000, MemTxAttrs.UNSPECIFIED, new dev.guestmem.access.MemTxResultHolder()));
    }

    /**
     * A's migration and A's JIT see only A's own writes to the shared memory: B's stores reach A's
     * log and A's translations only when reported with {@link RamBlock#markWritten} (what a
     * vhost-user backend's dirty log is for).
     */
    @Test
    void peerWritesAreInvisibleToTheLogUntilReported() {
        MemorySystem asys = new MemorySystem(true);
        ContainerRegion aroot = new ContainerRegion(asys, null, "a", MemoryRegion.SIZE_2_64);
        RamBlock memA = RamBlock.builder("shm", MIB).memfd().build();
        aroot.addSubregion(0, new RamRegion(asys, null, "shm", memA, false, false));
        AddressSpace a = asys.addressSpace(aroot, "memory");
        Machine b = new Machine("b", MIB);
        RamBlock memB = RamBlock.builder("shm", MIB).fd(memA.fd(), 0).shared(true).build();
        b.system.addSubregion(SHARED_B, new RamRegion(b.sys, null, "shm", memB, false, false));

        List<Long> dropped = new ArrayList<>();
        DirtyMemory dirty = asys.dirtyMemory();
        dirty.setCodeInvalidator((ramAddr, len) -> {
            dropped.add(ramAddr & ~0xfffL);
            dirty.setDirtyRange(ramAddr & ~0xfffL, 4096, DirtyMemory.MASK_CODE);
        });
        asys.globalDirtyLogStart();
        dirty.snapshotAndClearDirty(memA.offset(), MIB, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        dirty.resetDirty(memA.offset() + 0x3000, 4096, DirtyMemory.DIRTY_MEMORY_CODE); // A translated page 3

        b.as.stlLe(SHARED_B + 0x3000, 0x90909090);
        assertEquals(0x90909090, a.ldlLe(0x3000), "the bytes are shared");
        assertEquals(0, dirty.snapshotAndClearDirty(memA.offset(), MIB, DirtyMemory.DIRTY_MEMORY_MIGRATION)
                .dirtyPageCount(), "but A's log never saw B's store");
        assertEquals(List.of(), dropped);

        memA.markWritten(0x3000, 4);                     // the peer reports what it wrote
        assertEquals(List.of(memA.offset() + 0x3000), dropped);
        DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(memA.offset(), MIB, DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(1, snap.dirtyPageCount());
        asys.globalDirtyLogStop();
        memB.close();
        memA.close();
    }

    /**
     * The guide's Java sharing API inside one JVM: one machine serves its memfd RAM on a Unix socket,
     * the other attaches; each then adds its own device to its own tree.
     */
    @Test
    void sharedMachineServeAndAttachInOneJvm(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        String sock = dir.resolve("ram.sock").toString();
        try (SharedMachine server = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 4 * MIB)));
             RamShareServer listener = RamShareServer.listen(sock, server)) {
            Thread serving = new Thread(() -> listener.serveOne(java.time.Duration.ofSeconds(30)));
            serving.start();
            try (SharedMachine peer = SharedMachine.attach(sock, java.time.Duration.ofSeconds(30))) {
                serving.join();
                server.addressSpace().stlLe(0x1000, 42);
                assertEquals(42, peer.addressSpace().ldlLe(0x1000));
                TlbEntry e = new TlbEntry();
                GuestTlb.fill(peer.addressSpace(), 0x1000, e);
                assertTrue(e.writeDirect(), "a sealed memfd is direct on the attaching side: " + e);

                // each side grows its own machine: a device on the peer is not on the server
                MemoryRegion peerRoot = peer.addressSpace().root();
                peerRoot.addSubregion(0x1000_0000L, new dev.guestmem.region.IoRegion(peer.system(), null,
                        dev.guestmem.region.MemoryRegionOps.builder().read((a, sz) -> 0x60).build(), "uart", 8));
                assertEquals(0x60, peer.addressSpace().ldub(0x1000_0000L));
                assertEquals(MemTxResult.DECODE_ERROR,
                        server.addressSpace().stb(0x1000_0000L, 1), "the server has no UART");
            }
        }
    }
}
