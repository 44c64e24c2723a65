package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * QEMU's iotlb in {@link VcpuTlb}: a page that is wholly one device-only section keeps that section
 * in its entry ({@link TlbEntry#ioSection()}), and the page's loads and stores go to it through
 * {@code ioLoad}/{@code ioStore} without a lookup, with every rule of the full dispatch.
 */
class IoTlbTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final long DEV_A = 0x10000;
    private static final long DEV_B = 0x20000;
    private static final long RAM = 0x100000;

    /** A machine: RAM, two one-page devices that log their calls, a device smaller than a page. */
    private static final class Machine implements AutoCloseable {
        final MemorySystem sys = new MemorySystem();
        final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        final List<String> calls = new ArrayList<>();
        final IoRegion a = device("a", 0xA000_0000L, 0x1000);
        final IoRegion b = device("b", 0xB000_0000L, 0x1000);
        final IoRegion small = device("small", 0xC000_0000L, 0x100);
        final AddressSpace as;

        Machine() {
            root.addSubregion(RAM, RamRegion.allocate(sys, null, "ram", 0x10000));
            root.addSubregion(DEV_A, a);
            root.addSubregion(DEV_B, b);
            root.addSubregion(0x30000, small);
            as = sys.addressSpace(root, "memory");
        }

        IoRegion device(String name, long tag, long size) {
            return new IoRegion(sys, new Object(), MemoryRegionOps.builder()
                    .read((addr, sz) -> {
                        calls.add(name + " r " + Long.toHexString(addr) + "/" + sz);
                        return tag | addr;
                    })
                    .write((addr, v, sz) -> calls.add(name + " w " + Long.toHexString(addr) + "=" + Long.toHexString(v)
                            + "/" + sz))
                    .valid(1, 4, false).build(), name, size);
        }

        @Override
        public void close() {
            sys.close();
        }
    }

    @Test
    void onlyAWholeDevicePageHasAnIoSection() {
        try (Machine m = new Machine()) {
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(m.as, DEV_A + 0x10, U, e);
            assertNotNull(e.ioSection());
            assertSame(m.a, e.ioSection().region());
            assertTrue(e.ioSection().isDeviceOnly());
            GuestTlb.fill(m.as, RAM, U, e);
            assertNull(e.ioSection(), "RAM");
            GuestTlb.fill(m.as, 0x30000, U, e);
            assertNull(e.ioSection(), "a device smaller than the page: a subpage");
            GuestTlb.fill(m.as, 0x50000, U, e);
            assertNull(e.ioSection(), "nothing there");
        }
    }

    @Test
    void twoDevicesAlternatingEachAnswerFromTheirOwnEntry() {
        try (Machine m = new Machine(); VcpuTlb tlb = new VcpuTlb(m.as, U, null)) {
            for (int i = 0; i < 100; i++) {
                long off = (i * 4L) & 0xFFC;
                assertEquals((int) (0xA000_0000L | off), tlb.ldlLe(DEV_A + off));
                assertEquals((int) (0xB000_0000L | off), tlb.ldlLe(DEV_B + off));
                tlb.stwLe(DEV_B + off, i);
            }
            assertEquals(300, m.calls.size());
            assertEquals("a r 8/4", m.calls.get(6));
            assertEquals("b r 8/4", m.calls.get(7));
            assertEquals("b w 8=2/2", m.calls.get(8));
        }
    }

    @Test
    void theFullDispatchRulesStillApply() {
        try (Machine m = new Machine(); VcpuTlb tlb = new VcpuTlb(m.as, U, null)) {
            List<String> faults = new ArrayList<>();
            try (VcpuTlb reporting = new VcpuTlb(m.as, U, (addr, size, isWrite, r) -> faults.add(
                    Long.toHexString(addr) + (isWrite ? " w " : " r ") + MemTxResult.toString(r)))) {
                assertEquals(0, reporting.ldqLe(DEV_A + 8)); // valid max 4: refused by the size rules
                assertEquals(List.of("10008 r DECODE_ERROR"), faults);
                assertEquals(List.of(), m.calls);
                // unaligned where the device forbids it: TCG makes it in aligned pieces the device takes
                assertEquals(0x0004_0002, reporting.ldlLe(DEV_A + 2));
                reporting.stlLe(DEV_A + 1, 5);
                assertEquals(List.of("a r 2/2", "a r 4/2", "a w 1=5/1", "a w 2=0/1", "a w 3=0/1", "a w 4=0/1"),
                        m.calls);
                assertEquals(List.of("10008 r DECODE_ERROR"), faults);
                assertEquals(0, m.as.ldlLe(DEV_A + 2), "(the space's own ld hands it over unaligned: refused)");
                m.calls.clear();
            }
            // the value is cut to the access's size, as the dispatch does
            assertEquals(0x0FFE, tlb.lduwLe(DEV_A + 0xFFE));
            assertEquals(0xFE, tlb.ldub(DEV_A + 0xFFE));
            assertEquals(List.of("a r ffe/2", "a r ffe/1"), m.calls);
        }
    }

    @Test
    void aStoreThroughTheEntryReachesTheDevicesEventfdNotItsCallback() {
        try (Machine m = new Machine(); EventNotifier kick = EventNotifier.create();
             VcpuTlb tlb = new VcpuTlb(m.as, U, null)) {
            m.a.addEventfd(0x40, 4, false, 0, kick);
            assertEquals((int) (0xA000_0000L | 0x44), tlb.ldlLe(DEV_A + 0x44)); // the entry is an io entry
            tlb.stlLe(DEV_A + 0x40, 1);
            assertTrue(kick.testAndClear());
            assertEquals(List.of("a r 44/4"), m.calls);
        }
    }

    @Test
    void aMovedDeviceIsFoundAtItsNewPlaceAfterTheBlockEntry() {
        try (Machine m = new Machine(); VcpuTlb tlb = new VcpuTlb(m.as, U, null)) {
            assertEquals((int) (0xA000_0000L | 4), tlb.ldlLe(DEV_A + 4));
            m.a.setAddress(0x40000);
            tlb.enterBlock();
            MemTxResultHolder r = new MemTxResultHolder();
            assertEquals(0, m.as.ldlLe(DEV_A + 4, U, r));
            assertEquals(MemTxResult.DECODE_ERROR, r.get());
            List<Integer> faults = new ArrayList<>();
            try (VcpuTlb fresh = new VcpuTlb(m.as, U, (addr, size, isWrite, res) -> faults.add(res))) {
                assertEquals(0, fresh.ldlLe(DEV_A + 4));
                assertEquals((int) (0xA000_0000L | 4), fresh.ldlLe(0x40004));
            }
            assertEquals(0, tlb.ldlLe(DEV_A + 4));
            assertEquals((int) (0xA000_0000L | 4), tlb.ldlLe(0x40004));
            assertEquals(List.of(MemTxResult.DECODE_ERROR), faults);
        }
    }

    /**
     * A device page's entry is used only while the view is the one it was filled from: between a
     * change and the next block entry the page takes the address space, the current view, as every
     * non-direct page does (the fuzzer's model; found by it when the entry kept the old device).
     */
    @Test
    void aStaleIoEntryTakesTheCurrentViewUntilTheBlockEntry() {
        try (Machine m = new Machine()) {
            List<Integer> faults = new ArrayList<>();
            try (VcpuTlb tlb = new VcpuTlb(m.as, U, (addr, size, isWrite, r) -> faults.add(r))) {
                assertEquals((int) (0xA000_0000L | 4), tlb.ldlLe(DEV_A + 4)); // the io entry
                m.a.setAddress(0x40000);                                   // no enterBlock yet
                assertEquals(0, tlb.ldlLe(DEV_A + 4));
                tlb.stlLe(DEV_A + 8, 1);
                assertEquals(List.of(MemTxResult.DECODE_ERROR, MemTxResult.DECODE_ERROR), faults);
                assertEquals(List.of("a r 4/4"), m.calls);
                assertEquals((int) (0xA000_0000L | 4), tlb.ldlLe(0x40004));   // the new place, before the flush too
            }
        }
    }

    @Test
    void aSectionThatDoesNotHoldTheAddressIsOnlyAHint() {
        try (Machine m = new Machine(); Machine other = new Machine()) {
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(m.as, DEV_A, U, e);
            PhysSection a = e.ioSection();
            MemTxResultHolder r = new MemTxResultHolder();
            // another address: the full dispatch answers for it
            assertEquals(0xB000_0010L, m.as.ioLoad(a, DEV_B + 0x10, 4, false, U, r));
            assertEquals(MemTxResult.OK, r.get());
            assertEquals(MemTxResult.OK, m.as.ioStore(a, DEV_B + 0x10, 2, false, 0x1234_5678L, U));
            assertEquals(List.of("b r 10/4", "b w 10=5678/2"), m.calls);
            assertEquals(0, m.as.ioLoad(a, 0x50000, 4, false, U, r));
            assertEquals(MemTxResult.DECODE_ERROR, r.get());
            // a section of another machine: this machine's device answers
            m.calls.clear();
            GuestTlb.fill(other.as, DEV_A, U, e);
            assertEquals(0xA000_0020L, m.as.ioLoad(e.ioSection(), DEV_A + 0x20, 4, false, U, r));
            assertEquals(MemTxResult.OK, m.as.ioStore(e.ioSection(), DEV_A + 0x20, 1, false, 7, U));
            assertEquals(List.of("a r 20/4", "a w 20=7/1"), m.calls);
            assertEquals(List.of(), other.calls);
            // a store wrapping past 2^64 is refused whole
            assertEquals(MemTxResult.DECODE_ERROR, m.as.ioStore(a, -2L, 4, false, 1, U));
        }
    }

    @Test
    void badArgumentsAreRefusedBeforeAnyDeviceIsCalled() {
        try (Machine m = new Machine()) {
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(m.as, DEV_A, U, e);
            assertThrows(IllegalArgumentException.class, () -> m.as.ioLoad(e.ioSection(), DEV_A, 3, false, U, null));
            assertThrows(IllegalArgumentException.class, () -> m.as.ioStore(e.ioSection(), DEV_A, 16, false, 0, U));
            assertThrows(NullPointerException.class, () -> m.as.ioLoad(null, DEV_A, 4, false, U, null));
            assertEquals(List.of(), m.calls);
        }
    }

    @Test
    void aFlushCoalescedDeviceIsFlushedFirstThroughTheEntry() {
        try (Machine m = new Machine(); VcpuTlb tlb = new VcpuTlb(m.as, U, null)) {
            tlb.ldlLe(DEV_A); // the entry exists before the flag is set (setting it is no topology change)
            m.a.setFlushCoalesced();
            m.sys.setCoalescedMmioFlusher(() -> m.calls.add("flush"));
            tlb.ldlLe(DEV_A + 4);
            tlb.stlLe(DEV_A + 8, 1);
            assertEquals(List.of("a r 0/4", "flush", "a r 4/4", "flush", "a w 8=1/4"), m.calls);
        }
    }

    @Test
    void aDeviceReachingItselfThroughTheEntryIsRefused() {
        try (Machine m = new Machine()) {
            MemTxResultHolder inner = new MemTxResultHolder();
            VcpuTlb[] tlb = new VcpuTlb[1];
            Object owner = new Object();
            IoRegion loop = new IoRegion(m.sys, owner, MemoryRegionOps.builder()
                    .read((addr, sz) -> addr == 0 ? 0 : m.as.ioLoad(sectionOf(m.as, 0x60000), 0x60000, 4, false, U, inner))
                    .write((addr, v, sz) -> { }).build(), "loop", 0x1000);
            m.root.addSubregion(0x60000, loop);
            tlb[0] = new VcpuTlb(m.as, U, null);
            tlb[0].ldlLe(0x60000); // the io entry
            assertEquals(0, tlb[0].ldlLe(0x60004));
            assertEquals(MemTxResult.ACCESS_ERROR, inner.get());
            tlb[0].close();
        }
    }

    @Test
    void aDeviceWritingItselfThroughTheEntryIsRefusedAndAThrowingOneIsAnError() {
        try (Machine m = new Machine()) {
            int[] inner = {-1};
            IoRegion loop = new IoRegion(m.sys, new Object(), MemoryRegionOps.builder()
                    .read((addr, sz) -> 0)
                    .write((addr, v, sz) -> {
                        if (addr == 4) {
                            inner[0] = m.as.ioStore(sectionOf(m.as, 0x60000), 0x60008, 4, false, 1, U);
                        } else if (addr == 8) {
                            throw new IllegalStateException("device fault");
                        }
                    }).build(), "loop", 0x1000);
            m.root.addSubregion(0x60000, loop);
            List<Integer> faults = new ArrayList<>();
            try (VcpuTlb tlb = new VcpuTlb(m.as, U, (addr, size, isWrite, r) -> faults.add(r))) {
                tlb.stlLe(0x60000, 0); // the io entry
                tlb.stlLe(0x60004, 0); // re-enters: the inner store is refused, the outer completes
                assertEquals(MemTxResult.ACCESS_ERROR, inner[0]);
                tlb.stlLe(0x60008, 0); // throws: ERROR
                assertEquals(List.of(MemTxResult.ERROR), faults);
            }
        }
    }

    private static PhysSection sectionOf(AddressSpace as, long addr) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, addr, MemTxAttrs.UNSPECIFIED, e);
        return e.ioSection();
    }
}
