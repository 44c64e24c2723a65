package dev.guestmem.ioeventfd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What listeners hear about eventfds: QEMU's {@code address_space_update_ioeventfds} (guest addresses,
 * symmetric difference, del forward / add reverse), registration replay, transactions.
 */
class IoeventfdListenerTest {
    private final List<String> log = new ArrayList<>();
    private final List<EventNotifier> notifiers = new ArrayList<>();
    private MemorySystem sys;
    private ContainerRegion root;
    private AddressSpace as;
    private IoRegion dev;

    /** Logs eventfd and region calls as text. */
    private final class Recorder implements MemoryListener {
        private final String name;
        private final int priority;

        Recorder(String name, int priority) {
            this.name = name;
            this.priority = priority;
        }

        @Override
        public int priority() {
            return priority;
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
            log.add(name + " +fd " + Long.toHexString(fd.addr()) + "/" + fd.size() + " " + fd.data());
        }

        @Override
        public void eventfdDel(Ioeventfd fd) {
            log.add(name + " -fd " + Long.toHexString(fd.addr()) + "/" + fd.size() + " " + fd.data());
        }
    }

    @BeforeEach
    void setUp() {
        sys = new MemorySystem();
        root = new ContainerRegion(sys, null, "system", -1L);
        as = sys.addressSpace(root, "memory");
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, v, s) -> { }).build();
        dev = new IoRegion(sys, null, ops, "dev", 0x1000);
        root.addSubregion(0x10000, dev);
    }

    @AfterEach
    void close() {
        notifiers.forEach(EventNotifier::close);
    }

    private EventNotifier notifier() {
        EventNotifier e = EventNotifier.create();
        notifiers.add(e);
        return e;
    }

    private List<String> eventfdCalls() {
        return log.stream().filter(s -> s.contains("fd ")).toList();
    }

    @Test
    void addAndDelOutsideATransactionAreAnnouncedAtGuestAddresses() {
        sys.registerListener(new Recorder("L", 0), as);
        log.clear();
        EventNotifier e = notifier();
        dev.addEventfd(0x8, 4, true, 5, e);
        dev.delEventfd(0x8, 4, true, 5, e);
        // eventfd changes alone: no begin/commit, as in QEMU
        assertEquals(List.of("L +fd 10008/4 5", "L -fd 10008/4 5"), log);
    }

    @Test
    void movingOrDisablingTheRegionMovesOrDropsItsEventfds() {
        sys.registerListener(new Recorder("L", 0), as);
        dev.addEventfd(0x8, 4, false, 0, notifier());
        log.clear();
        dev.setAddress(0x20000);
        assertEquals(List.of("L -fd 10008/4 0", "L +fd 20008/4 0"), eventfdCalls());
        // after the topology passes of that address space, inside begin/commit
        assertEquals("L commit", log.get(log.size() - 1));
        assertEquals(log.size() - 2, log.indexOf("L +fd 20008/4 0"));
        log.clear();
        dev.setEnabled(false);
        assertEquals(List.of("L -fd 20008/4 0"), eventfdCalls());
        log.clear();
        dev.setEnabled(true);
        assertEquals(List.of("L +fd 20008/4 0"), eventfdCalls());
    }

    @Test
    void insideATransactionOnlyTheNetChangeIsAnnouncedAtCommit() {
        sys.registerListener(new Recorder("L", 0), as);
        EventNotifier e = notifier();
        dev.addEventfd(0x0, 2, false, 0, e);
        log.clear();
        sys.transactionBegin();
        dev.addEventfd(0x4, 2, false, 0, e);
        dev.delEventfd(0x0, 2, false, 0, e);
        dev.addEventfd(0x0, 2, false, 0, e);
        assertEquals(List.of(), log);
        sys.transactionCommit();
        assertEquals(List.of("L +fd 10004/2 0"), log);
    }

    @Test
    void delsGoInPriorityOrderAddsInReverse() {
        sys.registerListener(new Recorder("low", 0), as);
        sys.registerListener(new Recorder("high", 10), as);
        EventNotifier e = notifier();
        log.clear();
        dev.addEventfd(0x0, 1, false, 0, e);
        dev.delEventfd(0x0, 1, false, 0, e);
        assertEquals(List.of("high +fd 10000/1 0", "low +fd 10000/1 0", "low -fd 10000/1 0", "high -fd 10000/1 0"),
                log);
    }

    @Test
    void registrationReplaysTheCurrentEventfdsAndUnregistrationRemovesThem() {
        dev.addEventfd(0x4, 4, true, 1, notifier());
        dev.addEventfd(0x0, 0, false, 0, notifier());
        Recorder l = new Recorder("L", 0);
        sys.registerListener(l, as);
        assertEquals(List.of("L begin", "L add dev", "L +fd 10000/0 0", "L +fd 10004/4 1", "L commit"), log);
        log.clear();
        sys.unregisterListener(l);
        assertEquals(List.of("L begin", "L del dev", "L -fd 10000/0 0", "L -fd 10004/4 1", "L commit"), log);
    }

    @Test
    void aRegionSeenTwiceThroughAnAliasGivesTwoEventfds() {
        AliasRegion a = new AliasRegion(sys, null, "dev-alias", dev, 0, 0x1000);
        root.addSubregion(0x50000, a);
        sys.registerListener(new Recorder("L", 0), as);
        log.clear();
        dev.addEventfd(0x10, 8, false, 0, notifier());
        assertEquals(List.of("L +fd 10010/8 0", "L +fd 50010/8 0"), log);
        assertEquals(2, sys.ioeventfds(as).size());
    }

    @Test
    void aRegionSplitByAnOverlapListsAnEventfdOncePerRangeItTouches() {
        // a 4-byte register over dev's bytes 8-11 splits dev into [0x10000, 0x10007] and [0x1000c, ...]
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, v, s) -> { }).build();
        root.addSubregionOverlap(0x10008, new IoRegion(sys, null, ops, "over", 4), 1);
        sys.registerListener(new Recorder("L", 0), as);
        log.clear();
        EventNotifier e = notifier();
        dev.addEventfd(0x0, 4, false, 0, e); // first range only
        dev.addEventfd(0x9, 2, false, 0, e); // under the register: touches no range
        assertEquals(List.of("L +fd 10000/4 0"), log);
        log.clear();
        // starts in the first range and reaches into the second: listed for both, uncut (QEMU)
        dev.addEventfd(0x6, 8, false, 0, e);
        assertEquals(List.of("L +fd 10006/8 0", "L +fd 10006/8 0"), log);
        log.clear();
        dev.delEventfd(0x6, 8, false, 0, e);
        assertEquals(List.of("L -fd 10006/8 0", "L -fd 10006/8 0"), log);
    }

    @Test
    void aListenerOfEveryAddressSpaceHearsANewSpacesEventfds() {
        dev.addEventfd(0x4, 4, false, 0, notifier());
        sys.registerListener(new Recorder("all", 0), null);
        log.clear();
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
        AliasRegion a = new AliasRegion(sys, null, "a", dev, 0, 0x1000);
        root2.addSubregion(0x3000, a);
        AddressSpace as2 = sys.addressSpace(root2, "second");
        assertEquals(List.of("all +fd 3004/4 0"), eventfdCalls());
        log.clear();
        sys.destroyAddressSpace(as2);
        assertEquals(List.of("all -fd 3004/4 0"), eventfdCalls());
    }
}
