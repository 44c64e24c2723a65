package dev.guestmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionTeardown;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** {@link MemorySystem#close()}: what a machine made goes, what the user made stays the user's. */
class MemorySystemCloseTest {
    private static final long MIB = 1 << 20;

    /** A small machine: RAM, an alias of it, a device, a nested container, one address space. */
    private static final class Board {
        final MemorySystem sys = new MemorySystem();
        final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        final RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        final AliasRegion low = new AliasRegion(sys, null, "ram-low", ram, 0, 0x1000);
        final ContainerRegion bus = new ContainerRegion(sys, null, "bus", 0x10000);
        final IoRegion dev = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0x5a)
                .write((a, d, s) -> { }).build(), "dev", 0x100);
        final AddressSpace as;

        Board() {
            root.addSubregion(0x10_0000, ram);
            root.addSubregion(0, low);
            bus.addSubregion(0x100, dev);
            root.addSubregion(0x4000_0000L, bus);
            as = sys.addressSpace(root, "memory");
        }
    }

    @Test
    void closeDestroysTheTreeAndUnmapsTheRamTheMachineAllocated() {
        Board b = new Board();
        RamBlock block = b.ram.ramBlock();
        assertEquals(MemTxResult.OK, b.as.stlLe(0x10_0000, 7));

        b.sys.close();

        assertTrue(b.sys.isClosed());
        for (MemoryRegion r : List.of(b.root, b.ram, b.low, b.bus, b.dev)) {
            assertTrue(r.isFinalized(), r.name());
        }
        assertTrue(block.isReleased());
        assertFalse(block.segment().scope().isAlive());
        assertEquals(List.of(), b.sys.addressSpaces());
        assertEquals(null, b.sys.ramList().blockByName("ram"));
    }

    @Test
    void aKeptAddressSpaceHandleAnswersDecodeErrors() {
        Board b = new Board();
        b.sys.close();
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0, b.as.ldlLe(0x10_0000, MemTxAttrs.UNSPECIFIED, res));
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, b.as.stlLe(0x10_0000, 1));
    }

    @Test
    void aBlockTheUserBuiltKeepsTheUsersReference() {
        MemorySystem sys = new MemorySystem();
        try (RamBlock mine = RamBlock.anonymous("mine", MIB)) {
            RamRegion r = new RamRegion(sys, null, "mine", mine, false, false);
            ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            root.addSubregion(0, r);
            AddressSpace as = sys.addressSpace(root, "memory");
            as.stqLe(8, 0x1122334455667788L);

            sys.close();

            assertTrue(r.isFinalized());
            assertFalse(mine.isReleased());
            assertEquals(1, mine.refCount());
            assertEquals(0x1122334455667788L, mine.ldqHe(8)); // the memory is the user's, as it was
        }
    }

    @Test
    void aUserBlockLeavesTheClosedMachineAndCanBackAnotherOne() {
        MemorySystem first = new MemorySystem();
        try (RamBlock mine = RamBlock.anonymous("mine", MIB)) {
            ContainerRegion root = new ContainerRegion(first, null, "system", MemoryRegion.SIZE_2_64);
            root.addSubregion(0, new RamRegion(first, null, "ram", mine, false, false));
            first.addressSpace(root, "memory").stqLe(8, 0x55);

            first.close();

            assertEquals(null, mine.ramList(), "the closed machine's RAM list still holds the user's block");
            assertEquals(List.of(), first.ramList().blocks());
            MemorySystem second = new MemorySystem(); // the same memory, a new machine (a reboot, say)
            ContainerRegion root2 = new ContainerRegion(second, null, "system", MemoryRegion.SIZE_2_64);
            root2.addSubregion(0, new RamRegion(second, null, "ram", mine, false, false));
            assertEquals(0x55, second.addressSpace(root2, "memory").ldqLe(8));
            second.close();
            assertEquals(1, mine.refCount());
        }
    }

    @Test
    void aWrapperClosedAfterItsSystemClosesQuietly() {
        SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, MIB)));
        RamBlock block = m.blocks().getFirst();
        m.system().close();

        m.close(); // its space and regions are gone already: nothing left to refuse

        assertTrue(block.isReleased());
        // A part-teardown of spaces and regions the close took already does nothing either.
        Board b = new Board();
        b.sys.close();
        RegionTeardown.destroy(b.sys, List.of(b.as), List.of(b.root, b.ram));
    }

    @Test
    void ramRegionsNeverMappedAreDestroyedToo() {
        MemorySystem sys = new MemorySystem();
        RamRegion spare = RamRegion.allocate(sys, null, "spare", MIB);
        ContainerRegion holder = new ContainerRegion(sys, null, "holder", 2 * MIB);
        RamRegion inHolder = RamRegion.allocate(sys, null, "in-holder", MIB);
        holder.addSubregion(0, inHolder);
        RamBlock a = spare.ramBlock();
        RamBlock b = inHolder.ramBlock();

        sys.close();

        assertTrue(spare.isFinalized());
        assertTrue(holder.isFinalized());
        assertTrue(inHolder.isFinalized());
        assertTrue(a.isReleased());
        assertTrue(b.isReleased());
    }

    @Test
    void aSectionHeldElsewhereKeepsItsBlockUntilReleased() {
        Board b = new Board();
        RamBlock block = b.ram.ramBlock();
        MemoryRegionSection held = b.root.find(0x10_0000, 0x1000); // takes a reference
        assertSame(b.ram, held.region());

        b.sys.close();

        assertTrue(b.ram.isDestroyed());
        assertFalse(b.ram.isFinalized());
        assertFalse(block.isReleased());
        held.release();
        assertTrue(b.ram.isFinalized());
        assertTrue(block.isReleased());
    }

    @Test
    void listenersHearEveryRangeGoAndAreUnregistered() {
        Board b = new Board();
        List<String> heard = new ArrayList<>();
        MemoryListener l = new MemoryListener() {
            @Override
            public void regionDel(MemoryRegionSection s) {
                heard.add("del " + s.region().name());
            }
        };
        b.sys.registerListener(l, b.as);
        int ranges = b.as.currentMap().rangeCount();

        b.sys.close();

        assertEquals(ranges, heard.size());
        // the alias's range names its target, as QEMU's sections do
        assertEquals(List.of("del dev", "del ram", "del ram"), heard.stream().sorted().toList());
        b.sys.unregisterListener(l); // not registered any more: does nothing
        assertEquals(ranges, heard.size());
    }

    @Test
    void aThrowingListenerDoesNotStopTheTeardown() {
        Board b = new Board();
        RamBlock block = b.ram.ramBlock();
        b.sys.registerListener(new MemoryListener() {
            @Override
            public void regionDel(MemoryRegionSection s) {
                throw new IllegalStateException("listener broke on " + s.region().name());
            }
        }, null);

        IllegalStateException e = assertThrows(IllegalStateException.class, b.sys::close);

        assertTrue(e.getMessage().startsWith("listener broke on"), e.getMessage());
        assertTrue(b.sys.isClosed());
        assertTrue(b.ram.isFinalized());
        assertTrue(block.isReleased());
        b.sys.close(); // twice: nothing more happens
    }

    @Test
    void aDiscardManagedRegionIsDetachedAndDestroyed() {
        MemorySystem sys = new MemorySystem();
        RamRegion mem = RamRegion.allocate(sys, null, "virtio-mem", 4 * MIB);
        BitmapRamDiscardManager m = BitmapRamDiscardManager.attach(mem, MIB);
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, mem);
        sys.addressSpace(root, "memory");
        RamBlock block = mem.ramBlock();

        sys.close();

        assertFalse(mem.hasRamDiscardManager());
        assertTrue(mem.isFinalized());
        assertTrue(block.isReleased());
        m.detach(); // already detached: does nothing
    }

    @Test
    void aDiscardManagedRegionAliasedFromAnUnmappedContainerIsDestroyedToo() {
        MemorySystem sys = new MemorySystem();
        RamRegion mem = RamRegion.allocate(sys, null, "virtio-mem", 4 * MIB);
        BitmapRamDiscardManager.attach(mem, MIB);
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, mem);
        // a window onto it in a container nothing maps yet (a BAR the guest has not placed): it
        // keeps mem "mapped" (QEMU's memory_region_is_mapped), which detaching the manager refuses
        ContainerRegion bar = new ContainerRegion(sys, null, "bar", MIB);
        AliasRegion window = new AliasRegion(sys, null, "bar-window", mem, 0, MIB);
        bar.addSubregion(0, window);
        sys.addressSpace(root, "memory");
        RamBlock block = mem.ramBlock();

        sys.close();

        assertTrue(mem.isFinalized());
        assertTrue(block.isReleased());
        assertTrue(window.isFinalized());
        assertTrue(bar.isFinalized());
    }

    @Test
    void afterCloseNewRegionsSpacesAndListenersAreRefused() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        sys.close();

        assertThrows(MemorySystemClosedException.class, () -> new ContainerRegion(sys, null, "late", 0x1000));
        assertThrows(MemorySystemClosedException.class, () -> RamRegion.allocate(sys, null, "late-ram", MIB));
        assertThrows(MemorySystemClosedException.class, () -> sys.addressSpace(root, "late"));
        assertThrows(MemorySystemClosedException.class, () -> sys.registerListener(new MemoryListener() { }, null));
        assertEquals(List.of(), sys.addressSpaces());
        assertEquals(0, sys.ramList().blocks().size());
    }

    @Test
    void aUserBlockOfferedToAClosedMachineIsNotKept() {
        MemorySystem sys = new MemorySystem();
        sys.close();
        try (RamBlock mine = RamBlock.anonymous("mine", MIB)) {
            assertThrows(MemorySystemClosedException.class, () -> new RamRegion(sys, null, "late", mine, false, false));
            assertEquals(1, mine.refCount());
        }
    }

    @Test
    void closeIsRefusedFromAListenerCallbackAndInsideATransaction() {
        Board b = new Board();
        AtomicReference<RuntimeException> fromCallback = new AtomicReference<>();
        MemoryListener l = new MemoryListener() {
            @Override
            public void commit() {
                if (fromCallback.get() == null) {
                    try {
                        b.sys.close();
                        fromCallback.set(new RuntimeException("close() was allowed from a callback"));
                    } catch (IllegalStateException expected) {
                        fromCallback.set(expected);
                    }
                }
            }
        };
        b.sys.registerListener(l, b.as);
        assertTrue(fromCallback.get() instanceof IllegalStateException, String.valueOf(fromCallback.get()));
        assertFalse(b.sys.isClosed());

        b.sys.transactionBegin();
        try {
            assertThrows(IllegalStateException.class, b.sys::close);
        } finally {
            b.sys.transactionCommit();
        }
        assertFalse(b.sys.isClosed());
        assertEquals(MemTxResult.OK, b.as.stlLe(0x10_0000, 3));
        assertEquals(3, b.as.ldlLe(0x10_0000));
        b.sys.unregisterListener(l);
        b.sys.close();
        assertTrue(b.ram.isFinalized());
    }

    @Test
    void otherMachinesKeepRunning() {
        Board gone = new Board();
        Board stays = new Board();
        gone.sys.close();
        assertEquals(MemTxResult.OK, stays.as.stlLe(0x10_0000, 42));
        assertEquals(42, stays.as.ldlLe(0x10_0000));
        assertEquals(0x5a, stays.as.ldub(0x4000_0100L));
        assertTrue(stays.ram.ramBlock().segment().scope().isAlive());
        assertSame(stays.ram.ramBlock(), stays.sys.ramList().blockByName("ram"));
    }

    @Test
    void accessesRacingTheCloseSeeTheMachineOrNothing() throws Exception {
        Board b = new Board();
        b.as.stlLe(0x10_0000, 0x600d);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger wrong = new AtomicInteger();
        CountDownLatch running = new CountDownLatch(2);
        List<Thread> readers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            readers.add(Thread.ofPlatform().start(() -> {
                MemTxResultHolder res = new MemTxResultHolder();
                running.countDown();
                while (!stop.get()) {
                    int v = b.as.ldlLe(0x10_0000, MemTxAttrs.UNSPECIFIED, res);
                    boolean before = res.get() == MemTxResult.OK && v == 0x600d;
                    boolean after = res.get() == MemTxResult.DECODE_ERROR && v == 0;
                    if (!before && !after) {
                        wrong.incrementAndGet();
                    }
                }
            }));
        }
        running.await();
        Thread.sleep(20);
        b.sys.close();
        Thread.sleep(20);
        stop.set(true);
        for (Thread t : readers) {
            t.join();
        }
        assertEquals(0, wrong.get());
        assertTrue(b.ram.ramBlock().isReleased());
    }

    @Test
    void ramRegionsBuiltWhileTheMachineClosesLeaveNoBlockMapped() throws Exception {
        for (int round = 0; round < 50; round++) {
            MemorySystem sys = new MemorySystem();
            List<RamBlock> blocks = new ArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            Thread builder = Thread.ofPlatform().start(() -> {
                try {
                    go.await();
                    for (int i = 0; ; i++) {
                        try (RamBlock own = RamBlock.anonymous("b" + i, 0x10000)) {
                            synchronized (blocks) {
                                blocks.add(own);
                            }
                            RamRegion.allocate(sys, null, "r" + i, 0x10000);
                            new RamRegion(sys, null, "u" + i, own, false, false);
                        }
                    }
                } catch (MemorySystemClosedException expected) {
                    // the machine closed under the builder
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            go.countDown();
            Thread.sleep(round % 5);
            sys.close();
            builder.join();
            synchronized (blocks) {
                for (RamBlock blk : blocks) {
                    assertTrue(blk.isReleased(), "block " + blk.idstr() + " still mapped after round " + round);
                }
            }
            for (RamBlock left : sys.ramList().blocks()) {
                throw new AssertionError("round " + round + ": block " + left.idstr() + " still listed");
            }
        }
    }
}
