package dev.guestmem.scenario6;

import static dev.guestmem.scenario6.HostIommu.PAGE;
import static dev.guestmem.scenario6.PcMachine.DIMM_BASE;
import static dev.guestmem.scenario6.PcMachine.MIB;
import static dev.guestmem.scenario6.PcMachine.VMEM_BLOCK;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.discard.DiscardedRam;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A VFIO container mirror driven by random topology changes of a PC-like machine: after every
 * commit (and every virtio-mem plug or unplug) the host IOMMU must hold exactly the whole host pages
 * of RAM the flat view shows, at the right host bytes, and no ioctl may ever be refused.
 */
class VfioMirrorTest {
    static final int STEPS = Integer.getInteger("guestmem.scenario6.steps", 300);

    @Test
    void pcMachineMirrorFollowsEveryCommit() {
        for (long seed = 1; seed <= 3; seed++) {
            runPc(seed);
        }
    }

    private void runPc(long seed) {
        PcMachine m = new PcMachine();
        HostIommu container = new HostIommu();
        VfioListener vfio = new VfioListener(m.sys, container, m.as, new FakeDevice(container));
        m.sys.registerListener(vfio, m.as);
        Random rnd = new Random(seed);
        check(m, vfio, rnd, "seed " + seed + " after register");
        boolean dimmPlugged = false;
        for (int step = 0; step < STEPS; step++) {
            List<String> did = new ArrayList<>();
            int op = rnd.nextInt(9);
            if (op == 8) {
                vmemToggle(m, rnd, did);
            } else {
                int n = 1 + rnd.nextInt(3);
                m.sys.transactionBegin();
                try {
                    for (int i = 0; i < n; i++) {
                        dimmPlugged = topologyOp(m, rnd, rnd.nextInt(15), dimmPlugged, did);
                    }
                } finally {
                    m.sys.transactionCommit();
                }
            }
            check(m, vfio, rnd, "seed " + seed + " step " + step + " " + did);
        }
        m.sys.unregisterListener(vfio);
        assertEquals(0, container.mappingCount(), "unregistering unmaps everything");
        assertEquals(0, vfio.ramDiscardListenerCount());
        assertEquals(List.of(), m.vmemManager.listeners(), "every section's listener was unregistered");
        m.system.delSubregion(m.vmem);
        m.vmemManager.detach(); // virtio-mem unplugged: possible only with no listener left
        assertEquals(List.of(), vfio.errors);
    }

    private static boolean topologyOp(PcMachine m, Random rnd, int op, boolean dimmPlugged, List<String> did) {
        switch (op) {
            case 0 -> { // a BAR moves inside the PCI hole, or over RAM's top
                var bar = m.bars[rnd.nextInt(m.bars.length)];
                long to = rnd.nextInt(3) == 0 ? m.vmem.addr() + rnd.nextInt(0x1000) * PAGE // splits virtio-mem
                        : 0x1000000L + rnd.nextInt(0x1000) * PAGE;
                bar.setAddress(to);
                did.add(bar.name() + "@" + Long.toHexString(to));
            }
            case 1 -> {
                var bar = m.bars[rnd.nextInt(m.bars.length)];
                bar.setEnabled(!bar.isEnabled());
                did.add(bar.name() + (bar.isEnabled() ? " on" : " off"));
            }
            case 2 -> { // sub-page registers over RAM: RAM sections end mid-page
                long to = rnd.nextInt(0x1800) * 0x100L * 16 + rnd.nextInt(16) * 0x100L;
                m.subpage.setAddress(to);
                did.add("regs@" + Long.toHexString(to));
            }
            case 3 -> {
                RamRegion dimm = m.dimm.isMapped() ? m.dimm : m.dimmTwin;
                if (dimmPlugged) {
                    m.system.delSubregion(dimm);
                    did.add("dimm out");
                } else {
                    long to = DIMM_BASE + rnd.nextInt(4) * 2 * MIB;
                    m.system.addSubregion(to, dimm);
                    did.add("dimm in @" + Long.toHexString(to));
                }
                return !dimmPlugged;
            }
            case 12 -> { // same place, same size, another RAM: not a nop
                if (dimmPlugged) {
                    RamRegion out = m.dimm.isMapped() ? m.dimm : m.dimmTwin;
                    RamRegion in = out == m.dimm ? m.dimmTwin : m.dimm;
                    long at = out.addr();
                    m.system.delSubregion(out);
                    m.system.addSubregion(at, in);
                    did.add("dimm swapped @" + Long.toHexString(at));
                }
            }
            case 13 -> { // the above-4G alias looks at another part of RAM
                long off = m.above.aliasOffset() == PcMachine.BELOW_4G ? PcMachine.BELOW_4G - 2 * MIB
                        : PcMachine.BELOW_4G;
                m.above.setAliasOffset(off);
                did.add("above-4g offset " + Long.toHexString(off));
            }
            case 14 -> { // a 64-bit BAR being sized: all ones, at the top of the space (vfio skips it)
                m.ramDevice.setAddress(-0x2000L);
                did.add("vfio-bar sized");
            }
            case 4 -> { // PAM-like: the BIOS shadow over RAM on or off
                m.isaBios.setEnabled(!m.isaBios.isEnabled());
                did.add("isa-bios " + m.isaBios.isEnabled());
            }
            case 5 -> { // the mmap'd BAR moves; sometimes to half a page (QEMU skips it then)
                long to = 0x1000000L + rnd.nextInt(0x1000) * PAGE + (rnd.nextInt(4) == 0 ? 0x800 : 0);
                m.ramDevice.setAddress(to);
                did.add("vfio-bar@" + Long.toHexString(to));
            }
            case 6 -> {
                m.vram.setReadonly(!m.vram.isReadonly());
                did.add("vram ro " + m.vram.isReadonly());
            }
            case 7 -> { // virtio-mem moves (its sections go and come back with what is plugged)
                long to = PcMachine.VMEM_BASE + rnd.nextInt(4) * 16 * MIB;
                m.vmem.setAddress(to);
                did.add("vmem@" + Long.toHexString(to));
            }
            case 8 -> { // sizes off the page too: the last partial page is not mapped
                long size = (1 + rnd.nextInt(256)) * PAGE - (rnd.nextBoolean() ? 0x800 : 0);
                m.blob.ramResize(size);
                did.add("blob size " + Long.toHexString(size));
            }
            case 9 -> { // an alias made read-only: its ranges are, and the device may only read
                m.above.setReadonly(!m.above.isReadonly());
                did.add("above-4g ro " + m.above.isReadonly());
            }
            case 10 -> {
                m.vram.setUnmergeable(!m.vram.isUnmergeable());
                did.add("vram unmergeable " + m.vram.isUnmergeable());
            }
            case 11 -> { // the merged halves of below-4G come apart (and together again)
                long to = m.below2.addr() == PcMachine.BELOW_4G / 2 ? 0x4000_0000L : PcMachine.BELOW_4G / 2;
                m.below2.setAddress(to);
                did.add("below-4g-2@" + Long.toHexString(to));
            }
            default -> {
                m.above.setEnabled(!m.above.isEnabled());
                did.add("above-4g " + m.above.isEnabled());
            }
        }
        return dimmPlugged;
    }

