package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.linux.Linux;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Eventfds on the less common paths, checked against QEMU's {@code memory.c}: subpages, IOMMU
 * translation, access splitting, transactions that mix eventfd and topology changes, listeners
 * registered mid-transaction, coalesced windows seen twice, removal, and writes racing with
 * {@code addEventfd}/{@code delEventfd}.
 */
class IoeventfdPathsTest extends IoeventfdTestBase {
    private final List<String> log = new ArrayList<>();


    private IoRegion device(String name, long size, int implMax) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, v, s) -> deviceWrites.add(new long[] {a, v, s}))
                .valid(1, 8, false)
                .impl(1, implMax, false)
                .endianness(Endianness.LITTLE)
                .build();
        return new IoRegion(sys, new Object(), ops, name, size);
    }

    private final class Recorder implements MemoryListener {
        private final String name;

        Recorder(String name) {
            this.name = name;
        }

        @Override
        public void begin() {
            log.add(name + " begin");
        }

        @Override
        public void commit() {
            log.add(name + " commit");
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            log.add(name + " add " + s.region().name());
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            log.add(name + " del " + s.region().name());
        }

        @Override
        public void eventfdAdd(Ioeventfd fd) {
            log.add(name + " +fd " + Long.toHexString(fd.addr()));
        }

        @Override
        public void eventfdDel(Ioeventfd fd) {
            log.add(name + " -fd " + Long.toHexString(fd.addr()));
        }

        @Override
        public void coalescedIoAdd(MemoryRegionSection s, long addr, long size) {
            log.add(name + " +co " + Long.toHexString(addr) + "/" + Long.toHexString(size));
        }

        @Override
        public void coalescedIoDel(MemoryRegionSection s, long addr, long size) {
            log.add(name + " -co " + Long.toHexString(addr) + "/" + Long.toHexString(size));
        }
    }

    @Test
    void anEventfdInASubpageSignals() {
        root.addSubregion(0, new RamRegion(sys, null, "ram", RamBlock.anonymous("ram", 0x800), false, false));
        IoRegion dev = device("small", 0x10, 8);
        root.addSubregion(0x800, dev);
        EventNotifier kick = notifier();
        dev.addEventfd(0x4, 4, true, 9, kick);
        assertEquals(MemTxResult.OK, as.stlLe(0x804, 9));
        assertTrue(kick.testAndClear());
        assertEquals(MemTxResult.OK, as.write(0x804, MemTxAttrs.UNSPECIFIED, new byte[] {9, 0, 0, 0}, 0, 4));
        assertTrue(kick.testAndClear());
        assertTrue(deviceWrites.isEmpty());
    }

    @Test
    void anEightByteEventfdMatchesBeforeTheSplitIntoImplChunks() {
        IoRegion dev = device("d", 0x100, 4);
        root.addSubregion(0x1000, dev);
        EventNotifier kick = notifier();
        dev.addEventfd(0x8, 8, true, 0x1_0000_0002L, kick);
        assertEquals(MemTxResult.OK, as.stqLe(0x1008, 0x1_0000_0002L));
        assertTrue(kick.testAndClear());
        assertTrue(deviceWrites.isEmpty());
    }

    @Test
    void aWriteTranslatedByAnIommuSignals() {
        IoRegion dev = device("d", 0x1000, 8);
        ContainerRegion downRoot = new ContainerRegion(sys, null, "down", -1L);
        downRoot.addSubregion(0x5000, dev);
        AddressSpace down = sys.addressSpace(downRoot, "down");
        IommuOps ops = new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
                out.iova = addr & ~0xfffL;
                out.addrMask = 0xfff;
                out.targetAs = down;
                out.translatedAddr = 0x5000;
                out.perm = IommuTlbEntry.RW;
            }
        };
        root.addSubregion(0x100000, new IommuRegion(sys, null, "iommu", 0x10000, ops));
        EventNotifier kick = notifier();
        dev.addEventfd(0x20, 2, false, 0, kick);
        assertEquals(MemTxResult.OK, as.stwLe(0x100020, 1));
        assertTrue(kick.testAndClear());
        assertTrue(deviceWrites.isEmpty());
    }

    @Test
    void eventfdAndMoveInOneTransactionGiveOneDifferenceInsideBeginCommit() {
        IoRegion dev = device("d", 0x100, 8);
        root.addSubregion(0x1000, dev);
        EventNotifier e = notifier();
        dev.addEventfd(0x0, 4, false, 0, e);
        sys.registerListener(new Recorder("L"), as);
        log.clear();
        sys.transactionBegin();
        dev.addEventfd(0x4, 4, false, 0, e);
        dev.setAddress(0x2000);
        assertEquals(List.of(), log);
        sys.transactionCommit();
        assertEquals(List.of("L begin", "L del d", "L add d", "L -fd 1000", "L +fd 2000", "L +fd 2004",
                "L commit"), log);
    }

    @Test
    void aListenerRegisteredMidTransactionHearsAPendingEventfdOnce() {
        IoRegion dev = device("d", 0x100, 8);
        root.addSubregion(0x1000, dev);
        sys.registerListener(new Recorder("A"), as);
        log.clear();
        sys.transactionBegin();
        dev.addEventfd(0x0, 4, false, 0, notifier());
        sys.registerListener(new Recorder("B"), as);
        sys.transactionCommit();
        assertEquals(1, log.stream().filter(s -> s.equals("A +fd 1000")).count(), log.toString());
        assertEquals(1, log.stream().filter(s -> s.equals("B +fd 1000")).count(), log.toString());
    }

    @Test
    void aLoneListenerRegisteredMidTransactionHearsAPendingEventfdOnce() {
        IoRegion dev = device("d", 0x100, 8);
        root.addSubregion(0x1000, dev);
        sys.transactionBegin();
        dev.addEventfd(0x0, 4, false, 0, notifier());
        sys.registerListener(new Recorder("B"), as);
        sys.transactionCommit();
        assertEquals(1, log.stream().filter(s -> s.equals("B +fd 1000")).count(), log.toString());
    }

    @Test
    void coalescedWindowsOfARegionSeenTwice() {
        IoRegion dev = device("d", 0x100, 8);
        root.addSubregion(0x1000, dev);
        root.addSubregion(0x9000, new AliasRegion(sys, null, "a", dev, 0x80, 0x80));
        sys.registerListener(new Recorder("L"), as);
        log.clear();
        dev.addCoalescing(0x70, 0x20);
        assertEquals(List.of("L +co 1070/20", "L +co 9000/10"), log);
        log.clear();
        dev.clearCoalescing();
        assertEquals(List.of("L -co 1070/20", "L -co 9000/10"), log);
        assertFalse(dev.isFlushCoalesced());
    }

    @Test
    void removedRegionLosesItsEventfdsAndDestroyedOneStaysQuiet() {
        IoRegion dev = device("d", 0x100, 8);
        root.addSubregion(0x1000, dev);
        dev.addEventfd(0x0, 4, false, 0, notifier());
        sys.registerListener(new Recorder("L"), as);
        log.clear();
        root.delSubregion(dev);
        assertEquals(List.of("L begin", "L del d", "L -fd 1000", "L commit"), log);
        log.clear();
        dev.destroy();
        assertEquals(List.of(), log);
        assertTrue(sys.ioeventfds(as).isEmpty());
    }

    @Test
    void writesRacingWithAddAndDelEitherSignalOrReachTheDevice() throws Exception {
        IoRegion dev = device("d", 0x100, 8);
        root.addSubregion(0x1000, dev);
        EventNotifier kick = notifier();
        int writes = Integer.getInteger("guestmem.stress.rounds", 200) * 50;
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread toggler = Thread.ofPlatform().start(() -> {
            try {
                while (!done.get()) {
                    dev.addEventfd(0x10, 4, true, 1, kick);
                    dev.delEventfd(0x10, 4, true, 1, kick);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        int results = 0;
        try {
            for (int i = 0; i < writes; i++) {
                results |= as.stlLe(0x1010, 1);
            }
        } finally {
            done.set(true);
            toggler.join();
        }
        assertNull(failure.get());
        assertEquals(MemTxResult.OK, results);
        // every write went to exactly one place: the device, or the eventfd's counter
        long signalled = 0;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8);
            if (Linux.read(kick.fd(), buf, 8) == 8) {
                signalled = buf.get(ValueLayout.JAVA_LONG, 0);
            }
        }
        assertEquals(writes, deviceWrites.size() + signalled);
    }

    private IoRegion device(String name, Endianness endianness) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((a, sz) -> 0)
                .write((a, v, sz) -> deviceWrites.add(new long[] {a, v, sz}))
                .valid(1, 8, false)
                .impl(1, 8, false)
                .endianness(endianness)
                .build();
        return new IoRegion(sys, new Object(), ops, name, 0x100);
    }

    @Test
    void byteOrderHoldsOnBufferAndCacheWritesForBigAndNativeDevices() {
        IoRegion big = device("big", Endianness.BIG);
        IoRegion nat = device("native", Endianness.NATIVE);
        root.addSubregion(0x1000, big);
        root.addSubregion(0x2000, nat);
        EventNotifier kb = notifier();
        EventNotifier kn = notifier();
        // data in the target's (host's, little-endian) order, as memory_region_add_eventfd's MO_TE
        big.addEventfd(0x8, 4, true, 0x11223344L, kb);
        nat.addEventfd(0x8, 4, true, 0x11223344L, kn);
        byte[] le = {0x44, 0x33, 0x22, 0x11}; // a little-endian guest's stl of 0x11223344
        assertEquals(MemTxResult.OK, as.write(0x1008, MemTxAttrs.UNSPECIFIED, le, 0, 4));
        assertEquals(MemTxResult.OK, as.write(0x2008, MemTxAttrs.UNSPECIFIED, le, 0, 4));
        assertTrue(kb.testAndClear());
        assertTrue(kn.testAndClear());
        dev.guestmem.access.MemoryRegionCache cache = new dev.guestmem.access.MemoryRegionCache();
        cache.init(as, 0x1000, 0x10, true);
        assertEquals(MemTxResult.OK, cache.write(0x8, le, 0, 4));
        assertTrue(kb.testAndClear());
        assertEquals(MemTxResult.OK, cache.stlBe(0x8, 0x44332211)); // the same bytes, big-endian
        assertTrue(kb.testAndClear());
        cache.destroy();
        assertTrue(deviceWrites.isEmpty());
    }

    @Test
    void duplicatesAndTheWildcardDeleteAsQemuDoes() {
        IoRegion dev = device("d", Endianness.LITTLE);
        root.addSubregion(0x1000, dev);
        sys.registerListener(new Recorder("L"), as);
        EventNotifier a = notifier();
        EventNotifier b = notifier();
        log.clear();
        dev.addEventfd(0x0, 4, false, 0, a);
        dev.addEventfd(0x0, 4, false, 0, a); // kept twice; listeners hear both
        assertEquals(List.of("L +fd 1000", "L +fd 1000"), log);
        log.clear();
        dev.delEventfd(0x0, 4, false, 0, a);
        assertEquals(List.of("L -fd 1000"), log);
        // memory_region_ioeventfd_equal: size 0 equals every eventfd at its address, whatever notifier
        dev.delEventfd(0x0, 0, false, 0, b);
        assertTrue(dev.ioeventfds().isEmpty());
    }
}
