package dev.guestmem.discard;

import static dev.guestmem.discard.DiscardMachine.BLK;
import static dev.guestmem.discard.DiscardMachine.SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.discard.DiscardMachine.Recorder;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.snapshot.DirtyPages;
import dev.guestmem.snapshot.SnapshotBlock;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Defects found by a review of {@code dev.guestmem.discard} (each test failed before its fix):
 * listeners that throw, and a region resized or destroyed under its manager; plus two checks the
 * review added.
 */
class DiscardReviewRegressionTest {

    /** A listener bug that is not a RuntimeException (an assertion, a StackOverflowError, ...). */
    static final class ListenerBug extends Error {
        private static final long serialVersionUID = 1L;

        ListenerBug() {
            super("listener bug");
        }
    }

    /**
     * BitmapRamDiscardManager#unplug: the RAM is discarded first, then listeners are told, then the
     * bitmap is updated. If a listener's notifyDiscard throws (contract: "Must not throw", but the
     * brief asks what state is left), the RAM is already gone but the blocks stay plugged and the
     * listeners after it are never told: they keep their DMA mappings of discarded memory, and
     * isPopulated() answers true for memory that reads as zeros. QEMU's
     * virtio_mem_set_block_state (hw/virtio/virtio-mem.c) cannot fail between
     * ram_block_discard_range and virtio_mem_set_range_unplugged: notify_discard returns void.
     */
    @Test
    void unplugWithThrowingListenerLeavesDiscardedRamMarkedPlugged() {
        try (DiscardMachine m = new DiscardMachine()) {
            List<String> ev = new ArrayList<>();
            Recorder a = new Recorder("a", false, ev);
            Recorder b = new Recorder("b", false, ev);
            m.vmem.registerListener(a, m.section(0, SIZE));
            m.vmem.registerListener(b, m.section(0, SIZE)); // b is newest: told first
            m.vmem.plug(0, 2 * BLK);
            m.fill(0, 2 * BLK, (byte) 0x11);
            b.onDiscard = s -> {
                throw new IllegalStateException("listener b broke");
            };
            ev.clear();
            assertThrows(IllegalStateException.class, () -> m.vmem.unplug(0, 2 * BLK));
            assertTrue(m.zero(0, 2 * BLK), "the RAM was discarded");
            assertEquals(List.of("a:D 0+20000@100000000"), ev,
                    "every other listener must still hear of memory that is gone");
            assertFalse(m.vmem.isPopulated(m.section(0, 2 * BLK)),
                    "discarded RAM must not be reported populated (pluggedSize=" + m.vmem.pluggedSize() + ")");
            b.onDiscard = s -> { };
            m.vmem.unregisterListener(a);
            m.vmem.unregisterListener(b);
        }
    }

    /**
     * RamDiscardListener#notifyPopulate javadoc: "The listener may object by throwing ...;
     * listeners already told are then told notifyDiscard for the same range and the memory stays
     * discarded." BitmapRamDiscardManager.notifyPopulate only catches RuntimeException: an Error
     * (an assert in the listener, StackOverflowError) skips the rollback, so listener "a" keeps a
     * populate that no discard ever undoes (QEMU's virtio_mem_notify_plug always rolls back the
     * already-notified listeners when one fails).
     */
    @Test
    void plugRollbackSkippedWhenListenerThrowsAnError() {
        try (DiscardMachine m = new DiscardMachine()) {
            List<String> ev = new ArrayList<>();
            Recorder a = new Recorder("a", false, ev);
            Recorder b = new Recorder("b", false, ev);
            m.vmem.registerListener(b, m.section(0, SIZE));
            m.vmem.registerListener(a, m.section(0, SIZE)); // a newest: told first
            a.onPopulate = s -> m.fill(s.offsetWithinRegion(), s.size(), (byte) 0x22); // "a notifier populated memory"
            b.onPopulate = s -> {
                throw new ListenerBug();
            };
            assertThrows(ListenerBug.class, () -> m.vmem.plug(0, BLK));
            assertFalse(m.vmem.isPopulated(m.section(0, BLK)));
            assertEquals(List.of("a:P 0+10000@100000000", "a:D 0+10000@100000000"), ev,
                    "a must be told the populate is rolled back");
            assertTrue(m.zero(0, BLK), "the range must be discarded again (virtio_mem_set_block_state)");
            b.onPopulate = s -> { };
            m.vmem.unregisterListener(a);
            m.vmem.unregisterListener(b);
        }
    }

