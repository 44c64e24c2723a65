package dev.guestmem.docs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeWriter;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.discard.DiscardedRam;
import dev.guestmem.discard.RamDiscardListener;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.HostRegionLocation;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.MmioValue;
import dev.guestmem.region.RamRegion;
import dev.guestmem.share.LayoutChange;
import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import dev.guestmem.snapshot.DirtyPages;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.tlb.VcpuTlb;
import dev.guestmem.uffd.LazyRestore;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The examples of {@code docs/guide.md}, verbatim: the code between each {@code tag::NAME[]} and
 * {@code end::NAME[]} comment is what the guide shows (checked by {@link #guideShowsTheseExamples}).
 */
class GuideExamplesTest {
    private static final long KIB = 1L << 10;
    private static final long MIB = 1L << 20;
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    @Test
    void buildAMachine() {
        // tag::machine[]
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 64 * MIB);      // memory_region_init_ram
        system.addSubregion(0, ram);
        RamRegion bios = RamRegion.allocateRom(sys, null, "bios", 64 * KIB); // memory_region_init_rom
        system.addSubregion(0xffff0000L, bios);
        // the first 64 KiB of RAM are also visible at 0xe0000000
        system.addSubregion(0xe0000000L, new AliasRegion(sys, null, "ram-window", ram, 0, 64 * KIB));
        // a device with four 32-bit little-endian registers; other sizes are refused
        long[] regs = new long[4];
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> regs[(int) (addr >> 2)])
                .write((addr, data, size) -> regs[(int) (addr >> 2)] = data)
                .valid(4, 4, false)
                .endianness(Endianness.LITTLE)
                .build();
        IoRegion timer = new IoRegion(sys, "timer0", ops, "timer", 0x10);   // owner "timer0"
        system.addSubregion(0x10000000L, timer);
        // a 4 KiB frame buffer over RAM at 0x8000: priority 1 beats the RAM's 0
        RamRegion vram = RamRegion.allocate(sys, null, "vram", 4 * KIB);
        system.addSubregionOverlap(0x8000, vram, 1);
        AddressSpace as = sys.addressSpace(system, "memory");

        System.out.print(MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN)); // info mtree
        System.out.print(FlatViewPrinter.print(sys));                                   // info mtree -f
        // end::machine[]
        String tree = MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN);
        assertTrue(tree.contains("  00000000e0000000-00000000e000ffff (prio 0, ram): alias ram-window @ram "
                + "0000000000000000-000000000000ffff"), tree);
        assertTrue(tree.contains("  0000000000008000-0000000000008fff (prio 1, ram): vram"), tree);
        String flat = FlatViewPrinter.print(sys);
        assertTrue(flat.contains("  0000000000008000-0000000000008fff (prio 1, ram): vram"), flat);
        assertTrue(flat.contains("  0000000000009000-0000000003ffffff (prio 0, ram): ram @0000000000009000"), flat);
        assertEquals(MemTxResult.OK, as.stlLe(0x10000004L, 7));
        assertEquals(7, regs[1]);
        assertEquals(MemTxResult.DECODE_ERROR, as.stb(0x10000004L, 1), "valid(4, 4) refuses a byte");
    }

    @Test
    void closeAMachine() {
        RamBlock block;
        // tag::close[]
        try (RamBlock shared = RamBlock.builder("guest-ram", 64L << 20).memfd().build()) {
            MemorySystem machine = new MemorySystem();
            ContainerRegion top = new ContainerRegion(machine, null, "system", MemoryRegion.SIZE_2_64);
            top.addSubregion(0, new RamRegion(machine, null, "ram", shared, false, false));
            AddressSpace mem = machine.addressSpace(top, "memory");
            mem.stlLe(0x1000, 42);
            machine.close();             // regions, spaces and listeners gone; mem answers DECODE_ERROR
            int kept = shared.ldlHe(0x1000); // 42: the block is still yours, until the try closes it
            // end::close[]
            assertEquals(42, kept);
            assertEquals(MemTxResult.DECODE_ERROR, mem.stlLe(0x1000, 1));
            assertFalse(shared.isReleased());
            block = shared;
        }
        assertTrue(block.isReleased());
    }

    @Test
    void equalPriorityNewestWins() {
        // tag::overlap[]
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        RamRegion a = RamRegion.allocate(sys, null, "a", 4 * KIB);
        RamRegion b = RamRegion.allocate(sys, null, "b", 4 * KIB);
        a.ramBlock().segment().fill((byte) 0xaa);
        b.ramBlock().segment().fill((byte) 0xbb);
        root.addSubregionOverlap(0x1000, a, 0);
        root.addSubregionOverlap(0x1000, b, 0);   // same place, same priority: added last, wins
        AddressSpace as = sys.addressSpace(root, "memory");
        System.out.printf("0x%x%n", as.ldub(0x1000));   // prints 0xbb
        // end::overlap[]
        assertEquals(0xbb, as.ldub(0x1000));
    }

    @Test
    void transactions() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        IoRegion bar = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0x8086)
                .write((a, d, s) -> { }).build(), "bar", 0x1000);
        system.addSubregion(0xfe000000L, bar);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        system.addSubregion(0, ram);
        long before = as.generation();
        // tag::transaction[]
        sys.transactionBegin();          // memory_region_transaction_begin
        try {
            bar.setAddress(0xfd000000L);  // nothing is re-rendered yet...
            ram.setEnabled(false);
        } finally {
            sys.transactionCommit();     // ...one render, one publication, listeners told once
        }
        // end::transaction[]
        assertEquals(before + 1, as.generation(), "one publication for both changes");
        assertEquals(0x8086, as.lduwLe(0xfd000000L));
        assertEquals(0, as.ldub(0));
    }

    @Test
    void accessGuestMemory() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", 64 * MIB));
        system.addSubregion(0xffff0000L, RamRegion.allocateRom(sys, null, "bios", 64 * KIB));
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::access[]
        as.stlLe(0x100, 0x11223344);                       // returns a MemTxResult int: OK
        int b0 = as.ldub(0x100);                           // 0x44
        int le = as.lduwLe(0x100);                         // 0x3344
        int be = as.ldlBe(0x100);                          // 0x44332211
        as.stqBe(0x200, 0x0102030405060708L);              // 01 02 03 ... 08 in memory

        // with attributes and a reusable result holder: nothing allocated per access
        MemTxResultHolder res = new MemTxResultHolder();
        long q = as.ldqLe(0x200, MemTxAttrs.UNSPECIFIED, res);   // 0x0807060504030201, res OK
        int nothing = as.ldlLe(0x4000_0000L, MemTxAttrs.UNSPECIFIED, res); // unassigned: 0
        String why = MemTxResult.toString(res.get());            // "DECODE_ERROR"

        // bulk copies cross region boundaries and return the ORed result
        byte[] text = "hello".getBytes(StandardCharsets.US_ASCII);
        int w = as.write(0x1000, MemTxAttrs.UNSPECIFIED, text, 0, text.length);  // OK
        byte[] back = new byte[5];
        int r = as.read(0x1000, MemTxAttrs.UNSPECIFIED, back, 0, back.length);   // OK, "hello"

        // ROM: guest writes are dropped with DECODE_ERROR, as in QEMU; a loader uses writeRom
        int dropped = as.stlLe(0xffff0000L, 0xdeadbeef);                        // nothing written
        as.writeRom(0xffff0000L, MemTxAttrs.UNSPECIFIED, text, 0, text.length);  // the firmware image
        int rom0 = as.ldub(0xffff0000L);                                         // 'h'
        // end::access[]
        assertEquals(0x44, b0);
        assertEquals(0x3344, le);
        assertEquals(0x44332211, be);
        assertEquals(0x01, as.ldub(0x200));
        assertEquals(0x0807060504030201L, q);
        assertEquals(0, nothing);
        assertEquals("DECODE_ERROR", why);
        assertEquals(MemTxResult.OK, w);
        assertEquals(MemTxResult.OK, r);
        assertArrayEquals(text, back);
        assertEquals(MemTxResult.DECODE_ERROR, dropped);
        assertEquals(0, as.ldlLe(0xffff0008L));
        assertEquals('h', rom0);
    }

    @Test
    void mmioSplitting() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::split[]
        List<String> calls = new ArrayList<>();
        MemoryRegionOps byteWide = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add("read @" + addr + " size " + size);
                    return 0x10 + addr;
                })
                .write((addr, data, size) -> { })
                .impl(1, 1, false)                 // the callbacks only do single bytes
                .endianness(Endianness.BIG)
                .build();
        system.addSubregion(0x2000, new IoRegion(sys, "dev", byteWide, "dev", 0x100));
        int v = as.ldlBe(0x2000);   // one 4-byte guest access, four device calls
        System.out.println(calls);  // [read @0 size 1, read @1 size 1, read @2 size 1, read @3 size 1]
        System.out.printf("0x%08x%n", v);  // 0x10111213
        // end::split[]
        assertEquals(List.of("read @0 size 1", "read @1 size 1", "read @2 size 1", "read @3 size 1"), calls);
        assertEquals(0x10111213, v);
    }

    @Test
    void bigEndianBoard() {
        // tag::big-endian[]
        MemorySystem sys = new MemorySystem(false, ByteOrder.BIG_ENDIAN);   // a PowerPC board, any host
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", MIB));
        long[] reg = new long[2];
        MemoryRegionOps timerOps = MemoryRegionOps.builder()
                .read((addr, size) -> reg[(int) (addr >> 2)])
                .write((addr, data, size) -> reg[(int) (addr >> 2)] = data)
                .valid(4, 4, false)
                .endianness(Endianness.NATIVE)      // DEVICE_NATIVE_ENDIAN: big-endian on this board
                .build();
        IoRegion timer = new IoRegion(sys, new Object(), timerOps, "timer", 8);
        system.addSubregion(0xf0000000L, timer);
        AddressSpace as = sys.addressSpace(system, "memory");

        as.stl(0x100, 0x11223344);                  // unsuffixed: the target's order, big-endian
        int b0 = as.ldub(0x100);                    // 0x11
        as.stl(0xf0000000L, 0x11223344);            // the callback gets 0x11223344: no swap
        int brx = as.ldlLe(0xf0000000L);            // 0x44332211: a byte-reversed load (lwbrx)
        Endianness order = timer.ops().endianness(); // BIG: the region resolved NATIVE
        EventNotifier kick = EventNotifier.create();
        timer.addEventfd(0x4, 4, true, 1, kick);    // data in the target's order
        as.stl(0xf0000004L, 1);                     // the CPU's own store of 1: signals kick
        boolean kicked = kick.testAndClear();       // true, and the callback was not called
        // end::big-endian[]
        assertEquals(0x11, b0);
        assertEquals(0x11223344L, reg[0]);
        assertEquals(0x44332211, brx);
        assertEquals(Endianness.BIG, order);
        assertTrue(kicked);
        assertEquals(0, reg[1]);
        kick.close();
        sys.close();
    }

    @Test
    void ioeventfd() throws InterruptedException {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::ioeventfd[]
        List<Long> notifies = new ArrayList<>();
        MemoryRegionOps notifyOps = MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> notifies.add(data))   // the slow way: the vCPU does the work
                .valid(2, 2, false)
                .build();
        IoRegion notify = new IoRegion(sys, new Object(), notifyOps, "virtio-pci-notify", 0x1000);
        system.addSubregion(0xfe003000L, notify);

        EventNotifier queue0 = EventNotifier.create();          // a Linux eventfd
        notify.addEventfd(0x0, 2, true, 0, queue0);              // "write 0 (2 bytes) at +0 kicks queue 0"
        Thread worker = Thread.ofPlatform().start(() -> {
            if (queue0.await(Duration.ofSeconds(10)) && queue0.testAndClear()) {
                System.out.println("queue 0 kicked");             // the worker (or a vhost process) runs
            }
        });
        as.stwLe(0xfe003000L, 0);   // the guest's kick: signals queue0, the callback is not called
        as.stwLe(0xfe003000L, 1);   // another value: no eventfd matches, so the callback gets it
        worker.join();
        System.out.println(notifies);                            // [1]
        System.out.println(sys.ioeventfds(as).get(0).addr() == 0xfe003000L);  // true: guest address
        queue0.close();
        // end::ioeventfd[]
        assertEquals(List.of(1L), notifies);
        assertFalse(worker.isAlive());
    }

    /** The machine of the two soft-TLB examples: 1 MiB of RAM at 0, a device answering 0xd0 at 2 MiB. */
    private record TlbMachine(AddressSpace as, RamRegion ram) {
        static TlbMachine create() {
            MemorySystem sys = new MemorySystem();
            ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            AddressSpace as = sys.addressSpace(system, "memory");
            RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
            system.addSubregion(0, ram);
            system.addSubregion(0x200000, new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((a, s) -> 0xd0).write((a, d, s) -> { }).build(), "dev", 0x1000));
            return new TlbMachine(as, ram);
        }
    }

    @Test
    void vcpuTlb() {
        TlbMachine m = TlbMachine.create();
        AddressSpace as = m.as();
        RamRegion ram = m.ram();
        // tag::vcpu-tlb[]
        VcpuTlb tlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED,
                (addr, size, isWrite, result) -> { /* raise the guest's bus error */ });
        tlb.enterBlock();                       // in the CPU loop, where it polls its exit request
        tlb.stlLe(0x1000, 42);                  // miss: the entry is filled, then a direct store
        int hit = tlb.ldlLe(0x1000);            // hit: one tag compare, one host load
        int mmio = tlb.ldlLe(0x200000);         // MMIO page: straight to its device (an io entry)
        ram.setAddress(0x100000);               // the generation moves...
        tlb.enterBlock();                       // ...so the next block entry drops every entry
        int moved = tlb.ldlLe(0x101000);        // 42 again, from the new place
        tlb.flush();                            // before the vCPU halts for long: lets go of its RAM
        // end::vcpu-tlb[]
        assertEquals(42, hit);
        assertEquals(0xd0, mmio);
        assertEquals(42, moved);
        assertEquals(2, tlb.fills(), "0x1000, then 0x101000 after the move; an io entry is no direct fill");
        assertEquals(0, tlb.heldBlocks());
        tlb.close();
    }

    @Test
    void softTlb() {
        TlbMachine m = TlbMachine.create();
        AddressSpace as = m.as();
        RamRegion ram = m.ram();
        // tag::tlb-use[]
        GuideSoftTlb tlb = new GuideSoftTlb(as);
        tlb.stl(0x1000, 42);                    // miss: fill, then a direct store into the segment
        int hit = tlb.ldl(0x1000);              // hit: one tag + generation compare, one load
        int mmio = tlb.ldl(0x200000);           // MMIO page: readDirect() is false, as.ldl() is used
        ram.setAddress(0x100000);               // any topology change bumps as.generation()...
        int moved = tlb.ldl(0x101000);          // ...so every entry refills: 42 again, from the new place
        // end::tlb-use[]
        assertEquals(42, hit);
        assertEquals(0xd0, mmio);
        assertEquals(42, moved);
        assertEquals(3, tlb.fills(), "0x1000, 0x200000, then 0x101000 after the move");
    }

    @Test
    void windowTlb() {
        TlbMachine m = TlbMachine.create();
        AddressSpace as = m.as();
        RamRegion ram = m.ram();
        // tag::window-tlb-use[]
        GuideWindowTlb tlb = new GuideWindowTlb(as);
        tlb.enterBlock();
        tlb.stl(0x1000, 42);                    // miss: the entry takes the RAM section's window
        int hit = tlb.ldl(0x1000);              // hit: one bounds test, one load
        int near = tlb.ldl(0x1000 + 0x40000);   // another page of the same RAM section: its own slot, one fill
        int mmio = tlb.ldl(0x200000);           // MMIO: the window is empty, as.ldl() answers
        ram.setAddress(0x100000);               // the generation moves...
        tlb.enterBlock();                       // ...so the next block starts with an empty TLB
        int moved = tlb.ldl(0x101000);          // 42 again, from the new place
        // end::window-tlb-use[]
        assertEquals(42, hit);
        assertEquals(0, near);
        assertEquals(0xd0, mmio);
        assertEquals(42, moved);
        assertEquals(0, as.ldl(0x1000), "after the move nothing is at 0x1000");
        assertEquals(42, ram.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x1000));
        assertEquals(3, tlb.fills(), "0x1000, 0x41000, 0x101000 (the MMIO page is never cached)");
    }

    @Test
    void selfModifyingCode() {
        // tag::code[]
        MemorySystem sys = new MemorySystem(true);          // a translator runs: RAM logs the CODE client
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        system.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(system, "memory");
        DirtyMemory dirty = sys.dirtyMemory();
        List<String> dropped = new ArrayList<>();
        dirty.setCodeInvalidator((ramAddr, length) -> {
            dropped.add("drop translations of ram_addr 0x" + Long.toHexString(ramAddr));
            // no translations left on the page: let later writes take the fast path again
            dirty.setDirtyRange(ramAddr & ~0xfffL, 4096, DirtyMemory.MASK_CODE);
        });
        // the JIT translates code from guest page 0x3000: clear CODE there (tlb_protect_code)
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, 0x3000, e);
        long pageRamAddr = e.ramAddr();     // the page's place in the dirty bitmaps
        dirty.resetDirty(pageRamAddr, 4096, DirtyMemory.DIRTY_MEMORY_CODE);
        boolean direct = e.writeDirect();   // false: TLB_NOTDIRTY, stores must go through as
        as.stlLe(0x3010, 0x90909090);       // the guest patches its own code
        as.stlLe(0x3020, 0x90909090);       // page unprotected by the hook: no second call
        System.out.println(dropped);        // [drop translations of ram_addr 0x3010]
        // end::code[]
        assertFalse(direct);
        assertNotEquals(0, e.flags() & GuestTlb.TLB_NOTDIRTY);
        assertEquals(ram.ramBlock().offset() + 0x3000, pageRamAddr);
        assertEquals(List.of("drop translations of ram_addr 0x" + Long.toHexString(pageRamAddr + 0x10)), dropped);
        // the window form stores to logged pages through loggedWrite() and marks them: the hook runs
        GuideWindowTlb wt = new GuideWindowTlb(as);
        wt.enterBlock();
        wt.stl(0x3040, 1);                                       // miss: fill, then as.stl
        dirty.resetDirty(pageRamAddr, 4096, DirtyMemory.DIRTY_MEMORY_CODE); // translated again
        long fills = wt.fills();
        wt.stl(0x3050, 0x90909090);                              // hit on loggedWrite(): store, then mark
        assertEquals(fills, wt.fills(), "the store took the window, no refill");
        assertEquals(0x90909090, as.ldlLe(0x3050));
        assertEquals("drop translations of ram_addr 0x" + Long.toHexString(pageRamAddr + 0x50),
                dropped.get(dropped.size() - 1));
    }

    @Test
    void reentrancyGuard() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::reentrancy[]
        Object nic = new Object();                 // the device: owner of its regions
        int[] inner = {-1};
        MemoryRegionOps doorbell = MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> {
                    // a buggy "DMA" that targets the device's own registers (CVE-2021-3750 class)
                    inner[0] = as.stlLe(0xfe000000L, 1);
                })
                .build();
        system.addSubregion(0xfe000000L, new IoRegion(sys, nic, doorbell, "nic-mmio", 0x1000));
        as.stlLe(0xfe000004L, 1);
        System.out.println(MemTxResult.toString(inner[0]));   // ACCESS_ERROR: refused, no recursion
        // end::reentrancy[]
        assertEquals(MemTxResult.ACCESS_ERROR, inner[0]);
    }

    @Test
    void regionDispatch() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::region-dispatch[]
        List<Long> sent = new ArrayList<>();       // what the UART transmitted
        MemoryRegionOps uartOps = MemoryRegionOps.builder()
                .read((addr, size) -> addr == 5 ? 0x60 : 0)      // line status: transmitter empty
                .write((addr, data, size) -> sent.add(data))
                .endianness(Endianness.LITTLE)
                .build();
        IoRegion uart = new IoRegion(sys, new Object(), uartOps, "uart", 8);   // mapped nowhere

        MmioValue fwd = new MmioValue();           // reused: forwarding allocates nothing
        MemoryRegionOps bridgeOps = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    int r = uart.dispatchRead(addr, size, false, MemTxAttrs.UNSPECIFIED, fwd);
                    return r == MemTxResult.OK ? fwd.value : 0xff;   // the bridge's answer to a bad access
                })
                .write((addr, data, size) -> uart.dispatchWrite(addr, data, size, false, MemTxAttrs.UNSPECIFIED))
                .build();
        system.addSubregion(0x3000, new IoRegion(sys, new Object(), bridgeOps, "bridge", 0x10));

        int lsr = as.ldub(0x3005);                 // 0x60: through the bridge to the UART
        as.stb(0x3000, 'A');                       // the UART sends 'A'
        int past = as.ldub(0x3009);                // 0xff: offset 9 is past the UART's 8 bytes
        int direct = uart.dispatchRead(9, 1, false, MemTxAttrs.UNSPECIFIED, fwd);   // DECODE_ERROR
        // end::region-dispatch[]
        assertEquals(0x60, lsr);
        assertEquals(List.of((long) 'A'), sent);
        assertEquals(0xff, past);
        assertEquals(MemTxResult.DECODE_ERROR, direct);
    }

    @Test
    void listenersAndDirtyLogging() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        system.addSubregion(0, ram);
        RamRegion vram = RamRegion.allocate(sys, null, "vram", 64 * KIB);
        system.addSubregion(0xa0000000L, vram);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::listener[]
        List<String> seen = new ArrayList<>();
        MemoryListener kvmLike = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("add " + s.region().name() + " @0x" + Long.toHexString(s.offsetWithinAddressSpace()));
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add("del " + s.region().name() + " @0x" + Long.toHexString(s.offsetWithinAddressSpace()));
            }

            @Override
            public void regionNop(MemoryRegionSection s) {
                seen.add("nop " + s.region().name());
            }

            @Override
            public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
                seen.add("log_start " + s.region().name() + " mask " + oldMask + "->" + newMask);
            }
        };
        sys.registerListener(kvmLike, as);  // replay: region_add for everything already mapped
        System.out.println(seen);            // [add ram @0x0, add vram @0xa0000000]
        seen.clear();
        vram.setAddress(0xb0000000L);        // a move is a del and an add; unchanged ranges are nops
        System.out.println(seen);            // [del vram @0xa0000000, nop ram, add vram @0xb0000000]
        seen.clear();
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);  // a display starts tracking its frame buffer
        System.out.println(seen);            // [nop ram, nop vram, log_start vram mask 0->1]
        List<String> logged = List.copyOf(seen);
        seen.clear();
        sys.unregisterListener(kvmLike);     // region_del for everything still mapped
        System.out.println(seen);            // [del ram @0x0, del vram @0xb0000000]
        // end::listener[]
        assertEquals(List.of("nop ram", "nop vram", "log_start vram mask 0->1"), logged);
        assertEquals(List.of("del ram @0x0", "del vram @0xb0000000"), seen);
    }

    @Test
    void listenerSequences() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", MIB));
        RamRegion vram = RamRegion.allocate(sys, null, "vram", 64 * KIB);
        system.addSubregion(0xa0000000L, vram);
        AddressSpace as = sys.addressSpace(system, "memory");
        List<String> seen = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("add " + s.region().name() + " @0x" + Long.toHexString(s.offsetWithinAddressSpace()));
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add("del " + s.region().name() + " @0x" + Long.toHexString(s.offsetWithinAddressSpace()));
            }

            @Override
            public void regionNop(MemoryRegionSection s) {
                seen.add("nop " + s.region().name());
            }
        }, as);
        assertEquals(List.of("add ram @0x0", "add vram @0xa0000000"), seen);
        seen.clear();
        vram.setAddress(0xb0000000L);
        assertEquals(List.of("del vram @0xa0000000", "nop ram", "add vram @0xb0000000"), seen);
    }

    @Test
    void vgaDirtyLog() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion vram = RamRegion.allocate(sys, null, "vram", 64 * KIB);
        system.addSubregion(0xa0000000L, vram);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::dirty[]
        vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        DirtyMemory dirty = sys.dirtyMemory();
        long base = vram.ramBlock().offset();       // dirty bitmaps are indexed by ram_addr
        long size = vram.size();
        dirty.snapshotAndClearDirty(base, size, DirtyMemory.DIRTY_MEMORY_VGA); // new blocks start dirty
        as.stlLe(0xa0002010L, 0xffffff);            // the guest draws a pixel...
        as.stlLe(0xa0005000L, 0xffffff);            // ...and another, three pages further
        DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(base, size, DirtyMemory.DIRTY_MEMORY_VGA);
        List<Long> pages = new ArrayList<>();
        snap.forEachDirtyPage(ramAddr -> pages.add((ramAddr - base) / 4096));
        System.out.println(pages);                  // [2, 5]: redraw those two pages
        // end::dirty[]
        assertEquals(List.of(2L, 5L), pages);
        assertEquals(2, snap.dirtyPageCount());
        // tag::region-dirty[]
        as.stlLe(0xa0003000L, 0x00ff00);                    // one more pixel, on page 3 of vram
        DirtyBitmapSnapshot lines = vram.snapshotAndClearDirty(0, vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        boolean redraw3 = vram.snapshotGetDirty(lines, 0x3000, 0x400);  // region offsets, as a display asks
        boolean redraw4 = vram.snapshotGetDirty(lines, 0x4000, 0x400);
        System.out.println(redraw3 + " " + redraw4);        // true false
        // end::region-dirty[]
        assertTrue(redraw3);
        assertFalse(redraw4);
    }

    @Test
    void globalDirtyLog() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        system.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::migration[]
        List<String> seen = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void logGlobalStart() {
                seen.add("log_global_start");
            }

            @Override
            public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
                seen.add("log_start " + s.region().name() + " " + oldMask + "->" + newMask);
            }
        }, as);
        sys.globalDirtyLogStart();   // migration begins: every RAM region logs the MIGRATION client
        System.out.println(seen);    // [log_global_start, log_start ram 0->4]
        sys.globalDirtyLogStop();
        // end::migration[]
        assertEquals(List.of("log_global_start", "log_start ram 0->4"), seen);
    }

    @Test
    void dma() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", MIB));
        system.addSubregion(0x10000000L, new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((a, s) -> 0).write((a, d, s) -> { }).build(), "fifo", 0x10000));
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::dma[]
        // RAM maps directly: the segment is guest memory
        DmaMapping m = as.map(0x4000, 8192, true, MemTxAttrs.UNSPECIFIED);
        m.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0xcafe);
        boolean bounced = m.isBounce();                   // false
        m.unmap(8192);                                    // bytes written: marks them dirty
        int seen = as.ldlLe(0x4000);                      // 0xcafe

        // MMIO maps through a bounded bounce buffer; when it is exhausted map returns null
        as.setMaxBounceBufferSize(4096);
        DmaMapping b1 = as.map(0x10000000L, 4096, false, MemTxAttrs.UNSPECIFIED);  // isBounce()
        DmaMapping b2 = as.map(0x10001000L, 4096, false, MemTxAttrs.UNSPECIFIED);  // null: no space
        boolean[] retry = {false};
        as.registerMapClient(() -> retry[0] = true);      // called once space is back
        b1.unmap(0);                                      // retry[0] is now true

        // a region cache for a descriptor ring the device reads over and over (virtio)
        MemoryRegionCache ring = new MemoryRegionCache();
        long cached = ring.init(as, 0x8000, 256, true);   // 256: all of it is directly accessible
        ring.stwLe(2, 7);                                 // avail->idx = 7
        ring.invalidate(2, 2);                            // logs the direct store (cache_invalidate)
        MemTxResultHolder res = new MemTxResultHolder();
        int idx = ring.lduwLe(2, MemTxAttrs.UNSPECIFIED, res); // with attrs, as lduw_le_cached
        ring.destroy();
        // end::dma[]
        assertEquals(0xcafe, seen);
        assertFalse(bounced);
        assertTrue(b1.isBounce());
        assertNull(b2);
        assertTrue(retry[0]);
        assertEquals(256, cached);
        assertTrue(ring.length() == 0 || ring.length() == 256);
        assertEquals(7, idx);
        assertEquals(7, as.lduwLe(0x8002));
    }

    @Test
    void iommu() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", MIB));
        AddressSpace memory = sys.addressSpace(system, "memory");
        ContainerRegion pciRoot = new ContainerRegion(sys, null, "pci-root", MemoryRegion.SIZE_2_64);
        AddressSpace pci = sys.addressSpace(pciRoot, "pci");
        memory.stlLe(0x4010, 0x1234);
        // tag::iommu[]
        // the model: a table of 4 KiB pages, each mapped read-write into `memory`
        Map<Long, Long> table = new ConcurrentHashMap<>();
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", MIB, (addr, flag, idx, out) -> {
            Long to = table.get(addr & ~0xFFFL);
            out.iova = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            if (to != null) {
                out.targetAs = memory;
                out.translatedAddr = to;
                out.perm = IommuTlbEntry.RW;
            }
        });
        pciRoot.addSubregion(0, iommu);                   // the device's DMA goes through it
        table.put(0x1000L, 0x4000L);
        int v = pci.ldlLe(0x1010);                        // 0x1234: memory's 0x4010
        int none = pci.ldlLe(0x2000, MemTxAttrs.UNSPECIFIED, new MemTxResultHolder()); // 0: unassigned

        // a device-side cache (vfio's shadow map) follows the mappings through a notifier
        Map<Long, Long> shadow = new TreeMap<>();
        IommuNotifier n = new IommuNotifier((x, e) -> {
            if (e.perm == IommuTlbEntry.NONE) {
                shadow.remove(e.iova);
            } else {
                shadow.put(e.iova, e.translatedAddr);
            }
        }, IommuNotifier.IOTLB_EVENTS, 0, MIB - 1, 0);
        iommu.notifiers().register(n);
        iommu.notifiers().replay(n);                      // shadow: {0x1000=0x4000}
        // end::iommu[]
        assertEquals(Map.of(0x1000L, 0x4000L), shadow);
        // tag::iommu-tlb[]
        // the JIT fast path caches the page behind the IOMMU...
        TlbEntry page = new TlbEntry();
        GuestTlb.fill(pci, 0x1000, page);                 // direct: offset 0x4000 of the RAM
        // ...until the model unmaps it and tells the notifiers
        table.remove(0x1000L);
        iommu.notifiers().notify(0, IommuNotifier.UNMAP,
                new IommuTlbEntry(memory, 0x1000, 0, 0xFFF, IommuTlbEntry.NONE));
        boolean stale = page.generation() != pci.generation(); // true; shadow: {}
        // end::iommu-tlb[]
        assertEquals(0x1234, v);
        assertEquals(0, none);
        assertTrue(page.readDirect());
        assertEquals(0x4000, page.hostOffset());
        assertTrue(stale);
        assertEquals(Map.of(), shadow);
        MemTxResultHolder r = new MemTxResultHolder();
        pci.ldlLe(0x2000, U, r);
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
    }

    @Test
    void secureWorlds() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "cpu-memory");
        RamRegion ssram = RamRegion.allocate(sys, null, "ssram", 4 * KIB);
        ssram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x5ec);
        AddressSpace sram = sys.addressSpace(ssram, "mpc-downstream");
        AddressSpace blocked = sys.addressSpace(new IoRegion(sys, null, MemoryRegionOps.builder()
                .read((addr, size) -> 0).write((addr, data, size) -> { }).build(), "mpc-blocked-io", 4 * KIB),
                "mpc-blocked-io");
        // tag::secure-worlds[]
        MemTxAttrs secure = new MemTxAttrs(false, true, false, false, false, 0);
        MemTxAttrs nonSecure = MemTxAttrs.NONE;
        boolean[] blockIsNs = {true};                     // the MPC's lookup table: one block
        IommuRegion mpc = new IommuRegion(sys, null, "mpc-upstream", 4 * KIB, new IommuOps() {
            @Override
            public void translate(long addr, int flag, int idx, IommuTlbEntry out) {
                out.iova = addr & ~0xFFFL;
                out.translatedAddr = out.iova;
                out.addrMask = 0xFFF;
                out.perm = IommuTlbEntry.RW;
                out.targetAs = blockIsNs[0] == (idx == 1) ? sram : blocked; // blocked: RAZ/WI region
            }

            @Override
            public int attrsToIndex(MemTxAttrs attrs) {
                return attrs.secure() || attrs.unspecified() ? 0 : 1;     // 0 secure, 1 non-secure
            }

            @Override
            public int numIndexes() {
                return 2;
            }
        });
        system.addSubregion(0x2800_0000L, mpc);
        // one TLB per world: an entry does not record the attributes it was filled with
        TlbEntry nsEntry = new TlbEntry();
        TlbEntry sEntry = new TlbEntry();
        GuestTlb.fill(as, 0x2800_0000L, nonSecure, nsEntry); // direct: the SRAM
        GuestTlb.fill(as, 0x2800_0000L, secure, sEntry);     // TLB_MMIO: the blocked region
        // the secure firmware takes the block back: change the table first, then notify
        blockIsNs[0] = false;
        IommuTlbEntry gone = new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.NONE);
        mpc.notifiers().notify(0, IommuNotifier.UNMAP, gone);
        mpc.notifiers().notify(1, IommuNotifier.UNMAP, gone);
        boolean refill = nsEntry.generation() != as.generation(); // true: both worlds refill
        // end::secure-worlds[]
        assertTrue(nsEntry.readDirect());
        assertEquals(0x5ec, nsEntry.segment().get(ValueLayout.JAVA_INT_UNALIGNED, nsEntry.hostOffset()));
        assertFalse(sEntry.readDirect());
        assertTrue((sEntry.flags() & GuestTlb.TLB_MMIO) != 0);
        assertTrue(refill);
        assertTrue(sEntry.generation() != as.generation());
        assertFalse(GuestTlb.fill(as, 0x2800_0000L, nonSecure, nsEntry));
        assertTrue(GuestTlb.fill(as, 0x2800_0000L, secure, sEntry));
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(0x2800_0000L, nonSecure, r));
        assertEquals(MemTxResult.OK, r.get());
        assertEquals(0x5ec, as.ldlLe(0x2800_0000L, secure, r));
    }

    @Test
    void ramBackends(@TempDir Path dir) throws IOException {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::backends[]
        // memory-backend-memfd,share=on: an fd another process can map (sealed against resizing)
        RamBlock mem0 = RamBlock.builder("mem0", 2 * MIB).memfd().build();
        system.addSubregion(0, new RamRegion(sys, null, "mem0", mem0, false, false));
        mem0.close();                       // the region holds its own reference

        // memory-backend-file,share=on: guest writes reach the file
        Path file = dir.resolve("guest.ram");
        RamBlock pmem = RamBlock.builder("pmem", 2 * MIB).file(file).shared(true).build();
        system.addSubregion(0x100000000L, new RamRegion(sys, null, "pmem", pmem, false, false));
        as.stqLe(0x100000000L, 0x1122334455667788L);
        pmem.msync();                       // qemu_ram_msync: written back and waited for
        byte[] head = new byte[8];
        try (FileChannel ch = FileChannel.open(file)) {
            ch.read(java.nio.ByteBuffer.wrap(head));    // 88 77 66 55 44 33 22 11
        }
        pmem.discard(0, 4096);              // punches a hole: the page reads as zero again
        long after = as.ldqLe(0x100000000L);          // 0
        pmem.close();
        // end::backends[]
        assertTrue(mem0.fd() >= 0 && mem0.isShared());
        assertArrayEquals(new byte[] {(byte) 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, head);
        assertEquals(0, after);
    }

    @Test
    void resizeable() {
        MemorySystem sys = new MemorySystem();
        // tag::resize[]
        List<String> told = new ArrayList<>();
        RamBlock vram = RamBlock.builder("vga.vram", 8 * MIB)
                .resizeable(64 * MIB, (id, size, host) -> told.add(id + " now " + (size >> 20) + " MiB"))
                .build();                   // 64 MiB reserved, 8 MiB in use
        sys.ramList().add(vram);            // placed in the machine's ram_addr space
        sys.lock().lock();                  // a resize is a topology change: under the system lock
        try {
            vram.resize(16 * MIB);          // e.g. an incoming migration brings a bigger size
        } finally {
            sys.lock().unlock();
        }
        System.out.println(told);           // [vga.vram now 16 MiB]
        // end::resize[]
        assertEquals(List.of("vga.vram now 16 MiB"), told);
        assertEquals(16 * MIB, vram.usedLength());
        vram.close();
    }

    @Test
    void regionFromHost() {
        MemorySystem sys = new MemorySystem();
        RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        long hostAddress = ram.ramBlock().hostAddress() + 0x1234;   // a pointer into the block
        MemoryRegion found = null;
        long foundOffset = -1;
        // tag::host[]
        HostRegionLocation loc = sys.regionFromHost(hostAddress);  // or regionFromHost(segment)
        if (loc != null) {
            MemoryRegion mr = loc.region();     // the RAM, ROM, RAM-device or ROM-device region
            long offset = loc.offset();         // from the block's start, not rounded
            // end::host[]
            found = mr;
            foundOffset = offset;
            // tag::host-at[]
        }
        MemoryRegion mr = sys.regionAtHost(hostAddress); // allocation-free; offset = host - mr.ramBlock().hostAddress()
        // end::host-at[]
        assertSame(ram, found);
        assertEquals(0x1234, foundOffset);
        assertSame(ram, mr);
        assertEquals(0x1234, hostAddress - mr.ramBlock().hostAddress());
        assertEquals(loc, sys.regionFromHost(ram.ramBlock().segment().asSlice(0x1234)));
    }

    @Test
    void hostRange() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 64 * MIB);
        system.addSubregion(0, ram);
        system.addSubregion(0xe0000000L, new AliasRegion(sys, null, "ram-window", ram, 0x10000, 64 * KIB));
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::host-range[]
        Translation out = new Translation();                 // reusable: translate allocates nothing
        PhysSection s = as.translate(0xe0000000L, MIB, false, MemTxAttrs.UNSPECIFIED, out);
        RamBlock served = s.ramBlock();                      // ram's block (null for MMIO and holes)
        long hostOffset = s.segmentOffsetOf(out.xlat());      // 0x10000 in s.segment()
        long run = out.plen();                               // 64 KiB: the alias ends there
        boolean plainRead = (s.flags() & PhysSection.DIRECT_READ) != 0
                && (s.flags() & PhysSection.FAULT_PRONE) == 0;  // true: one MemorySegment.copy
        boolean logged = (s.flags() & PhysSection.DIRTY_LOGGING) != 0;   // false: writes set no bits
        // end::host-range[]
        assertSame(ram.ramBlock(), served);
        assertSame(ram.ramBlock().segment(), s.segment());
        assertEquals(0x10000, hostOffset);
        assertEquals(64 * KIB, run);
        assertTrue(plainRead);
        assertFalse(logged);
    }

    @Test
    void releaseSemantics() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::release[]
        RamRegion hotplug = RamRegion.allocate(sys, null, "dimm0", MIB);
        system.addSubregion(0x40000000L, hotplug);
        RamBlock block = hotplug.ramBlock();
        DmaMapping inFlight = as.map(0x40000000L, 4096, true, MemTxAttrs.UNSPECIFIED);

        system.delSubregion(hotplug);       // unplug: no longer in the memory map...
        hotplug.destroy();                  // ...and its creator lets go
        boolean stillMapped = !block.isReleased();   // true: the DMA mapping holds the block
        inFlight.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1);  // safe: memory still mapped
        inFlight.unmap(1);                  // last user gone: the block is unmapped now
        boolean released = block.isReleased();       // true
        // block.segment().get(...) would now throw IllegalStateException, never touch unmapped memory
        // end::release[]
        assertTrue(stillMapped);
        assertTrue(released);
        assertTrue(hotplug.isFinalized());
    }

    @Test
    void sigbus(@TempDir Path dir) throws IOException {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        Path file = dir.resolve("ram.img");
        // tag::sigbus[]
        RamBlock disk = RamBlock.builder("ram.img", 1 * MIB).file(file).shared(true).build();
        system.addSubregion(0, new RamRegion(sys, null, "ram.img", disk, false, false));
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(0);                 // someone else shrinks the file under the mapping
        }
        MemTxResultHolder res = new MemTxResultHolder();
        int v = as.ldlLe(0x8000, MemTxAttrs.UNSPECIFIED, res);   // SIGBUS, caught: 0 and ERROR
        System.out.println(MemTxResult.toString(res.get()) + " " + disk.isBroken()); // ERROR true
        System.out.println(disk.brokenReason());
        // end::sigbus[]
        assertEquals(0, v);
        assertEquals(MemTxResult.ERROR, res.get());
        assertTrue(disk.isBroken());
        assertNotNull(disk.brokenReason());
        disk.close();
    }

    @Test
    void snapshots(@TempDir Path dir) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 4 * MIB);
        system.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::snapshot[]
        RamBlock block = ram.ramBlock();
        List<SnapshotBlock> blocks = List.of(SnapshotBlock.of(block)); // named "ram", 4 KiB pages
        DirtyMemory dirty = sys.dirtyMemory();
        as.stlLe(0x1000, 1);
        sys.globalDirtyLogStart();              // MIGRATION client on: writes are logged from here
        dirty.snapshotAndClearDirty(block.offset(), block.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        long fullId = SnapshotWriter.write(dir.resolve("full.gms"), blocks, ProgressListener.NONE);

        as.stlLe(0x3000, 2);                    // one page changes after the full snapshot
        DirtyBitmapSnapshot changed = dirty.snapshotAndClearDirty(block.offset(), block.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        long inc1Id = SnapshotWriter.writeIncremental(dir.resolve("inc1.gms"), fullId, blocks,
                Map.of("ram", DirtyPages.ofDirtyLog(changed, block.offset(), 4096, block.usedLength() / 4096)),
                ProgressListener.NONE);         // holds page 3 only

        as.stlLe(0x3000, 3);                    // and again: the next increment's base is the last one
        changed = dirty.snapshotAndClearDirty(block.offset(), block.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        SnapshotWriter.writeIncremental(dir.resolve("inc2.gms"), inc1Id, blocks,
                Map.of("ram", DirtyPages.ofDirtyLog(changed, block.offset(), 4096, block.usedLength() / 4096)),
                ProgressListener.NONE);
        sys.globalDirtyLogStop();

        // eager restore into fresh RAM: the full file, then each increment on top, oldest first
        RamBlock fresh = RamBlock.anonymous("ram", 4 * MIB);
        try (SnapshotFile full = SnapshotFile.open(dir.resolve("full.gms"));
             SnapshotFile inc1 = SnapshotFile.open(dir.resolve("inc1.gms"));
             SnapshotFile inc2 = SnapshotFile.open(dir.resolve("inc2.gms"))) {
            SnapshotChain chain = new SnapshotChain(List.of(full, inc1, inc2)); // checks each base id
            SnapshotRestorer.restore(chain, List.of(SnapshotBlock.of(fresh)),
                    true, ProgressListener.NONE);     // true: check every page's CRC32C
        }
        int p1 = fresh.ldlHe(0x1000);            // 1
        int p3 = fresh.ldlHe(0x3000);            // 3
        // end::snapshot[]
        assertEquals(1, p1);
        assertEquals(3, p3);
        try (SnapshotFile inc = SnapshotFile.open(dir.resolve("inc1.gms"));
             SnapshotFile inc2 = SnapshotFile.open(dir.resolve("inc2.gms"))) {
            assertTrue(inc.incremental());
            assertEquals(fullId, inc.baseId());
            assertEquals(inc1Id, inc2.baseId());
            assertEquals(1, inc.block("ram").storedPages(), "page 3 only");
        }
        fresh.close();
    }

    @Test
    void lazyRestore(@TempDir Path dir) throws InterruptedException {
        RamBlock saved = RamBlock.anonymous("ram", 4 * MIB);
        saved.stlHe(0x2000, 0x5a5a);
        SnapshotWriter.write(dir.resolve("full.gms"),
                List.of(new SnapshotBlock("ram", saved.segment(), 4096)), ProgressListener.NONE);
        saved.close();
        // tag::lazy[]
        RamBlock ram = RamBlock.anonymous("ram", 4 * MIB);
        try (SnapshotFile full = SnapshotFile.open(dir.resolve("full.gms"));
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(full),
                     List.of(SnapshotBlock.of(ram)), LazyRestore.Options.DEFAULT)) {
            // the guest can run now; a first touch waits in the kernel until the page server copies it
            int v = ram.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x2000);   // 0x5a5a
            boolean fenced = ram.canFault();                                     // true: pages may be poisoned
            boolean done = restore.awaitComplete(Duration.ofSeconds(30));        // prefetch finishes the rest
            boolean direct = !ram.canFault();                                    // true: fence lifted
            System.out.println(Integer.toHexString(v) + " " + restore.state() + " " + restore.metrics());
            // end::lazy[]
            assertEquals(0x5a5a, v);
            assertTrue(fenced);
            assertTrue(direct);
            assertTrue(done);
            assertEquals(LazyRestore.State.COMPLETE, restore.state());
        }
        ram.close();
    }

    @Test
    void discardRam() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        AddressSpace as = sys.addressSpace(system, "memory");
        // tag::discard[]
        RamRegion hotplug = RamRegion.allocate(sys, null, "vmem0", 8 * MIB);
        BitmapRamDiscardManager vmem = BitmapRamDiscardManager.attach(hotplug, 2 * MIB); // before mapping
        system.addSubregion(0x1_0000_0000L, hotplug);
        List<String> dma = new ArrayList<>();
        RamDiscardListener mapper = RamDiscardListener.ramDiscardListener(  // what VFIO registers
                s -> dma.add("map " + Long.toHexString(s.offsetWithinAddressSpace()) + "+" + (s.size() >> 20) + "M"),
                s -> dma.add("unmap " + Long.toHexString(s.offsetWithinAddressSpace()) + "+" + (s.size() >> 20) + "M"),
                true);                                                    // one unmap may span holes
        MemoryRegionSection section = hotplug.find(0, hotplug.size());   // as region_add shows it
        vmem.registerListener(mapper, section);                          // replays what is plugged
        section.release();                                               // the manager keeps a copy
        vmem.plug(0, 4 * MIB);           // listeners first (any may refuse), then plugged
        vmem.unplug(2 * MIB, 2 * MIB);   // discarded (reads as zeros), then listeners told
        System.out.println(dma);         // [map 100000000+4M, unmap 100200000+2M]
        sys.globalDirtyLogStart();       // migration starts: unplugged RAM is not to be sent
        System.out.println(DiscardedRam.clearDiscardedFromMigrationLog(hotplug)); // 1536 pages
        // end::discard[]
        assertEquals(List.of("map 100000000+4M", "unmap 100200000+2M"), dma);
        assertEquals(2 * MIB, vmem.pluggedSize());
        assertEquals(0, as.ldub(0x1_0020_0000L));
        DirtyBitmapSnapshot snap = hotplug.snapshotAndClearDirty(0, 8 * MIB, MemoryRegion.DIRTY_MEMORY_MIGRATION);
        assertEquals(512, snap.dirtyPageCount(), "only the plugged 2 MiB stays dirty");
        sys.globalDirtyLogStop();
    }

    /**
     * Attaches as soon as the server listens: its socket file appears at bind, a moment before listen,
     * and a connect in between is refused (seen once under load: the peer thread ended, the server
     * waited out both serveOne calls).
     */
    private static SharedMachine attachOnceListening(String sock) {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try {
                return SharedMachine.attach(sock, Duration.ofSeconds(30));
            } catch (dev.guestmem.share.ShareException refused) {
                if (System.nanoTime() > deadline) {
                    throw refused;
                }
                Thread.onSpinWait();
            }
        }
    }

    /**
     * Guide §8, memory hotplug on a shared machine: a peer attaching after the plug gets the DIMM, one
     * attaching after the unplug does not, and the first keeps the unplugged DIMM's bytes. The server
     * sends the layout when it accepts, so the peer's second connection gets the layout after the unplug.
     */
    @Test
    void sharedHotplug(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("ram.sock").toString();
        List<List<SharedRamRegion>> layouts = new ArrayList<>();
        long[] keptBytes = new long[1];
        Thread peer = Thread.ofPlatform().daemon().start(() -> {
            // attach connects at once: wait for the server's socket file (its bind), as a peer
            // process started after the server would
            while (!Files.exists(Path.of(sock))) {
                Thread.onSpinWait();
            }
            try (SharedMachine first = attachOnceListening(sock);
                 SharedMachine second = SharedMachine.attach(sock, Duration.ofSeconds(30))) {
                layouts.add(first.layout());
                layouts.add(second.layout());
                keptBytes[0] = first.addressSpace().ldqLe(0x1_0000_0000L);
            }
        });
        // tag::share-hotplug[]
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 64 * MIB)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            m.plug(new SharedRamRegion("dimm0", 0x1_0000_0000L, 128 * MIB)); // a new sealed memfd, zero-filled
            m.addressSpace().stqLe(0x1_0000_0000L, 42);
            server.serveOne(Duration.ofSeconds(30)); // a peer attaching now gets ram0 and dimm0
            m.unplug("dimm0");                        // this side no longer reaches dimm0's bytes
            server.serveOne(Duration.ofSeconds(30)); // a peer attaching now gets ram0 only
        }
        // end::share-hotplug[]
        peer.join(Duration.ofSeconds(30));
        assertEquals(List.of(List.of("ram0", "dimm0"), List.of("ram0")),
                layouts.stream().map(l -> l.stream().map(SharedRamRegion::name).toList()).toList());
        assertEquals(42, keptBytes[0], "the first peer kept the unplugged DIMM's bytes");
    }

    /**
     * Guide §8, a peer following the layout: the server's plug after the attach is pushed to it and
     * mapped there, and a write through it reaches the server's DIMM.
     */
    @Test
    void sharedFollow(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("ram.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 64 * MIB)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            Thread serverSide = Thread.ofPlatform().daemon().start(() -> {
                server.serveOne(Duration.ofSeconds(30));
                while (server.following() == 0) {
                    Thread.onSpinWait(); // the peer's request is read on the server's handshake thread
                }
                m.plug(new SharedRamRegion("dimm0", 0x1_0000_0000L, 128 * MIB));
            });
            List<LayoutChange> told = new java.util.concurrent.CopyOnWriteArrayList<>();
            List<SharedRamRegion> start;
            // tag::share-follow[]
            try (SharedMachine peer = SharedMachine.attachFollowing(sock, Duration.ofSeconds(30))) {
                start = peer.addLayoutListener(told::add); // told of each later change, on the follow thread
                if (peer.awaitLayoutChanges(1, Duration.ofSeconds(30))) { // the server plugged dimm0: mapped here
                    peer.addressSpace().stqLe(0x1_0000_0000L, 7);          // the server reads 7
                }
            }
            // end::share-follow[]
            serverSide.join(Duration.ofSeconds(30));
            assertEquals(7, m.addressSpace().ldqLe(0x1_0000_0000L));
            // the plug is in the layout the listener started from, or told to it: never both, never neither
            assertEquals(start.size() == 2 ? List.of() : List.of(new LayoutChange(LayoutChange.Kind.PLUGGED,
                    new SharedRamRegion("dimm0", 0x1_0000_0000L, 128 * MIB))), told);
        }
    }

    /** Every tagged example above appears verbatim (re-indented) in docs/guide.md. */
    @Test
    void guideShowsTheseExamples() throws IOException {
        Path self = Path.of("src/test/java/dev/guestmem/docs/GuideExamplesTest.java");
        Path helper = Path.of("src/test/java/dev/guestmem/docs/GuideSoftTlb.java");
        Path windows = Path.of("src/test/java/dev/guestmem/docs/GuideWindowTlb.java");
        String guide = Files.readString(Path.of("../docs/guide.md"));
        int found = 0;
        for (Path p : List.of(self, helper, windows)) {
            Matcher m = Pattern.compile("(?s)// tag::([a-z-]+)\\[\\]\\n(.*?)\\n\\s*// end::\\1\\[\\]")
                    .matcher(Files.readString(p));
            while (m.find()) {
                String body = dedent(m.group(2));
                assertTrue(guide.contains(body), "docs/guide.md lacks example '" + m.group(1) + "':\n" + body);
                found++;
            }
        }
        assertTrue(found >= 15, "found " + found + " tagged examples");
    }

    private static String dedent(String block) {
        List<String> lines = block.lines().toList();
        int indent = lines.stream().filter(l -> !l.isBlank())
                .mapToInt(l -> l.length() - l.stripLeading().length()).min().orElse(0);
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        return sb.toString();
    }
}
