package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Listener callback sequences, as QEMU's transaction commit and registration produce them. */
class MemoryListenerTest {
    private final MemorySystem sys = new MemorySystem();
    private final List<String> log = new ArrayList<>();
    private ContainerRegion root;
    private IoRegion a;
    private IoRegion b;
    private AddressSpace as;

    /** Records every callback as one line. */
    private final class Recorder implements MemoryListener {
        private final String name;
        private final int priority;

        Recorder(String name, int priority) {
            this.name = name;
            this.priority = priority;
        }

        private String s(MemoryRegionSection s) {
            return Long.toHexString(s.offsetWithinAddressSpace()) + "+" + Long.toHexString(s.size()) + " "
                    + s.region().name() + (s.offsetWithinRegion() != 0 ? "@" + Long.toHexString(s.offsetWithinRegion()) : "")
                    + (s.readonly() ? " ro" : "");
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
        public void regionAdd(MemoryRegionSection section) {
            log.add(name + " add " + s(section));
        }

        @Override
        public void regionDel(MemoryRegionSection section) {
            log.add(name + " del " + s(section));
        }

        @Override
        public void regionNop(MemoryRegionSection section) {
            log.add(name + " nop " + s(section));
        }

        @Override
        public void logStart(MemoryRegionSection section, int oldMask, int newMask) {
            log.add(name + " logStart " + s(section) + " " + oldMask + "->" + newMask);
        }

        @Override
        public void logStop(MemoryRegionSection section, int oldMask, int newMask) {
            log.add(name + " logStop " + s(section) + " " + oldMask + "->" + newMask);
        }

        @Override
        public void logSync(MemoryRegionSection section) {
            log.add(name + " logSync " + s(section));
        }

        @Override
        public void logGlobalStart() {
            log.add(name + " logGlobalStart");
        }

        @Override
        public void logGlobalStop() {
            log.add(name + " logGlobalStop");
        }
    }

    @BeforeEach
    void setUp() {
        root = new ContainerRegion(sys, null, "root", 0x100000);
        a = new IoRegion(sys, null, null, "a", 0x1000);
        b = new IoRegion(sys, null, null, "b", 0x1000);
        root.addSubregion(0x1000, a);
        root.addSubregion(0x3000, b);
        as = sys.addressSpace(root, "as");
    }

    @Test
    void registrationReplaysTheCurrentView() {
        sys.registerListener(new Recorder("L", 0), as);
        assertEquals(List.of("L begin", "L add 1000+1000 a", "L add 3000+1000 b", "L commit"), log);
    }

    @Test
    void moveProducesDelInReverseThenNopAndAddForward() {
        sys.registerListener(new Recorder("hi", 10), as);
        sys.registerListener(new Recorder("lo", 0), as);
        log.clear();
        a.setAddress(0x5000);
        assertEquals(List.of(
                "lo begin", "hi begin",
                // pass 1, address order, listeners in reverse priority order
                "hi del 1000+1000 a", "lo del 1000+1000 a",
                // pass 2, address order, forward
                "lo nop 3000+1000 b", "hi nop 3000+1000 b",
                "lo add 5000+1000 a", "hi add 5000+1000 a",
                "lo commit", "hi commit"), log);
    }

    @Test
    void equalPrioritiesKeepRegistrationOrder() {
        sys.registerListener(new Recorder("first", 5), as);
        sys.registerListener(new Recorder("second", 5), as);
        log.clear();
        root.delSubregion(b);
        assertEquals(List.of("first begin", "second begin",
                "second del 3000+1000 b", "first del 3000+1000 b",
                "first nop 1000+1000 a", "second nop 1000+1000 a",
                "first commit", "second commit"), log);
    }

    @Test
    void attributeChangeIsDelThenAdd() {
        sys.registerListener(new Recorder("L", 0), as);
        log.clear();
        b.setReadonly(true);
        assertEquals(List.of("L begin", "L del 3000+1000 b", "L nop 1000+1000 a", "L add 3000+1000 b ro",
                "L commit"), log);
    }

    @Test
    void nestedTransactionsCommitOnce() {
        sys.registerListener(new Recorder("L", 0), as);
        log.clear();
        sys.transactionBegin();
        a.setAddress(0x8000);
        sys.transactionBegin();
        b.setEnabled(false);
        sys.transactionCommit();
        assertEquals(List.of(), log);
        sys.transactionCommit();
        assertEquals(List.of("L begin", "L del 1000+1000 a", "L del 3000+1000 b", "L add 8000+1000 a",
                "L commit"), log);
    }

    @Test
    void noOpCommitsProduceNothing() {
        sys.registerListener(new Recorder("L", 0), as);
        log.clear();
        sys.transactionBegin();
        sys.transactionCommit();
        a.setAddress(0x1000);
        a.setEnabled(true);
        a.setReadonly(false);
        assertEquals(List.of(), log);
    }

