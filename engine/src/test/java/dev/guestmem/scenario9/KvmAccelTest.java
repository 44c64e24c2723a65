package dev.guestmem.scenario9;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fake KVM accelerator on a fixed PC-like machine: one behaviour per test. */
class KvmAccelTest {
    private PcLikeMachine m;
    private FakeKvm kvm;
    private KvmAccel accel;

    @BeforeEach
    void setUp() {
        m = new PcLikeMachine();
        kvm = new FakeKvm(32);
        accel = new KvmAccel(kvm);
        m.sys.registerListener(accel, m.as);
    }

    @AfterEach
    void tearDown() {
        m.sys.unregisterListener(accel);
        assertEquals(List.of(), kvm.slots(), "unregistering deletes every slot");
        m.close();
    }

    private void assertSlotsMatchView() {
        assertEquals(SlotOracle.slots(m.as.currentMap()), SlotOracle.slots(kvm));
        assertEquals(SlotOracle.coalesced(m.as.currentMap()), kvm.coalescedZones());
        assertEquals(new HashSet<>(m.sys.ioeventfds(m.as)), new HashSet<>(kvm.ioeventfds()));
        assertEquals(SlotOracle.ioeventfds(m.as.currentMap()), new HashSet<>(kvm.ioeventfds()));
        assertEquals(List.of(), SlotOracle.disagreeWithDispatch(m.as, kvm));
    }

    @Test
    void registrationMapsTheAlignedRamView() {
        assertSlotsMatchView();
        // RAM below the sub-page SMI window ends at its page, RAM above starts at the next page
        assertNotNull(kvm.slotAt(0, 0x7f000));
        assertNotNull(kvm.slotAt(0x80000, 0x20000));
        assertNull(kvm.vcpuStore(0x7f000, 1), "the page holding the window is not in a slot: an exit");
        // PAM segments start in PCI mode: the ISA BIOS ROM, read-only, one range for the four
        assertTrue(kvm.slotAt(PcLikeMachine.PAM_BASE, 4 * PcLikeMachine.PAM_SEGMENT).readonly);
        assertTrue(kvm.slotAt(PcLikeMachine.FLASH, 256 * PcLikeMachine.KIB).readonly, "ROMD: read-only slot");
    }

    @Test
    void romdSwitchRemovesAndRestoresTheReadOnlySlot() {
        m.as.stb(PcLikeMachine.FLASH, 0x90);                // a flash command: out of ROMD mode
        assertNull(kvm.slotAt(PcLikeMachine.FLASH, 256 * PcLikeMachine.KIB), "reads must trap now");
        assertSlotsMatchView();
        m.as.stb(PcLikeMachine.FLASH, 0xff);                // read array: ROMD again
        assertTrue(kvm.slotAt(PcLikeMachine.FLASH, 256 * PcLikeMachine.KIB).readonly);
        assertSlotsMatchView();
    }

    @Test
    void pamModesGiveReadOnlyOrWritableSlots() {
        m.setPam(1, 1);
        long seg = PcLikeMachine.PAM_BASE + PcLikeMachine.PAM_SEGMENT;
        MemSlot ro = kvm.slotAt(seg, PcLikeMachine.PAM_SEGMENT);
        assertTrue(ro.readonly);
        assertEquals(m.ram.ramBlock().hostAddress() + seg, ro.host.address(), "the RAM behind the alias");
        assertNull(kvm.vcpuStore(seg, 5), "a store to a read-only slot exits");
        m.setPam(1, 2);
        assertNotNull(kvm.vcpuStore(seg, 5));
        assertEquals(5, m.as.ldqLe(seg));
        assertSlotsMatchView();
    }

