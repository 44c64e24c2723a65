package dev.guestmem.scenario6;

import static dev.guestmem.scenario6.HostIommu.PAGE;
import static dev.guestmem.scenario6.ViommuMachine.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.scenario6.ViommuMachine.Pte;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The VFIO mirror of a device behind a vIOMMU: the container follows the guest's map and unmap
 * invalidations (4 KiB and 2 MiB pages, seen through two windows of one IOMMU) and VT-d's switch
 * between translation and pass-through, with one notifier per IOMMU section.
 */
class VfioViommuTest {
    static final int STEPS = Integer.getInteger("guestmem.scenario6.steps", 300);

    @Test
    void viommuMirrorFollowsMapsUnmapsAndSwitches() {
        for (long seed = 1; seed <= 3; seed++) {
            run(seed);
        }
    }

    private void run(long seed) {
        ViommuMachine m = new ViommuMachine();
        HostIommu container = new HostIommu();
        VfioListener vfio = new VfioListener(m.sys, container, m.memory, new FakeDevice(container));
        m.sys.registerListener(vfio, m.devAs);
        Random rnd = new Random(seed);
        check(m, vfio, "seed " + seed + " registered");
        for (int step = 0; step < STEPS; step++) {
            String did = step(m, rnd);
            check(m, vfio, "seed " + seed + " step " + step + " " + did);
        }
        m.sys.unregisterListener(vfio);
        assertEquals(0, container.mappingCount());
        assertEquals(0, vfio.notifierCount());
        assertEquals(0, m.dmar.notifiers().registered().length);
    }

    /**
     * Device dirty tracking behind the vIOMMU: {@code logSync} of each IOMMU section replays its
     * mappings and marks the RAM behind each dirty iova, also through the second window, whose
     * entries arrive cropped.
     */
    @Test
    void deviceDirtyPagesBehindTheViommuReachTheMigrationLog() {
        ViommuMachine m = new ViommuMachine();
        HostIommu container = new HostIommu();
        FakeDevice device = new FakeDevice(container);
        VfioListener vfio = new VfioListener(m.sys, container, m.memory, device);
        m.sys.registerListener(vfio, m.devAs);
        m.sys.globalDirtyLogStart();
        try {
            var block = m.ram.ramBlock();
            m.sys.dirtyMemory().snapshotAndClearDirty(block.offset(), block.usedLength(),
                    DirtyMemory.DIRTY_MEMORY_MIGRATION);
            Random rnd = new Random(11);
            for (int round = 0; round < STEPS / 5; round++) {
                for (int i = 0; i < 5; i++) {
                    step(m, rnd);
                }
                TreeSet<Long> expected = new java.util.TreeSet<>();
                List<Long> iovas = new ArrayList<>(MirrorOracle.expected(m.devAs, m::expected).keySet());
                for (int i = 0; i < 10 && !iovas.isEmpty(); i++) {
                    long iova = iovas.get(rnd.nextInt(iovas.size())) + 8 * rnd.nextInt(512);
                    Translation t = new Translation();
                    if (m.devAs.translate(iova, 1, true, MemTxAttrs.UNSPECIFIED, t).region() != m.ram) {
                        continue; // read-only through the IOMMU: the device may not write there
                    }
                    if (device.dmaWrite(iova, round)) {
                        expected.add((block.offset() + t.xlat()) & -PAGE);
                    }
                }
                m.sys.globalDirtyLogSync(false);
                TreeSet<Long> actual = new java.util.TreeSet<>();
                m.sys.dirtyMemory().snapshotAndClearDirty(block.offset(), block.usedLength(),
                        DirtyMemory.DIRTY_MEMORY_MIGRATION).forEachDirtyPage(actual::add);
                assertEquals(expected, actual, "round " + round);
                assertEquals(0, device.pendingDirty(), "round " + round);
                assertEquals(List.of(), vfio.errors, "round " + round);
            }
        } finally {
            m.sys.globalDirtyLogStop();
        }
    }