    @Test
    void unchangedViewStillGetsNopsWhenSomethingElseChanged() {
        ContainerRegion other = new ContainerRegion(sys, null, "other", 0x10000);
        IoRegion o = new IoRegion(sys, null, null, "o", 0x1000);
        other.addSubregion(0, o);
        other.addSubregion(0x2000, new IoRegion(sys, null, null, "o2", 0x1000));
        AddressSpace as2 = sys.addressSpace(other, "as2");
        sys.registerListener(new Recorder("L", 0), as);
        sys.registerListener(new Recorder("M", 0), as2);
        log.clear();
        o.setAddress(0x4000);
        // QEMU re-renders every view; listeners of the unchanged one see nops
        assertEquals(List.of("L begin", "M begin",
                "L nop 1000+1000 a", "L nop 3000+1000 b",
                "M del 0+1000 o", "M nop 2000+1000 o2", "M add 4000+1000 o",
                "L commit", "M commit"), log);
    }

    @Test
    void globalDirtyLogStartAndStop() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x1000);
        root.addSubregion(0x9000, iommu);
        sys.registerListener(new Recorder("L", 0), as);
        sys.registerListener(new Recorder("H", 1), as);
        log.clear();
        sys.globalDirtyLogStart();
        assertEquals(List.of("L logGlobalStart", "H logGlobalStart", "L begin", "H begin",
                "L nop 1000+1000 a", "H nop 1000+1000 a", "L nop 3000+1000 b", "H nop 3000+1000 b",
                "L nop 9000+1000 iommu", "H nop 9000+1000 iommu",
                "L logStart 9000+1000 iommu 0->4", "H logStart 9000+1000 iommu 0->4",
                "L commit", "H commit"), log);
        assertEquals(1 << MemoryRegion.DIRTY_MEMORY_MIGRATION, iommu.dirtyLogMask());
        log.clear();
        sys.syncDirtyBitmap(null);
        assertEquals(List.of("L logSync 9000+1000 iommu", "H logSync 9000+1000 iommu"), log);
        log.clear();
        sys.globalDirtyLogStart(); // already on: nothing
        assertEquals(List.of(), log);
        sys.globalDirtyLogStop();
        assertEquals(List.of("L begin", "H begin",
                "L nop 1000+1000 a", "H nop 1000+1000 a", "L nop 3000+1000 b", "H nop 3000+1000 b",
                "L nop 9000+1000 iommu", "H nop 9000+1000 iommu",
                "H logStop 9000+1000 iommu 4->0", "L logStop 9000+1000 iommu 4->0",
                "L commit", "H commit", "H logGlobalStop", "L logGlobalStop"), log);
    }

    @Test
    void registrationWhileTrackingReplaysLogging() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x1000);
        root.addSubregion(0x9000, iommu);
        sys.globalDirtyLogStart();
        Recorder l = new Recorder("L", 0);
        sys.registerListener(l, as);
        assertEquals(List.of("L begin", "L logGlobalStart", "L add 1000+1000 a", "L add 3000+1000 b",
                "L add 9000+1000 iommu", "L logStart 9000+1000 iommu 0->4", "L commit"), log);
        log.clear();
        sys.unregisterListener(l);
        assertEquals(List.of("L begin", "L del 1000+1000 a", "L del 3000+1000 b",
                "L logStop 9000+1000 iommu 4->0", "L del 9000+1000 iommu", "L commit"), log);
        log.clear();
        a.setAddress(0x20000);
        assertEquals(List.of(), log);
    }

    @Test
    void vgaLoggingGivesLogStartOnUnchangedRange() {
        sys.registerListener(new Recorder("L", 0), as);
        log.clear();
        a.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA);
        a.setLog(true, MemoryRegion.DIRTY_MEMORY_VGA); // refcounted: no update
        assertEquals(List.of("L begin", "L nop 1000+1000 a", "L logStart 1000+1000 a 0->1", "L nop 3000+1000 b",
                "L commit"), log);
    }

    @Test
    void listenerForAllAddressSpacesSeesNewOnes() {
        sys.registerListener(new Recorder("all", 0), null);
        assertEquals(List.of("all begin", "all add 1000+1000 a", "all add 3000+1000 b", "all commit"), log);
        log.clear();
        ContainerRegion r2 = new ContainerRegion(sys, null, "r2", 0x10000);
        r2.addSubregion(0x100, new IoRegion(sys, null, null, "c", 0x100));
        r2.addSubregion(0x400, new IoRegion(sys, null, null, "d", 0x100));
        // as in QEMU, changing a tree no address space shows still commits (nops for the others)
        assertEquals(List.of("all begin", "all nop 1000+1000 a", "all nop 3000+1000 b", "all commit",
                "all begin", "all nop 1000+1000 a", "all nop 3000+1000 b", "all commit"), log);
        log.clear();
        sys.addressSpace(r2, "as2");
        assertEquals(List.of("all begin", "all add 100+100 c", "all add 400+100 d", "all commit"), log);
    }

    @Test
    void sectionsCarryTheOldView() {
        List<MemoryRegionSection> seen = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection section) {
                seen.add(section);
            }
        }, as);
        var before = as.currentMap();
        seen.clear();
        a.setAddress(0x7000);
        assertEquals(1, seen.size());
        assertSame(before, seen.getFirst().flatView());
    }
}