    private static void vmemToggle(PcMachine m, Random rnd, List<String> did) {
        long off = rnd.nextInt((int) (m.vmem.size() / VMEM_BLOCK)) * VMEM_BLOCK;
        long len = VMEM_BLOCK * (1 + rnd.nextInt(2));
        if (off + len > m.vmem.size()) {
            len = VMEM_BLOCK;
        }
        boolean plugged = !DiscardedRam.isDiscarded(m.vmem, off, len);
        boolean unplugged = allDiscarded(m, off, len);
        if (plugged) {
            m.vmemManager.unplug(off, len);
            did.add("vmem unplug " + Long.toHexString(off) + "+" + Long.toHexString(len));
        } else if (unplugged) {
            m.vmemManager.plug(off, len);
            did.add("vmem plug " + Long.toHexString(off) + "+" + Long.toHexString(len));
        }
    }

    private static boolean allDiscarded(PcMachine m, long off, long len) {
        for (long o = off; o < off + len; o += VMEM_BLOCK) {
            if (!DiscardedRam.isDiscarded(m.vmem, o, VMEM_BLOCK)) {
                return false;
            }
        }
        return true;
    }

    static void check(PcMachine m, VfioListener vfio, Random rnd, String when) {
        assertEquals(List.of(), vfio.errors, when);
        assertEquals(List.of(), vfio.container.refusals, when);
        TreeMap<Long, String> expected = MirrorOracle.expected(m.as, (fr, out) -> fail("no IOMMU here"));
        assertMirror(expected, vfio.container.pages(), when);
        spotCheckBytes(m, vfio, expected, rnd, when);
    }

    static void assertMirror(TreeMap<Long, String> expected, TreeMap<Long, String> actual, String when) {
        if (expected.equals(actual)) {
            return;
        }
        List<String> diff = new ArrayList<>();
        for (Map.Entry<Long, String> e : expected.entrySet()) {
            String a = actual.get(e.getKey());
            if (!e.getValue().equals(a)) {
                diff.add("iova 0x" + Long.toHexString(e.getKey()) + " want " + e.getValue() + " got " + a);
            }
        }
        for (Long k : actual.keySet()) {
            if (!expected.containsKey(k)) {
                diff.add("iova 0x" + Long.toHexString(k) + " stale " + actual.get(k));
            }
        }
        fail(when + ": " + diff.size() + " pages differ, first " + diff.subList(0, Math.min(6, diff.size())));
    }

    /** The device writes a mapped page through the host IOMMU; the guest reads it at that iova. */
    private static void spotCheckBytes(PcMachine m, VfioListener vfio, TreeMap<Long, String> expected, Random rnd,
            String when) {
        List<Long> rw = new ArrayList<>();
        for (Map.Entry<Long, String> e : expected.entrySet()) {
            if (e.getValue().endsWith("rw")) {
                rw.add(e.getKey());
            }
        }
        for (int i = 0; i < 4 && !rw.isEmpty(); i++) {
            long iova = rw.get(rnd.nextInt(rw.size())) + rnd.nextInt((int) (PAGE / 8)) * 8;
            long v = rnd.nextLong();
            long host = vfio.container.translate(iova);
            MemorySegment.ofAddress(host).reinterpret(8).set(ValueLayout.JAVA_LONG_UNALIGNED, 0, v);
            assertEquals(v, m.as.ldq(iova), when + ": iova 0x" + Long.toHexString(iova));
        }
        assertTrue(expected.size() > 1000, when);
    }
}