    /**
     * The guest's invalidations on a vCPU thread while the main thread switches translation and
     * moves the second window: the model notifies under the system lock (QEMU's BQL, which VFIO's
     * code assumes), so the mirror is never torn, and ends equal to the view.
     */
    @Test
    void invalidationsOnAnotherThreadInterleaveWithTopologyChanges() throws Exception {
        ViommuMachine m = new ViommuMachine();
        HostIommu container = new HostIommu();
        VfioListener vfio = new VfioListener(m.sys, container, m.memory, new FakeDevice(container));
        m.sys.registerListener(vfio, m.devAs);
        Throwable[] failed = new Throwable[1];
        Thread vcpu = Thread.ofPlatform().start(() -> {
            Random rnd = new Random(5);
            try {
                for (int i = 0; i < STEPS * 4; i++) {
                    long iova = rnd.nextInt(512) * PAGE;
                    m.sys.lock().lock();
                    try {
                        if (m.lookup(iova) != null) {
                            m.unmap(iova, PAGE);
                        } else {
                            m.map(new Pte(iova, PAGE, rnd.nextInt(4096) * PAGE, IommuTlbEntry.RW));
                        }
                    } finally {
                        m.sys.lock().unlock();
                    }
                }
            } catch (Throwable t) {
                failed[0] = t;
            }
        });
        Random rnd = new Random(6);
        while (vcpu.isAlive()) {
            if (rnd.nextBoolean()) {
                m.switchTranslation(!m.dmar.isEnabled());
            } else {
                m.dmarHigh.setAliasOffset(rnd.nextInt(512) * PAGE);
            }
        }
        vcpu.join();
        assertEquals(null, failed[0]);
        m.sys.lock().lock();
        try {
            check(m, vfio, "after the race");
        } finally {
            m.sys.lock().unlock();
        }
    }

    private static String step(ViommuMachine m, Random rnd) {
        switch (rnd.nextInt(9)) {
            case 0, 1, 2 -> { // a 4 KiB page in the first 2 MiB of iova
                long iova = rnd.nextInt(512) * PAGE;
                if (m.lookup(iova) != null) {
                    m.unmap(iova, PAGE);
                    return "unmap " + Long.toHexString(iova);
                }
                int perm = rnd.nextBoolean() ? IommuTlbEntry.RW : IommuTlbEntry.RO;
                m.map(new Pte(iova, PAGE, rnd.nextInt(4096) * PAGE, perm));
                return "map " + Long.toHexString(iova);
            }
            case 3 -> { // a 2 MiB page at 2 MiB or 4 MiB
                long iova = (2 + 2 * rnd.nextInt(2)) * MIB;
                if (m.lookup(iova) != null) {
                    m.unmap(iova, 2 * MIB);
                    return "unmap huge " + Long.toHexString(iova);
                }
                m.map(new Pte(iova, 2 * MIB, rnd.nextInt(8) * 2 * MIB, IommuTlbEntry.RW));
                return "map huge " + Long.toHexString(iova);
            }
            case 4 -> {
                if (rnd.nextInt(4) == 0) { // the vIOMMU resets: every notifier hears its whole range unmapped
                    m.table.clear();
                    for (IommuNotifier n : m.dmar.notifiers().registered()) {
                        n.unmapRange();
                    }
                    return "iommu reset";
                }
                m.unmap(0, 2 * MIB); // a domain-wide invalidation of the 4 KiB area
                return "unmap 0+2M";
            }
            case 5, 6 -> {
                boolean on = !m.dmar.isEnabled();
                m.switchTranslation(on);
                return on ? "dmar on" : "dmar off";
            }
            case 7 -> { // the second window slides over the IOMMU, page by page
                long off = rnd.nextInt(1024) * PAGE;
                m.dmarHigh.setAliasOffset(off);
                return "dmar-hi offset " + Long.toHexString(off);
            }
            default -> {
                m.dmarHigh.setEnabled(!m.dmarHigh.isEnabled());
                return "dmar-hi " + m.dmarHigh.isEnabled();
            }
        }
    }

    private static void check(ViommuMachine m, VfioListener vfio, String when) {
        assertEquals(List.of(), vfio.errors, when);
        assertEquals(List.of(), vfio.container.refusals, when);
        TreeMap<Long, String> expected = MirrorOracle.expected(m.devAs, m::expected);
        VfioMirrorTest.assertMirror(expected, vfio.container.pages(), when);
        int sections = 0;
        for (var fr : m.devAs.currentMap().ranges()) {
            sections += fr.region().isIommu() ? 1 : 0;
        }
        assertEquals(sections, vfio.notifierCount(), when + ": one notifier per IOMMU section");
        assertEquals(sections, m.dmar.notifiers().registered().length, when);
        assertEquals(List.of(), vfio.misaligned, when);
        for (var e : expected.entrySet()) { // the device's write reaches what the guest reads there
            if (e.getValue().endsWith("rw") && (e.getKey() & 0x7000) == 0) {
                long v = e.getKey() * 31 + 7;
                MemorySegment.ofAddress(vfio.container.translate(e.getKey() + 8)).reinterpret(8)
                        .set(ValueLayout.JAVA_LONG_UNALIGNED, 0, v);
                assertEquals(v, m.devAs.ldq(e.getKey() + 8), when + " iova 0x" + Long.toHexString(e.getKey()));
            }
        }
    }
}
