package dev.guestmem.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** R7: an MMIO callback that reaches its own device is refused unless the region opted out. */
class ReentrancyGuardTest {
    private final MemorySystem sys = new MemorySystem();

    private AddressSpace space(IoRegion... regions) {
        AddressSpace as = new AddressSpace(sys, new ContainerRegion(sys, null, "root", -1L), "t");
        long base = 0x1000;
        List<FlatRange> ranges = new java.util.ArrayList<>();
        for (IoRegion r : regions) {
            ranges.add(new FlatRange(base, base + r.size() - 1, r, 0, false, false, false, false, 0));
            base += 0x1000;
        }
        as.publish(new FlatView(null, ranges));
        return as;
    }

    @Test
    void dmaToOwnRegisterIsBlocked() {
        Object device = new Object();
        AddressSpace[] holder = new AddressSpace[1];
        MemTxResultHolder inner = new MemTxResultHolder();
        AtomicInteger innerCalls = new AtomicInteger();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    if (addr == 0) { // register 0's read "DMAs" from register 8 of the same device
                        holder[0].ldlLe(0x2008, MemTxAttrs.UNSPECIFIED, inner);
                    } else {
                        innerCalls.incrementAndGet();
                    }
                    return 0x42;
                })
                .build();
        IoRegion a = new IoRegion(sys, device, ops, "dev-a", 0x100);
        IoRegion b = new IoRegion(sys, device, ops, "dev-b", 0x100); // same owner, other region
        holder[0] = space(a, b);
        MemTxResultHolder outer = new MemTxResultHolder();
        assertEquals(0x42, holder[0].ldlLe(0x1000, MemTxAttrs.UNSPECIFIED, outer));
        assertEquals(MemTxResult.OK, outer.get());
        assertEquals(MemTxResult.ACCESS_ERROR, inner.get(), "re-entry into the same owner is refused");
        assertEquals(0, innerCalls.get(), "the device never saw the re-entrant access");
        // the guard was released: a plain access to b works
        assertEquals(0x42, holder[0].ldlLe(0x2008, MemTxAttrs.UNSPECIFIED, outer));
        assertEquals(MemTxResult.OK, outer.get());
        assertFalse(sys.reentrancyGuards().of(device).isEngaged());
    }

    @Test
    void optOutAndOtherOwnersAreAllowed() {
        Object device = new Object();
        Object other = new Object();
        AddressSpace[] holder = new AddressSpace[1];
        MemTxResultHolder inner = new MemTxResultHolder();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> {
                    if (addr == 0) {
                        holder[0].ldlLe(0x2000, MemTxAttrs.UNSPECIFIED, inner);
                    }
                    return 1;
                })
                .build();
        IoRegion a = new IoRegion(sys, device, ops, "a", 0x100);
        IoRegion otherDev = new IoRegion(sys, other, MemoryRegionOps.builder().read((x, s) -> 5).build(), "o", 0x100);
        holder[0] = space(a, otherDev);
        holder[0].ldlLe(0x1000);
        assertEquals(MemTxResult.OK, inner.get(), "another device may be reached");

        IoRegion self = new IoRegion(sys, device, ops, "self", 0x100);
        IoRegion selfTarget = new IoRegion(sys, device, MemoryRegionOps.builder().read((x, s) -> 5).build(), "t", 0x100);
        selfTarget.setReentrancyGuardDisabled(true);
        holder[0] = space(self, selfTarget);
        holder[0].ldlLe(0x1000);
        assertEquals(MemTxResult.OK, inner.get(), "a region that opted out is reachable");
    }

    @Test
    void anotherThreadInsideTheDeviceIsNotReentrancy() throws Exception {
        ReentrancyGuard g = sys.reentrancyGuards().of(new Object());
        long me = Thread.currentThread().threadId();
        assertEquals(1, g.enter(me));
        int[] seen = new int[1];
        Thread t = new Thread(() -> seen[0] = g.enter(Thread.currentThread().threadId()));
        t.start();
        t.join();
        assertEquals(0, seen[0], "concurrent I/O proceeds without engaging");
        assertEquals(-1, g.enter(me), "same thread again: re-entry");
        g.exit(me);
        assertFalse(g.isEngaged());
    }

    @Test
    void eachMachineHasItsOwnGuardForTheSameDevice() {
        Object device = new Object();
        ReentrancyGuard here = sys.reentrancyGuards().of(device);
        ReentrancyGuard there = new MemorySystem().reentrancyGuards().of(device);
        assertSame(here, sys.reentrancyGuards().of(device), "one guard per device in a machine");
        assertNotSame(here, there, "no guard shared between two machines");
        long me = Thread.currentThread().threadId();
        assertEquals(1, here.enter(me));
        assertFalse(there.isEngaged(), "I/O in one machine does not block the other");
        here.exit(me);
    }

    /** Two devices whose owner objects are equal but distinct are two devices: no shared guard. */
    @Test
    void equalOwnersAreStillDifferentDevices() {
        record Dev(String model) {
        }
        Dev nic0 = new Dev("e1000");
        Dev nic1 = new Dev("e1000");
        AddressSpace[] holder = new AddressSpace[1];
        MemTxResultHolder inner = new MemTxResultHolder();
        IoRegion a = new IoRegion(sys, nic0, MemoryRegionOps.builder().read((addr, size) -> {
            holder[0].ldlLe(0x2000, MemTxAttrs.UNSPECIFIED, inner); // nic0 "DMAs" from nic1
            return 1;
        }).build(), "nic0", 0x100);
        IoRegion b = new IoRegion(sys, nic1, MemoryRegionOps.builder().read((addr, size) -> 7).build(), "nic1", 0x100);
        holder[0] = space(a, b);
        holder[0].ldlLe(0x1000);
        assertEquals(MemTxResult.OK, inner.get(), "another device, even with an equal owner object");
        assertNotSame(sys.reentrancyGuards().of(nic0), sys.reentrancyGuards().of(nic1));
        assertSame(sys.reentrancyGuards().of(nic0), sys.reentrancyGuards().of(nic0));
    }

    /**
     * Re-entrancy guard on the buffer path: a device callback that
     * writes its own registers through address_space_write gets ACCESS_ERROR and the device is not
     * called.
     */
    @Test
    void aDeviceWritingItsOwnRegistersThroughTheBufferPathIsRefused() {
        Object dev = new Object();
        AddressSpace[] holder = new AddressSpace[1];
        int[] inner = {-1};
        List<String> writes = new ArrayList<>();
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, s) -> {
                    if (addr == 0) { // the device "DMAs" into its own register block through the buffer path
                        inner[0] = holder[0].write(0x30008, MemTxAttrs.UNSPECIFIED, new byte[] {1, 2, 3, 4}, 0, 4);
                    }
                    return 0;
                })
                .write((addr, d, s) -> writes.add(Long.toHexString(addr)))
                .build();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        root.addSubregion(0x30000, new IoRegion(sys, dev, ops, "self", 0x100));
        holder[0] = sys.addressSpace(root, "memory");
        holder[0].ldlLe(0x30000);
        assertEquals(MemTxResult.toString(MemTxResult.ACCESS_ERROR), MemTxResult.toString(inner[0]));
        assertEquals(List.of(), writes, "the re-entrant write never reached the device");
        assertFalse(sys.reentrancyGuards().of(dev).isEngaged());
    }
}
