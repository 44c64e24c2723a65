package dev.guestmem.discard;

import static dev.guestmem.discard.DiscardMachine.BLK;
import static dev.guestmem.discard.DiscardMachine.SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.discard.DiscardMachine.Recorder;
import dev.guestmem.ram.RamBackendException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.InvalidRangeException;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * {@link BitmapRamDiscardManager} against virtio-mem's contract ({@code hw/virtio/virtio-mem.c}):
 * plug tells listeners first and rolls back on a refusal; unplug discards the RAM, then tells them;
 * replays run over maximal runs cut to the section; listeners come and go with their sections.
 */
class BitmapRamDiscardManagerTest {
    private static String at(long off) {
        return Long.toHexString(0x1_0000_0000L + off);
    }

    @Test
    void attachStartsWithEverythingUnpluggedAndDiscarded() {
        MemorySystem sys = new MemorySystem();
        RamRegion mem = RamRegion.allocate(sys, null, "vmem", SIZE);
        mem.ramBlock().segment().fill((byte) 0x5a);
        BitmapRamDiscardManager m = BitmapRamDiscardManager.attach(mem, BLK);
        assertEquals(0, m.pluggedSize());
        assertEquals(BLK, m.minGranularity(mem));
        assertEquals(SIZE, m.regionSize());
        assertFalse(m.isPopulated(DiscardSections.ofRegion(mem, 0, BLK)));
        for (long i = 0; i < SIZE; i += 4096) {
            assertEquals(0, mem.ramBlock().segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, i), "offset " + i);
        }
        assertThrows(RamDiscardManagerException.class, mem::destroy, "detach first, as virtio-mem's unrealize");
        m.detach();
        mem.destroy();
    }

    @Test
    void plugTellsListenersBeforeTheBlocksArePlugged() {
        try (DiscardMachine m = new DiscardMachine()) {
            Recorder r = new Recorder("a");
            List<Boolean> populatedAtCall = new ArrayList<>();
            r.onPopulate = s -> populatedAtCall.add(m.vmem.isPopulated(s));
            m.vmem.registerListener(r, m.section(0, SIZE));
            assertEquals(List.of(), r.events, "nothing plugged: nothing replayed");
            m.vmem.plug(2 * BLK, 3 * BLK);
            assertEquals(List.of("a:P 20000+30000@" + at(2 * BLK)), r.events);
            assertEquals(List.of(false), populatedAtCall, "told before the blocks were marked plugged");
            assertTrue(m.vmem.isPopulated(m.section(2 * BLK, 3 * BLK)));
            assertFalse(m.vmem.isPopulated(m.section(BLK, 2 * BLK)));
            assertEquals(3 * BLK, m.vmem.pluggedSize());
            // plugged memory is usable by the guest
            m.fill(2 * BLK, BLK, (byte) 7);
            assertEquals(7, m.guestByte(2 * BLK + 5));
        }
    }

    @Test
    void unplugDiscardsTheRamThenTellsListeners() {
        try (DiscardMachine m = new DiscardMachine()) {
            Recorder r = new Recorder("a");
            m.vmem.registerListener(r, m.section(0, SIZE));
            m.vmem.plug(0, 4 * BLK);
            m.fill(0, 4 * BLK, (byte) 0x33);
            List<String> atCall = new ArrayList<>();
            r.onDiscard = s -> atCall.add("zero=" + m.zero(s.offsetWithinRegion(), s.size())
                    + " populated=" + m.vmem.isPopulated(s));
            m.vmem.unplug(BLK, 2 * BLK);
            // QEMU: ram_block_discard_range, then virtio_mem_notify_unplug, then the bitmap
            assertEquals(List.of("zero=true populated=true"), atCall);
            assertEquals("a:D 10000+20000@" + at(BLK), r.events.getLast());
            assertTrue(m.zero(BLK, 2 * BLK), "unplugged memory reads as zeros");
            assertEquals(0, m.guestByte(BLK + 123));
            assertEquals(0, m.guestByte(3 * BLK - 1));
            assertEquals(0x33, m.guestByte(0), "the blocks around keep their data");
            assertEquals(0x33, m.guestByte(3 * BLK));
            assertFalse(m.vmem.isPopulated(m.section(BLK, BLK)));
            assertEquals(2 * BLK, m.vmem.pluggedSize());
        }
    }

    @Test
    void aRefusalRollsBackListenersToldBeforeAndLeavesTheRangeDiscarded() {
        try (DiscardMachine m = new DiscardMachine()) {
            List<String> events = new ArrayList<>();
            Recorder oldest = new Recorder("c", false, events);
            Recorder middle = new Recorder("b", false, events);
            Recorder newest = new Recorder("a", false, events);
            m.vmem.registerListener(oldest, m.section(0, SIZE));
            m.vmem.registerListener(middle, m.section(0, SIZE));
            m.vmem.registerListener(newest, m.section(0, SIZE));
            // "a" populates the memory while it is told (as a DMA mapping that pins would)
            newest.onPopulate = s -> m.fill(s.offsetWithinRegion(), s.size(), (byte) 1);
            PopulateRefusedException no = new PopulateRefusedException(null, "no IOMMU space");
            middle.onPopulate = s -> {
                throw no;
            };
            PopulateRefusedException thrown = assertThrows(PopulateRefusedException.class, () -> m.vmem.plug(0, 2 * BLK));
            assertSame(no, thrown);
            // newest first (QLIST_INSERT_HEAD); "b" refused; "a" hears the discard; "c" hears nothing
            assertEquals(List.of("a:P 0+20000@" + at(0), "a:D 0+20000@" + at(0)), events);
            assertEquals(0, m.vmem.pluggedSize());
            assertFalse(m.vmem.isPopulated(m.section(0, BLK)));
            assertTrue(m.zero(0, 2 * BLK), "what a listener populated is discarded again");
            // once "b" accepts, the same plug goes through and everyone hears it, newest first
            events.clear();
            middle.onPopulate = s -> { };
            m.vmem.plug(0, 2 * BLK);
            assertEquals(List.of("a:P 0+20000@" + at(0), "b:P 0+20000@" + at(0), "c:P 0+20000@" + at(0)), events);
        }
    }

    @Test
    void badPlugsAndUnplugsAreRefusedAndChangeNothing() {
        try (DiscardMachine m = new DiscardMachine()) {
            Recorder r = new Recorder("a");
            m.vmem.registerListener(r, m.section(0, SIZE));
            m.vmem.plug(4 * BLK, 2 * BLK);
            m.fill(4 * BLK, 2 * BLK, (byte) 9);
            r.events.clear();
            List<Executable> bad = List.of(
                    () -> m.vmem.plug(BLK / 2, BLK),                 // unaligned offset
                    () -> m.vmem.plug(0, BLK + 4096),                // unaligned length
                    () -> m.vmem.plug(0, 0),                         // empty
                    () -> m.vmem.plug(SIZE, BLK),                    // past the end
                    () -> m.vmem.plug(SIZE - BLK, 2 * BLK),          // runs past the end
                    () -> m.vmem.plug(-BLK, 2 * BLK),                // offset near 2^64, wraps
                    () -> m.vmem.plug(BLK, -BLK),                    // length near 2^64
                    () -> m.vmem.plug(Long.MIN_VALUE, BLK),          // 2^63
                    () -> m.vmem.unplug(SIZE - BLK, Long.MIN_VALUE), // 2^63 long
                    () -> m.vmem.unplug(BLK, 0));
            for (Executable e : bad) {
                assertThrows(InvalidRangeException.class, e);
            }
            assertThrows(DiscardStateException.class, () -> m.vmem.plug(3 * BLK, 2 * BLK), "block 4 is plugged");
            assertThrows(DiscardStateException.class, () -> m.vmem.unplug(5 * BLK, 2 * BLK), "block 6 is not");
            assertThrows(DiscardStateException.class, () -> m.vmem.unplug(0, BLK));
            assertEquals(List.of(), r.events, "no listener heard anything");
            assertEquals(2 * BLK, m.vmem.pluggedSize());
            assertTrue(m.vmem.isPopulated(m.section(4 * BLK, 2 * BLK)));
            assertFalse(m.vmem.isPopulated(m.section(3 * BLK, BLK)));
            assertEquals(9, m.guestByte(5 * BLK + 7), "no discard happened");
        }
    }

    @Test
    void replaysRunOverMaximalRunsCutToSectionsThatStartAndEndInsideBlocks() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(BLK, 2 * BLK);       // blocks 1-2
            m.vmem.plug(4 * BLK, BLK);       // block 4
            m.vmem.plug(6 * BLK, 2 * BLK);   // blocks 6-7
            MemoryRegionSection s = m.section(BLK / 2, 6 * BLK + BLK / 4 - BLK / 2); // [0x8000, 0x64000)
            List<String> populated = new ArrayList<>();
            m.vmem.replayPopulated(s, x -> populated.add(DiscardMachine.fmt(x)));
            assertEquals(List.of("10000+20000@" + at(BLK), "40000+10000@" + at(4 * BLK),
                    "60000+4000@" + at(6 * BLK)), populated);
            List<String> discarded = new ArrayList<>();
            m.vmem.replayDiscarded(s, x -> discarded.add(DiscardMachine.fmt(x)));
            assertEquals(List.of("8000+8000@" + at(BLK / 2), "30000+10000@" + at(3 * BLK),
                    "50000+10000@" + at(5 * BLK)), discarded);
            // whole region: the last discarded run reaches the end
            List<String> all = new ArrayList<>();
            m.vmem.replayDiscarded(m.section(0, SIZE), x -> all.add(DiscardMachine.fmt(x)));
            assertEquals(List.of("0+10000@" + at(0), "30000+10000@" + at(3 * BLK), "50000+10000@" + at(5 * BLK),
                    "80000+80000@" + at(8 * BLK)), all);
            // a section inside one block gets that block's state, cut to the section
            List<String> inside = new ArrayList<>();
            m.vmem.replayPopulated(m.section(BLK + 0x100, 0x200), x -> inside.add(DiscardMachine.fmt(x)));
            assertEquals(List.of("10100+200@" + at(BLK + 0x100)), inside);
            List<String> none = new ArrayList<>();
            m.vmem.replayDiscarded(m.section(BLK + 0x100, 0x200), x -> none.add(DiscardMachine.fmt(x)));
            assertEquals(List.of(), none);
            // a failing callback stops the replay: no further calls
            List<String> stopped = new ArrayList<>();
            RuntimeException stop = new IllegalStateException("stop");
            assertSame(stop, assertThrows(IllegalStateException.class, () -> m.vmem.replayPopulated(m.section(0, SIZE), x -> {
                stopped.add(DiscardMachine.fmt(x));
                throw stop;
            })));
            assertEquals(1, stopped.size());
        }
    }

    @Test
    void isPopulatedWidensToWholeBlocks() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(BLK, 2 * BLK);
            assertTrue(m.vmem.isPopulated(m.section(BLK + 1, 1)));
            assertTrue(m.vmem.isPopulated(m.section(BLK, 2 * BLK)));
            assertTrue(m.vmem.isPopulated(m.section(BLK + 7, 2 * BLK - 14)));
            assertFalse(m.vmem.isPopulated(m.section(BLK - 1, 2)), "touches block 0");
            assertFalse(m.vmem.isPopulated(m.section(3 * BLK - 1, 2)), "touches block 3");
            assertFalse(m.vmem.isPopulated(m.section(SIZE - 1, 2)), "passes the region");
            assertFalse(m.vmem.isPopulated(new MemoryRegionSection(m.mem, null, 0, 0, 0, false, false, false)),
                    "a 2^64 section is not inside the region");
            assertFalse(m.vmem.isPopulated(m.section(-BLK, BLK)), "offset near 2^64");
        }
    }

    @Test
    void listenersHearMultiplesOfTheGranularityUnlessTheirSectionEndsInsideABlock() {
        try (DiscardMachine m = new DiscardMachine()) {
            Recorder whole = new Recorder("w");
            Recorder part = new Recorder("p");
            Recorder elsewhere = new Recorder("e");
            m.vmem.registerListener(whole, m.section(0, SIZE));
            m.vmem.registerListener(part, m.section(BLK / 2, 5 * BLK - 0x1000 - BLK / 2)); // [0x8000, 0x4f000)
            m.vmem.registerListener(elsewhere, m.section(12 * BLK, 4 * BLK));
            m.vmem.plug(0, 6 * BLK);
            assertEquals(List.of("w:P 0+60000@" + at(0)), whole.events);
            assertEquals(List.of("p:P 8000+47000@" + at(BLK / 2)), part.events);
            assertEquals(List.of(), elsewhere.events, "a listener whose section misses the range hears nothing");
            m.vmem.unplug(4 * BLK, BLK);
            assertEquals("w:D 40000+10000@" + at(4 * BLK), whole.events.getLast());
            assertEquals("p:D 40000+f000@" + at(4 * BLK), part.events.getLast());
            assertEquals(BLK, m.vmem.minGranularity(m.mem));
            RamRegion other = RamRegion.allocate(m.sys, null, "other", BLK);
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.minGranularity(other));
            other.destroy();
        }
    }

    @Test
    void registrationReplaysPopulatedRunsAndUnregistrationDiscardsThem() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, BLK);
            m.vmem.plug(3 * BLK, 2 * BLK);
            int refs = m.mem.refCount();
            Recorder single = new Recorder("s");
            Recorder dbl = new Recorder("d", true, new ArrayList<>());
            MemoryRegionSection sec = m.section(BLK / 2, 4 * BLK);
            m.vmem.registerListener(single, sec);
            m.vmem.registerListener(dbl, sec);
            assertEquals(refs + 2, m.mem.refCount(), "the manager keeps a copy of each section");
            assertEquals(sec, m.vmem.registeredSection(single));
            assertEquals(List.of("s:P 8000+8000@" + at(BLK / 2), "s:P 30000+18000@" + at(3 * BLK)), single.events);
            assertEquals(List.of("d:P 8000+8000@" + at(BLK / 2), "d:P 30000+18000@" + at(3 * BLK)), dbl.events);
            single.events.clear();
            dbl.events.clear();
            m.vmem.unregisterListener(single);
            m.vmem.unregisterListener(dbl);
            assertEquals(List.of("s:D 8000+8000@" + at(BLK / 2), "s:D 30000+18000@" + at(3 * BLK)), single.events,
                    "no double discard: once per populated run");
            assertEquals(List.of("d:D 8000+40000@" + at(BLK / 2)), dbl.events, "double discard: the whole section");
            assertEquals(refs, m.mem.refCount());
            assertNull(m.vmem.registeredSection(single));
            // gone: later changes are not heard; unregistering again is refused
            m.vmem.plug(BLK, BLK);
            assertEquals(2, single.events.size());
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.unregisterListener(single));
        }
    }

    @Test
    void unregisteringWithNothingPluggedTellsNothingAndUnplugAllHonoursDoubleDiscard() {
        try (DiscardMachine m = new DiscardMachine()) {
            Recorder r = new Recorder("r");
            m.vmem.registerListener(r, m.section(0, SIZE));
            m.vmem.unregisterListener(r);
            assertEquals(List.of(), r.events, "QEMU: only if (vmem->size)");
            Recorder single = new Recorder("s");
            Recorder dbl = new Recorder("d", true, new ArrayList<>());
            m.vmem.registerListener(single, m.section(0, SIZE));
            m.vmem.registerListener(dbl, m.section(0, SIZE));
            m.vmem.plug(0, BLK);
            m.vmem.plug(2 * BLK, BLK);
            m.fill(0, BLK, (byte) 4);
            single.events.clear();
            dbl.events.clear();
            m.vmem.unplugAll();
            assertEquals(List.of("s:D 0+10000@" + at(0), "s:D 20000+10000@" + at(2 * BLK)), single.events);
            assertEquals(List.of("d:D 0+100000@" + at(0)), dbl.events);
            assertEquals(0, m.vmem.pluggedSize());
            assertTrue(m.zero(0, SIZE));
            m.vmem.unplugAll(); // nothing plugged: nothing heard
            assertEquals(2, single.events.size());
            assertEquals(1, dbl.events.size());
        }
    }

    @Test
    void aListenerRefusingItsRegistrationReplayIsNotRegisteredAndHearsItsAcceptedRunsDiscarded() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, BLK);
            m.vmem.plug(2 * BLK, BLK);
            int refs = m.mem.refCount();
            Recorder r = new Recorder("r");
            r.onPopulate = s -> {
                if (s.offsetWithinRegion() == 2 * BLK) {
                    throw new PopulateRefusedException(s, "full");
                }
            };
            PopulateRefusedException e = assertThrows(PopulateRefusedException.class,
                    () -> m.vmem.registerListener(r, m.section(0, SIZE)));
            assertEquals(2 * BLK, e.section().offsetWithinRegion());
            assertEquals(List.of("r:P 0+10000@" + at(0), "r:D 0+10000@" + at(0)), r.events);
            assertNull(m.vmem.registeredSection(r));
            assertEquals(refs, m.mem.refCount(), "the section copy was dropped");
            m.vmem.plug(4 * BLK, BLK);
            assertEquals(2, r.events.size(), "not registered: hears nothing");
            r.onPopulate = s -> { };
            m.vmem.registerListener(r, m.section(0, SIZE)); // and may register again
            assertEquals(5, r.events.size());
        }
    }

    @Test
    void registrationRefusalsChangeNothing() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, BLK);
            Recorder r = new Recorder("r");
            m.vmem.registerListener(r, m.section(0, SIZE));
            int refs = m.mem.refCount();
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.registerListener(r, m.section(0, BLK)),
                    "registered twice");
            RamRegion other = RamRegion.allocate(m.sys, null, "other", SIZE);
            MemoryRegionSection foreign = new MemoryRegionSection(other, null, 0, BLK, 0, false, false, false);
            Recorder f = new Recorder("f");
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.registerListener(f, foreign));
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.isPopulated(foreign));
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.replayPopulated(foreign, s -> { }));
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.replayDiscarded(foreign, s -> { }));
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.registerListener(f, m.section(SIZE - BLK, 2 * BLK)),
                    "passes the region");
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.unregisterListener(f));
            assertEquals(refs, m.mem.refCount());
            assertEquals(List.of("r:P 0+10000@" + at(0)), r.events);
            assertEquals(List.of(), f.events);
            assertNull(m.vmem.registeredSection(f));
            other.destroy();
        }
    }

    @Test
    void sectionsNearTheTopOfTheAddressSpaceKeepTheirAddresses() {
        long top = -SIZE; // the region ends exactly at 2^64
        try (DiscardMachine m = new DiscardMachine(top)) {
            Recorder r = new Recorder("r");
            m.vmem.registerListener(r, m.section(0, SIZE));
            m.vmem.plug(SIZE - BLK, BLK);
            assertEquals(List.of("r:P f0000+10000@ffffffffffff0000"), r.events);
            m.fill(SIZE - BLK, BLK, (byte) 0x77);
            assertEquals(0x77, m.guestByte(SIZE - 1), "the last byte of the space");
            m.vmem.unplug(SIZE - BLK, BLK);
            assertEquals("r:D f0000+10000@ffffffffffff0000", r.events.getLast());
            assertEquals(0, m.guestByte(SIZE - 1));
            List<String> runs = new ArrayList<>();
            m.vmem.plug(SIZE - 2 * BLK, BLK);
            m.vmem.replayPopulated(m.section(SIZE - 2 * BLK + 0x10, 2 * BLK - 0x10), s -> runs.add(DiscardMachine.fmt(s)));
            assertEquals(List.of("e0010+fff0@fffffffffffe0010"), runs);
        }
    }

    @Test
    void attachRefusesBadBlockSizesMappedRegionsAndRegionsWithAManager() {
        MemorySystem sys = new MemorySystem();
        RamRegion mem = RamRegion.allocate(sys, null, "vmem", SIZE);
        mem.ramBlock().segment().fill((byte) 3);
        for (long bad : new long[] {0, -BLK, 3 * 4096, 2048, SIZE * 2, 3 * BLK}) {
            assertThrows(RamDiscardManagerException.class, () -> BitmapRamDiscardManager.attach(mem, bad), "block " + bad);
        }
        assertEquals(3, mem.ramBlock().segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 100), "nothing discarded");
        BitmapRamDiscardManager ok = BitmapRamDiscardManager.attach(mem, SIZE); // one block
        assertThrows(RamDiscardManagerException.class, () -> BitmapRamDiscardManager.attach(mem, BLK), "has one");
        mem.setRamDiscardManager(null);
        var root = new dev.guestmem.region.ContainerRegion(sys, null, "root", -1L);
        root.addSubregion(0, mem);
        assertThrows(RamDiscardManagerException.class, () -> BitmapRamDiscardManager.attach(mem, BLK), "mapped");
        assertNull(mem.ramDiscardManager(), "the cleared manager stays cleared");
        assertEquals(SIZE, ok.blockSize());
        root.delSubregion(mem);
        mem.destroy();
    }

    @Test
    void memoryThatCannotBeDiscardedLeavesTheRegionWithoutAManager() {
        MemorySystem sys = new MemorySystem();
        try (Arena arena = Arena.ofShared()) { // caller memory confined to one thread is refused
            RamBlock host = RamBlock.builder("host", SIZE).host(arena.allocate(SIZE, 4096)).build();
            RamRegion mem = new RamRegion(sys, null, "host", host, false, false);
            host.close();
            assertThrows(RamBackendException.class, () -> BitmapRamDiscardManager.attach(mem, BLK));
            // no manager stayed behind: another one can be set
            mem.setRamDiscardManager(new FixedRamDiscardManager(mem, 4096, true));
            mem.setRamDiscardManager(null);
            mem.destroy();
        }
    }
}