    @Test
    void slotWriteDuringMigrationIsFoundDirtyAfterSync() {
        DirtyMemory dirty = m.sys.dirtyMemory();
        long ramAddr = m.ram.ramBlock().offset();
        m.sys.globalDirtyLogStart();
        assertSlotsMatchView();
        assertTrue(kvm.slotAt(0x80000, 0x20000).logsDirty());
        dirty.snapshotAndClearDirty(ramAddr, m.ram.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertNotNull(kvm.vcpuStore(0x123008, 7));         // guestmem does not see this store
        assertFalse(dirty.getDirty(ramAddr + 0x123000, 8, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        m.sys.globalDirtyLogSync(false);
        assertTrue(dirty.getDirty(ramAddr + 0x123000, 8, DirtyMemory.DIRTY_MEMORY_MIGRATION));
        m.sys.globalDirtyLogStop();
        assertSlotsMatchView();
        assertFalse(kvm.slotAt(0x80000, 0x20000).logsDirty());
    }

    @Test
    void clearRearmsOnlyWhatASyncFetched() {
        DirtyMemory dirty = m.sys.dirtyMemory();
        long ramAddr = m.ram.ramBlock().offset();
        m.sys.globalDirtyLogStart();
        kvm.vcpuStore(0x200000, 1);
        m.sys.globalDirtyLogSync(false);
        kvm.vcpuStore(0x300000, 1);                        // after the sync: not fetched yet
        dirty.snapshotAndClearDirty(ramAddr, m.ram.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        m.sys.clearDirtyBitmap(m.ram, 0, m.ram.size());    // log_clear
        m.sys.globalDirtyLogSync(false);
        DirtyBitmapSnapshot snap = dirty.snapshotAndClearDirty(ramAddr, m.ram.size(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertFalse(snap.getDirty(ramAddr + 0x200000, 8), "cleared in the kernel by log_clear");
        assertTrue(snap.getDirty(ramAddr + 0x300000, 8), "a store after the sync is not lost");
        m.sys.globalDirtyLogStop();
    }

    @Test
    void vgaDisplaySeesSlotWritesThroughTheRegionSnapshot() {
        m.vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        m.vram.snapshotAndClearDirty(0, m.vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(kvm.slotAt(PcLikeMachine.HOLE, PcLikeMachine.MIB).logsDirty());
        assertNotNull(kvm.vcpuStore(PcLikeMachine.HOLE + 0x5000, 0xffffff));
        DirtyBitmapSnapshot snap = m.vram.snapshotAndClearDirty(0, m.vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(m.vram.snapshotGetDirty(snap, 0x5000, 8));
        assertFalse(m.vram.snapshotGetDirty(snap, 0x6000, 8));
    }

    @Test
    void deletingALoggingSlotKeepsItsDirtyPages() {
        m.vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        m.vram.snapshotAndClearDirty(0, m.vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        kvm.vcpuStore(PcLikeMachine.HOLE + 0x3000, 1);
        m.vram.setAddress(PcLikeMachine.HOLE + 8 * PcLikeMachine.MIB); // the BAR moves: slot deleted
        assertSlotsMatchView();
        DirtyBitmapSnapshot snap = m.vram.snapshotAndClearDirty(0, m.vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(m.vram.snapshotGetDirty(snap, 0x3000, 8));
    }

    @Test
    void unplugRemovesTheSlotBeforeTheBlockGoes() {
        m.plug(1);
        long dimm = PcLikeMachine.DEVICE_MEMORY + PcLikeMachine.DIMM_SIZE;
        assertNotNull(kvm.vcpuStore(dimm, 3));
        assertSlotsMatchView();
        RamBlock block = m.dimms[1].ramBlock();
        m.unplug(1);
        assertTrue(block.isReleased());
        assertNull(kvm.vcpuStore(dimm, 3), "no slot points at the released block");
        assertEquals(MemTxResult.DECODE_ERROR, m.as.stqLe(dimm, 3L, MemTxAttrs.UNSPECIFIED));
        assertSlotsMatchView();
    }

    @Test
    void ioeventfdsAndCoalescedZonesFollowTheView() {
        Random rnd = new Random(1);
        m.toggleDoorbell(rnd);
        m.toggleDoorbell(rnd);
        m.toggleCoalescing();
        m.toggleCoalescing();
        assertSlotsMatchView();
        m.nic.setAddress(PcLikeMachine.HOLE + 9 * PcLikeMachine.MIB);
        m.virtio.setEnabled(false);
        assertSlotsMatchView();
        assertEquals(List.of(), kvm.ioeventfds());
        m.virtio.setEnabled(true);
        assertEquals(2, kvm.ioeventfds().size());
    }

    @Test
    void resizeReplacesTheSlotAndTrimsAPartialPage() {
        m.acpi.ramResize(0x10800);
        assertNotNull(kvm.slotAt(PcLikeMachine.ACPI, 0x10000));
        assertSlotsMatchView();
        m.acpi.ramResize(0x20000);
        assertNotNull(kvm.slotAt(PcLikeMachine.ACPI, 0x20000));
        assertSlotsMatchView();
    }

    @Test
    void regionSnapshotOfAFewBytesSyncsTheSlotsOfItsRanges() {
        m.ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);   // RAM split in several ranges and slots
        m.ram.snapshotAndClearDirty(0, m.ram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertNotNull(kvm.vcpuStore(0x123008, 1));
        assertNotNull(kvm.vcpuStore(PcLikeMachine.HIGH + 0x2000, 1)); // the alias above 4 GiB
        DirtyBitmapSnapshot snap = m.ram.snapshotAndClearDirty(0x123000, 0x1000, DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(m.ram.snapshotGetDirty(snap, 0x123000, 8));
        snap = m.ram.snapshotAndClearDirty(PcLikeMachine.BELOW_4G, 0x10000, DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(m.ram.snapshotGetDirty(snap, PcLikeMachine.BELOW_4G + 0x2000, 8));
    }

    @Test
    void listenerRegisteredDuringMigrationLogsFromItsFirstSlot() {
        m.sys.unregisterListener(accel);
        m.sys.globalDirtyLogStart();
        m.sys.registerListener(accel, m.as);
        assertSlotsMatchView();
        assertTrue(kvm.slotAt(0x80000, 0x20000).logsDirty());
        m.sys.globalDirtyLogStop();
        assertSlotsMatchView();
    }

    @Test
    void aSnapshotOfOnePageLeavesTheKernelLogOfItsNeighboursForTheNextOne() {
        m.vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        m.vram.snapshotAndClearDirty(0, m.vram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        kvm.vcpuStore(PcLikeMachine.HOLE, 1);
        kvm.vcpuStore(PcLikeMachine.HOLE + 0x5000, 1);
        // the snapshot's window is widened to 64 pages (page 5's bit is cleared with page 0's), but
        // log_clear covers the requested page only, as QEMU's: the kernel keeps page 5 dirty
        DirtyBitmapSnapshot first = m.vram.snapshotAndClearDirty(0, 0x1000, DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(m.vram.snapshotGetDirty(first, 0, 8));
        DirtyBitmapSnapshot next = m.vram.snapshotAndClearDirty(0x5000, 0x1000, DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(m.vram.snapshotGetDirty(next, 0x5000, 8), "page 5 was written and never reported for its range");
        assertFalse(m.vram.snapshotGetDirty(next, 0, 8), "page 0 was re-armed");
    }

    @Test
    void registeringInsideAnOpenTransactionEndsWithTheCommittedView() {
        m.sys.unregisterListener(accel);
        m.sys.transactionBegin();
        try {
            m.vram.setAddress(PcLikeMachine.HOLE + 8 * PcLikeMachine.MIB);
            m.setPam(0, 2);
            m.sys.registerListener(accel, m.as);
        } finally {
            m.sys.transactionCommit();
        }
        assertSlotsMatchView();
        m.sys.transactionBegin();
        try {
            m.vram.setAddress(PcLikeMachine.HOLE);
            m.sys.unregisterListener(accel);
        } finally {
            m.sys.transactionCommit();
        }
        assertEquals(List.of(), kvm.slots());
        m.sys.registerListener(accel, m.as);
        assertSlotsMatchView();
    }
}