    /**
     * BitmapRamDiscardManager class javadoc: "a refused registration changes nothing" (the runs it
     * accepted are discarded again, it is not registered). With an Error from notifyPopulate the
     * catch (RuntimeException) is skipped: the listener stays registered, half-told, and its section
     * copy (a region reference) is kept.
     */
    @Test
    void registerListenerErrorLeavesItRegistered() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, BLK);
            m.vmem.plug(4 * BLK, BLK);
            Recorder r = new Recorder("r");
            int[] n = {0};
            r.onPopulate = s -> {
                if (n[0]++ == 1) {
                    throw new ListenerBug();
                }
            };
            int refs = m.mem.refCount();
            assertThrows(ListenerBug.class, () -> m.vmem.registerListener(r, m.section(0, SIZE)));
            try {
                assertNull(m.vmem.registeredSection(r), "a failed registration must leave it unregistered");
                assertEquals(List.of("r:P 0+10000@100000000", "r:D 0+10000@100000000"), r.events);
                assertEquals(refs, m.mem.refCount(), "the section copy must be released");
            } finally {
                r.onPopulate = s -> { };
                if (m.vmem.registeredSection(r) != null) {
                    m.vmem.unregisterListener(r);
                }
            }
        }
    }

    /**
     * BitmapRamDiscardManager.notifyPopulate rollback: if an already-told listener's notifyDiscard
     * throws during the rollback, the original refusal is lost, the listeners before it are not
     * rolled back, and the range is not discarded again ("Could be preallocation or a notifier
     * populated memory", virtio_mem_set_block_state, which always discards on failure).
     */
    @Test
    void plugRollbackAbortsWhenARolledBackListenerThrows() {
        try (DiscardMachine m = new DiscardMachine()) {
            List<String> ev = new ArrayList<>();
            Recorder a = new Recorder("a", false, ev);
            Recorder b = new Recorder("b", false, ev);
            Recorder c = new Recorder("c", false, ev);
            m.vmem.registerListener(c, m.section(0, SIZE));
            m.vmem.registerListener(b, m.section(0, SIZE));
            m.vmem.registerListener(a, m.section(0, SIZE)); // order told: a, b, c
            a.onPopulate = s -> m.fill(s.offsetWithinRegion(), s.size(), (byte) 0x33);
            c.onPopulate = s -> {
                throw new PopulateRefusedException(s, "no");
            };
            b.onDiscard = s -> {
                throw new IllegalStateException("b broke in rollback");
            };
            RuntimeException e = assertThrows(RuntimeException.class, () -> m.vmem.plug(0, BLK));
            try {
                assertTrue(e instanceof PopulateRefusedException, "the refusal must reach the caller, got " + e);
                assertTrue(ev.contains("a:D 0+10000@100000000"), "a must be rolled back: " + ev);
                assertTrue(m.zero(0, BLK), "the range must be discarded again");
            } finally {
                b.onDiscard = s -> { };
                c.onPopulate = s -> { };
                m.vmem.unregisterListener(a);
                m.vmem.unregisterListener(b);
                m.vmem.unregisterListener(c);
            }
        }
    }

    /**
     * RamRegion.ramResize after attach: the manager keeps the size it was attached with ("a later
     * resize of the region does not change it"), so the grown part, ordinary RAM the guest can use,
     * is reported discarded by DiscardedRam.isDiscarded (isPopulated: "a section that reaches
     * outside what the manager manages is not populated"): a snapshot built with
     * DiscardedRam.populatedPages records the guest's data there as zero pages (silent data loss),
     * IommuRam refuses to map it, while replayDiscarded (the migration path,
     * ramblock_dirty_bitmap_clear_discarded_pages) does not report it. QEMU never pairs a
     * RamDiscardManager with a resizeable block (virtio_mem_device_realize takes a hostmem backend,
     * whose block is fixed-size), so the resize should be refused while a manager is attached.
     */
    @Test
    void ramResizeGrowAfterAttachMakesLiveRamLookDiscarded() {
        MemorySystem sys = new MemorySystem();
        RamBlock rb = RamBlock.builder("grow", SIZE).anonymous().resizeable(2 * SIZE, null).build();
        RamRegion mem = new RamRegion(sys, null, "grow", rb, false, false);
        rb.close();
        try {
            BitmapRamDiscardManager vmem = BitmapRamDiscardManager.attach(mem, BLK);
            boolean resized;
            try {
                mem.ramResize(2 * SIZE);
                resized = true;
            } catch (RuntimeException refused) {
                resized = false; // the fix: refused while a manager is attached
            }
            if (resized) {
                long off = SIZE + 4096;
                mem.ramBlock().segment().set(ValueLayout.JAVA_LONG, off, 0x1234_5678L); // the guest's data
                List<Long> reportedDiscarded = new ArrayList<>();
                vmem.replayDiscarded(DiscardSections.ofRegion(mem, 0, 2 * SIZE),
                        s -> reportedDiscarded.add(s.offsetWithinRegion() + s.size()));
                DirtyPages stored = DiscardedRam.populatedPages(mem, SnapshotBlock.of(mem.ramBlock()));
                assertEquals(off / 4096, stored.nextDirty(off / 4096),
                        "page 0x" + Long.toHexString(off) + " holds guest data but the snapshot would store it as zeros"
                                + " (isDiscarded=" + DiscardedRam.isDiscarded(mem, off, 4096)
                                + ", replayDiscarded ends at 0x" + Long.toHexString(reportedDiscarded.getLast()) + ")");
            }
            vmem.detach();
        } finally {
            mem.destroy();
        }
    }

    /**
     * RamRegion.ramResize shrinking after attach: plug still accepts blocks past the region's new
     * end (checkRange tests the size at attach time) and tells listeners of region offsets the region
     * no longer has. virtio_mem_valid_range checks against the live usable region.
     */
    @Test
    void ramResizeShrinkAfterAttachStillPlugsPastTheEnd() {
        MemorySystem sys = new MemorySystem();
        RamBlock rb = RamBlock.builder("shrink", SIZE).anonymous().resizeable(SIZE, null).build();
        RamRegion mem = new RamRegion(sys, null, "shrink", rb, false, false);
        rb.close();
        try {
            BitmapRamDiscardManager vmem = BitmapRamDiscardManager.attach(mem, BLK);
            boolean resized;
            try {
                mem.ramResize(SIZE / 2);
                resized = true;
            } catch (RuntimeException refused) {
                resized = false;
            }
            if (resized) {
                assertThrows(RuntimeException.class, () -> vmem.plug(SIZE - BLK, BLK),
                        "a plug past the region's 0x" + Long.toHexString(mem.size()) + " bytes must be refused");
            }
            vmem.detach();
        } finally {
            mem.destroy();
        }
    }

    /**
     * MemoryRegion.destroy with a BitmapRamDiscardManager attached (and no listener): the region is
     * finalized and its RAM block unmapped, yet the manager still answers plug (the bitmap and
     * pluggedSize move over freed memory) and its requireCoordinated claim stays in force, so a
     * device can never again disable discards (RamDiscardPolicy.disable). QEMU cannot get here:
     * a memory backend in use by virtio-mem is "mapped" (host_memory_backend_set_mapped) and cannot
     * be deleted, and virtio_mem_device_unrealize clears the manager and drops the claim.
     */
    @Test
    void destroyingTheRegionLeavesAManagerOverFreedRam() {
        MemorySystem sys = new MemorySystem();
        RamRegion mem = RamRegion.allocate(sys, null, "gone", SIZE);
        BitmapRamDiscardManager vmem = BitmapRamDiscardManager.attach(mem, BLK);
        RamBlock rb = mem.ramBlock();
        boolean destroyed;
        try {
            mem.destroy();
            destroyed = true;
        } catch (RuntimeException refused) {
            destroyed = false; // a fix: refuse while a manager is attached
        }
        if (destroyed) {
            assertTrue(mem.isFinalized() && rb.isReleased(), "the region's RAM is gone");
            boolean plugged;
            try {
                vmem.plug(0, BLK);
                plugged = true;
            } catch (RuntimeException e) {
                plugged = false;
            }
            boolean claimHeld = sys.ramDiscardPolicy().count(RamDiscardPolicy.Kind.REQUIRE_COORDINATED) > 0;
            assertFalse(plugged || claimHeld, "after the region is destroyed: plug accepted=" + plugged
                    + ", requireCoordinated claim still held=" + claimHeld);
        } else {
            vmem.detach();
            mem.destroy();
        }
    }

    /**
     * virtio_mem_device_realize refuses a ROM memdev ("specifies an unsupported memdev":
     * memory_region_is_rom). BitmapRamDiscardManager.attach accepts a ROM region and plugs into it.
     */
    @Test
    void attachAcceptsRom() {
        MemorySystem sys = new MemorySystem();
        RamRegion rom = RamRegion.allocateRom(sys, null, "rom", SIZE);
        try {
            BitmapRamDiscardManager m = null;
            try {
                m = BitmapRamDiscardManager.attach(rom, BLK);
            } catch (RamDiscardManagerException expected) {
                return;
            }
            m.detach();
            throw new AssertionError("attach to a ROM region was accepted (virtio-mem refuses a ROM memdev)");
        } finally {
            rom.destroy();
        }
    }

    /** Sanity: a section of a whole-space size (0 = 2^64) is refused for registration, not mis-clipped. */
    @Test
    void wholeSpaceSectionIsNotPopulatedAndNotRegistrable() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, SIZE);
            MemoryRegionSection whole = new MemoryRegionSection(m.mem, null, 0, 0, 0, false, false, false);
            assertFalse(m.vmem.isPopulated(whole));
            assertThrows(RamDiscardManagerException.class, () -> m.vmem.registerListener(new Recorder("w"), whole));
            List<String> runs = new ArrayList<>();
            m.vmem.replayPopulated(whole, s -> runs.add(DiscardMachine.fmt(s)));
            assertEquals(List.of("0+100000@0"), runs);
        }
    }

    /** Sanity (passes): plug/unplug from four threads with a listener stay consistent under the system lock. */
    @Test
    void concurrentPlugUnplugStaysConsistent() throws Exception {
        try (DiscardMachine m = new DiscardMachine()) {
            long[] populated = new long[1];
            RamDiscardListener l = RamDiscardListener.ramDiscardListener(s -> populated[0] += s.size(),
                    s -> populated[0] -= s.size(), false);
            m.vmem.registerListener(l, m.section(0, SIZE));
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                long base = t * 4 * BLK;
                ts.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 300; i++) {
                        m.vmem.plug(base, 2 * BLK);
                        m.vmem.plug(base + 2 * BLK, BLK);
                        m.vmem.unplug(base + BLK, 2 * BLK);
                        m.vmem.unplug(base, BLK);
                    }
                }));
            }
            for (Thread t : ts) {
                t.join();
            }
            assertEquals(0, m.vmem.pluggedSize());
            assertEquals(0, populated[0]);
            m.vmem.unregisterListener(l);
        }
    }
}
