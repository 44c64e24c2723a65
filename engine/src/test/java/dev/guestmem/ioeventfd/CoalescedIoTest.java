package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.InvalidRangeException;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Coalesced MMIO windows as listeners see them (QEMU's {@code coalesced_io_add/del}). */
class CoalescedIoTest {
    private final List<String> log = new ArrayList<>();
    private MemorySystem sys;
    private ContainerRegion root;
    private AddressSpace as;
    private IoRegion dev;
    private MemoryRegionOps ops;

    private final class Recorder implements MemoryListener {
        @Override
        public void regionAdd(MemoryRegionSection s) {
            log.add("add " + s.region().name() + " " + Long.toHexString(s.offsetWithinAddressSpace()));
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            log.add("del " + s.region().name() + " " + Long.toHexString(s.offsetWithinAddressSpace()));
        }

        @Override
        public void coalescedIoAdd(MemoryRegionSection s, long addr, long size) {
            log.add("+co " + s.region().name() + " " + Long.toHexString(addr) + "/" + Long.toHexString(size));
        }

        @Override
        public void coalescedIoDel(MemoryRegionSection s, long addr, long size) {
            log.add("-co " + s.region().name() + " " + Long.toHexString(addr) + "/" + Long.toHexString(size));
        }
    }

    @BeforeEach
    void setUp() {
        sys = new MemorySystem();
        root = new ContainerRegion(sys, null, "system", -1L);
        as = sys.addressSpace(root, "memory");
        ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, v, s) -> { }).build();
        dev = new IoRegion(sys, null, ops, "fb-regs", 0x1000);
        root.addSubregion(0x40000, dev);
    }

    @Test
    void addingAWindowTellsListenersAtOnceCutToEachRange() {
        // a register over bytes 0x100-0x10f splits the device into two ranges
        root.addSubregionOverlap(0x40100, new IoRegion(sys, null, ops, "cmd", 0x10), 1);
        sys.registerListener(new Recorder(), as);
        log.clear();
        dev.addCoalescing(0x80, 0x200);
        assertEquals(List.of("+co fb-regs 40080/80", "+co fb-regs 40110/170"), log);
        assertTrue(dev.isFlushCoalesced());
        assertEquals(List.of(new CoalescedRange(0x80, 0x200)), dev.coalescedRanges());
        log.clear();
        dev.clearCoalescing();
        assertEquals(List.of("-co fb-regs 40080/80", "-co fb-regs 40110/170"), log);
        assertFalse(dev.isFlushCoalesced());
    }

    /** A listener that throws on every coalesced-window callback (a KVM zone it cannot register). */
    private static final class Refusing implements MemoryListener {
        @Override
        public void coalescedIoAdd(MemoryRegionSection s, long addr, long size) {
            throw new IllegalStateException("refused +co");
        }

        @Override
        public void coalescedIoDel(MemoryRegionSection s, long addr, long size) {
            throw new IllegalStateException("refused -co");
        }
    }

    @Test
    void aThrowingListenerLeavesTheRegionsWindowsAndFlagAsTheCallSays() {
        sys.registerListener(new Refusing(), as);
        sys.registerListener(new Recorder(), as);
        log.clear();
        assertThrows(IllegalStateException.class, () -> dev.addCoalescing(0x80, 0x100));
        assertEquals(List.of(new CoalescedRange(0x80, 0x100)), dev.coalescedRanges(), "the window was added");
        assertTrue(dev.isFlushCoalesced(), "memory_region_add_coalescing sets the flush flag");
        assertEquals(List.of("+co fb-regs 40080/100"), log, "the other listener heard it");
        assertThrows(IllegalStateException.class, () -> dev.addCoalescing(0x400, 0x100));
        log.clear();
        IllegalStateException e = assertThrows(IllegalStateException.class, dev::clearCoalescing);
        assertEquals(1, e.getSuppressed().length, "the second window's refusal rides on the first");
        assertEquals(List.of(), dev.coalescedRanges(), "every window is gone");
        assertFalse(dev.isFlushCoalesced());
        assertEquals(List.of("-co fb-regs 40080/100", "-co fb-regs 40400/100"), log,
                "the other listener heard every removal");
    }

    @Test
    void topologyChangesMoveTheWindowsWithTheirRanges() {
        dev.setCoalescing();
        sys.registerListener(new Recorder(), as);
        assertEquals(List.of("add fb-regs 40000", "+co fb-regs 40000/1000"), log);
        log.clear();
        dev.setAddress(0x80000);
        assertEquals(List.of("-co fb-regs 40000/1000", "del fb-regs 40000", "add fb-regs 80000",
                "+co fb-regs 80000/1000"), log);
    }

    @Test
    void unregistrationAnnouncesEveryWindowGone() {
        dev.addCoalescing(0, 0x10);
        dev.addCoalescing(0x800, 0x10);
        Recorder r = new Recorder();
        sys.registerListener(r, as);
        log.clear();
        sys.unregisterListener(r);
        assertEquals(List.of("-co fb-regs 40000/10", "-co fb-regs 40800/10", "del fb-regs 40000"), log);
    }

    @Test
    void windowsMustFitTheRegion() {
        assertThrows(InvalidRangeException.class, () -> dev.addCoalescing(0xff0, 0x20));
        assertThrows(InvalidRangeException.class, () -> dev.addCoalescing(0, 0));
        assertTrue(dev.coalescedRanges().isEmpty());
        assertFalse(dev.isFlushCoalesced());
        dev.setFlushCoalesced();
        assertTrue(dev.isFlushCoalesced());
        dev.clearFlushCoalesced();
        assertFalse(dev.isFlushCoalesced());
        dev.addCoalescing(0, 4);
        dev.clearFlushCoalesced(); // a window remains: the flag stays
        assertTrue(dev.isFlushCoalesced());
    }
}
