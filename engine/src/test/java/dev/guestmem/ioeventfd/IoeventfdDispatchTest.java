package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.InvalidRangeException;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Guest writes against eventfds (QEMU's {@code memory_region_dispatch_write_eventfds}): which writes
 * signal instead of reaching the device, on every write path.
 */
class IoeventfdDispatchTest extends IoeventfdTestBase {
    static final long BASE = 0xfe00_0000L;



    private IoRegion device(Endianness endianness, int validMin, int validMax) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, v, s) -> deviceWrites.add(new long[] {a, v, s}))
                .valid(validMin, validMax, false)
                .impl(1, 8, false)
                .endianness(endianness)
                .build();
        IoRegion dev = new IoRegion(sys, new Object(), ops, "doorbell", 0x1000);
        root.addSubregion(BASE, dev);
        return dev;
    }

    @Test
    void matchingWriteSignalsAndSkipsTheDevice() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        EventNotifier kick = notifier();
        dev.addEventfd(0x10, 2, true, 3, kick);

        assertEquals(MemTxResult.OK, as.stwLe(BASE + 0x10, 3));
        assertTrue(kick.testAndClear());
        assertTrue(deviceWrites.isEmpty());

        // other data, other size, other offset: the device gets them, nothing is signalled
        assertEquals(MemTxResult.OK, as.stwLe(BASE + 0x10, 4));
        assertEquals(MemTxResult.OK, as.stlLe(BASE + 0x10, 3));
        assertEquals(MemTxResult.OK, as.stwLe(BASE + 0x12, 3));
        assertFalse(kick.testAndClear());
        assertEquals(3, deviceWrites.size());
        assertEquals(4, deviceWrites.get(0)[1]);
    }

    @Test
    void aRegionHasEventfdsFromItsFirstAddUntilItsLastDelete() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        assertFalse(dev.hasIoeventfds());
        EventNotifier kick = notifier();
        dev.addEventfd(0x10, 2, true, 3, kick);
        dev.addEventfd(0x18, 4, false, 0, kick);
        assertTrue(dev.hasIoeventfds());
        dev.delEventfd(0x10, 2, true, 3, kick);
        assertTrue(dev.hasIoeventfds());
        dev.delEventfd(0x18, 4, false, 0, kick);
        assertFalse(dev.hasIoeventfds(), "the write path's one-call test reads this");
        assertTrue(dev.ioeventfds().isEmpty());
        // and the writes that matched go to the device again
        assertEquals(MemTxResult.OK, as.stwLe(BASE + 0x10, 3));
        assertFalse(kick.testAndClear());
        assertEquals(1, deviceWrites.size());
    }

    @Test
    void withoutMatchDataAnyValueOfThatSizeMatches() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        EventNotifier kick = notifier();
        dev.addEventfd(0x20, 4, false, 0, kick);
        as.stlLe(BASE + 0x20, 0xdead_beef);
        assertTrue(kick.testAndClear());
        as.stwLe(BASE + 0x20, 1); // other size: the device
        assertFalse(kick.testAndClear());
        assertEquals(1, deviceWrites.size());
    }

    @Test
    void sizeZeroMatchesEveryWriteAtItsOffset() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        EventNotifier kick = notifier();
        dev.addEventfd(0x30, 0, true, 99, kick); // data ignored for the wildcard
        for (int size : new int[] {1, 2, 4, 8}) {
            byte[] buf = new byte[size];
            assertEquals(MemTxResult.OK, as.write(BASE + 0x30, MemTxAttrs.UNSPECIFIED, buf, 0, size));
            assertTrue(kick.testAndClear(), "size " + size);
        }
        as.stb(BASE + 0x31, 1);
        assertEquals(1, deviceWrites.size());
    }

    @Test
    void dataIsComparedInTheDevicesByteOrder() {
        IoRegion dev = device(Endianness.BIG, 1, 8);
        EventNotifier kick = notifier();
        // given in the target's (host's, little-endian) order: a little-endian guest store of 0x1234
        dev.addEventfd(0x40, 2, true, 0x1234, kick);
        assertEquals(0x3412L, dev.ioeventfds().get(0).data(), "kept in the device's order");
        as.stwLe(BASE + 0x40, 0x1234);
        assertTrue(kick.testAndClear());
        as.stwBe(BASE + 0x40, 0x1234); // the same number stored big-endian is other bytes
        assertFalse(kick.testAndClear());
        assertEquals(1, deviceWrites.size());
    }

    @Test
    void invalidWritesAreDecodeErrorsEvenAtAnEventfd() {
        IoRegion dev = device(Endianness.LITTLE, 4, 4);
        EventNotifier kick = notifier();
        dev.addEventfd(0x50, 2, false, 0, kick);
        assertEquals(MemTxResult.DECODE_ERROR, as.stwLe(BASE + 0x50, 1)); // valid.min is 4
        assertFalse(kick.testAndClear());
        assertTrue(deviceWrites.isEmpty());
    }

    @Test
    void matchesThroughAnAliasAndTheRegionCacheAndAfterDeletion() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        AliasRegion window = new AliasRegion(sys, null, "window", dev, 0x100, 0x100);
        root.addSubregion(0x1_0000_0000L, window);
        EventNotifier kick = notifier();
        dev.addEventfd(0x110, 4, true, 7, kick);

        as.stlLe(0x1_0000_0010L, 7); // region offset 0x110 through the alias
        assertTrue(kick.testAndClear());

        MemoryRegionCache cache = new MemoryRegionCache();
        cache.init(as, BASE + 0x100, 0x20, true);
        assertEquals(MemTxResult.OK, cache.stlLe(0x10, 7));
        assertTrue(kick.testAndClear());
        cache.destroy();

        dev.delEventfd(0x110, 4, true, 7, kick);
        as.stlLe(BASE + 0x110, 7);
        assertFalse(kick.testAndClear());
        assertEquals(1, deviceWrites.size());
    }

    @Test
    void aRegionWithoutAWriteCallbackStillSignals() {
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).valid(1, 8, false).build();
        IoRegion dev = new IoRegion(sys, null, ops, "notify-only", 0x10);
        root.addSubregion(BASE, dev);
        EventNotifier kick = notifier();
        dev.addEventfd(0, 2, false, 0, kick);
        assertEquals(MemTxResult.OK, as.stwLe(BASE, 1));
        assertTrue(kick.testAndClear());
        assertEquals(MemTxResult.DECODE_ERROR, as.stwLe(BASE + 2, 1)); // no callback for the rest
    }

    @Test
    void aClosedNotifierConsumesTheWriteWithoutTouchingItsDescriptor() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        EventNotifier kick = notifier();
        dev.addEventfd(0x60, 1, false, 0, kick);
        kick.close();
        assertEquals(MemTxResult.OK, as.stb(BASE + 0x60, 1));
        assertTrue(deviceWrites.isEmpty());
        assertFalse(kick.set());
    }

    @Test
    void badEventfdsAreRefusedAndChangeNothing() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        EventNotifier kick = notifier();
        assertThrows(IllegalArgumentException.class, () -> dev.addEventfd(0, 3, false, 0, kick));
        assertThrows(InvalidRangeException.class, () -> dev.addEventfd(0xffe, 4, false, 0, kick));
        assertThrows(InvalidRangeException.class, () -> dev.addEventfd(0x1000, 0, false, 0, kick));
        assertThrows(InvalidRangeException.class, () -> dev.addEventfd(-4L, 4, false, 0, kick));
        assertThrows(NullPointerException.class, () -> dev.addEventfd(0, 4, false, 0, null));
        assertThrows(NoSuchElementException.class, () -> dev.delEventfd(0, 4, false, 0, kick));
        assertTrue(dev.ioeventfds().isEmpty());
        dev.addEventfd(0xffc, 4, false, 0, kick); // the last four bytes fit
        assertThrows(NoSuchElementException.class, () -> dev.delEventfd(0xffc, 4, true, 0, kick));
        assertEquals(1, dev.ioeventfds().size());
    }

    /**
     * The interleaving of a write that loaded the region's eventfd list just before the device
     * deleted the eventfd and closed its notifier (lists are read without the lock): the write
     * arrives after the deletion, so it must reach the device, as it does in QEMU (BQL) and with
     * KVM's in-kernel ioeventfds (deassigned under SRCU); it must not vanish.
     */
    @Test
    void writeMatchingAnEventfdDeletedAndClosedMeanwhileReachesTheDevice() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        EventNotifier kick = EventNotifier.create();
        dev.addEventfd(0x10, 2, true, 3, kick);
        IoeventfdList loaded = dev.ioeventfds(); // what a racing write read
        dev.delEventfd(0x10, 2, true, 3, kick);
        kick.close();

        int r = MmioDispatch.write(dev.ops(), null, "doorbell", loaded, 0x10, 3, 2, false, MemTxAttrs.UNSPECIFIED);
        assertEquals(MemTxResult.OK, r);
        assertEquals(1, deviceWrites.size(), "the write was neither signalled nor given to the device");
        assertEquals(3, deviceWrites.get(0)[1]);
    }

    /**
     * As above, with the notifier left open: once {@code delEventfd} has returned, the device has
     * stopped listening on it (QEMU's virtio drains it once after the deletion), so a write that
     * read the list before must reach the device, not signal the deleted eventfd.
     */
    @Test
    void writeMatchingAnEventfdDeletedMeanwhileReachesTheDevice() {
        IoRegion dev = device(Endianness.LITTLE, 1, 8);
        EventNotifier kick = notifier();
        dev.addEventfd(0x10, 2, true, 3, kick);
        IoeventfdList loaded = dev.ioeventfds(); // what a racing write read
        dev.delEventfd(0x10, 2, true, 3, kick);

        int r = MmioDispatch.write(dev.ops(), null, "doorbell", loaded, 0x10, 3, 2, false, MemTxAttrs.UNSPECIFIED);
        assertEquals(MemTxResult.OK, r);
        assertFalse(kick.testAndClear(), "a deleted eventfd was signalled");
        assertEquals(1, deviceWrites.size());
    }
}
