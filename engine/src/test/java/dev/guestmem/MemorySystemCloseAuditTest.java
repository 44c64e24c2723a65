package dev.guestmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Explores {@link MemorySystem#close()} in the corners the review asked about; prints what it sees.
 * Not a regression test: run with {@code -Dguestmem.audit=true}.
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class MemorySystemCloseAuditTest {
    private static final long MIB = 1 << 20;

    private static MemoryRegionOps ops() {
        return MemoryRegionOps.builder().read((a, s) -> 0x5a).write((a, d, s) -> { }).build();
    }

    private static void say(String what) {
        System.out.println("AUDIT " + what);
    }

    @Test
    void aListenerThatReRegistersDuringItsRemovalReplay() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        IoRegion spare = new IoRegion(sys, null, ops(), "spare", 0x100);
        root.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(root, "memory");
        AtomicReference<String> inCallback = new AtomicReference<>("not called");
        MemoryListener l = new MemoryListener() {
            @Override
            public void regionDel(MemoryRegionSection s) {
                try {
                    sys.registerListener(this, null);
                    inCallback.set("re-registered");
                } catch (RuntimeException e) {
                    inCallback.set(e.toString());
                }
                root.addSubregion(0x1000_0000L, spare); // a topology change from the replay
            }
        };
        sys.registerListener(l, as);
        RuntimeException out = null;
        try {
            sys.close();
        } catch (RuntimeException e) {
            out = e;
        }
        say("re-register in removal replay: callback saw " + inCallback.get() + "; close threw " + out
                + "; ram finalized " + ram.isFinalized() + "; spare (mapped by the replay) finalized "
                + spare.isFinalized() + "; root finalized " + root.isFinalized());
        assertTrue(ram.isFinalized());
    }

    @Test
    void iommuIntoAnotherMachineThatCloses() {
        MemorySystem target = new MemorySystem();
        ContainerRegion troot = new ContainerRegion(target, null, "target", MemoryRegion.SIZE_2_64);
        RamRegion tram = RamRegion.allocate(target, null, "t.ram", MIB);
        troot.addSubregion(0, tram);
        AddressSpace memory = target.addressSpace(troot, "memory");

        MemorySystem peer = new MemorySystem();
        ContainerRegion proot = new ContainerRegion(peer, null, "peer", MemoryRegion.SIZE_2_64);
        IommuRegion bridge = new IommuRegion(peer, null, "bridge", MIB, (addr, flag, idx, out) -> {
            out.iova = addr & ~0xfffL;
            out.addrMask = 0xfff;
            out.targetAs = memory;
            out.translatedAddr = addr & ~0xfffL;
            out.perm = IommuTlbEntry.RW;
        });
        proot.addSubregion(0, bridge);
        AddressSpace dma = peer.addressSpace(proot, "dma");
        MemoryRegionCache ring = new MemoryRegionCache();
        ring.init(dma, 0x1000, 64, true);
        DmaMapping m = dma.map(0x2000, 4096, true, MemTxAttrs.UNSPECIFIED);
        assertEquals(MemTxResult.OK, dma.stlLe(0x10, 5));

        RuntimeException out = null;
        try {
            target.close();
        } catch (RuntimeException e) {
            out = e;
        }
        MemTxResultHolder res = new MemTxResultHolder();
        int v = dma.ldlLe(0x10, MemTxAttrs.UNSPECIFIED, res);
        String cacheRead;
        try {
            cacheRead = "value " + ring.ldlLe(0, res) + " " + res.get();
        } catch (RuntimeException e) {
            cacheRead = e.toString();
        }
        String mapWrite;
        try {
            m.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 7);
            mapWrite = "bounce " + m.isBounce() + " unmap " + m.unmap(4) + "; stl " + dma.stlLe(0x10, 1)
                    + "; write " + dma.write(0x10, MemTxAttrs.UNSPECIFIED, new byte[4], 0, 4)
                    + "; read " + dma.read(0x10, MemTxAttrs.UNSPECIFIED, new byte[4], 0, 4);
        } catch (RuntimeException e) {
            mapWrite = e.toString();
        }
        say("target closed under a peer's IOMMU: close threw " + out + "; peer load " + v + " " + res.get()
                + "; cache read " + cacheRead + "; mapping write " + mapWrite + "; block released before cache destroy "
                + tram.ramBlock().isReleased());
        ring.destroy();
        say("after cache destroy: block released " + tram.ramBlock().isReleased());
        peer.close();
    }

    @Test
    void aliasTargetInAnUnmappedContainerAndARomDevice() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        ContainerRegion hidden = new ContainerRegion(sys, null, "hidden", 0x10000);
        IoRegion hiddenDev = new IoRegion(sys, null, ops(), "hidden-dev", 0x100);
        IoRegion target = new IoRegion(sys, null, ops(), "target-dev", 0x100);
        hidden.addSubregion(0, target);
        hidden.addSubregion(0x1000, hiddenDev);
        root.addSubregion(0x2000_0000L, new AliasRegion(sys, null, "alias", target, 0, 0x100));
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, null, ops(), "flash", 0x10000);
        root.addSubregion(0xffff_0000L, flash);
        RomDeviceRegion spareFlash = RomDeviceRegion.allocate(sys, null, ops(), "spare-flash", 0x10000);
        AddressSpace as = sys.addressSpace(root, "memory");
        assertEquals(0x5a, as.ldub(0x2000_0000L));
        sys.close();
        say("alias target in unmapped container: hidden " + hidden.isFinalized() + ", hidden-dev "
                + hiddenDev.isFinalized() + ", target " + target.isFinalized() + "; rom device " + flash.isFinalized()
                + " block released " + flash.ramBlock().isReleased() + "; unmapped rom device "
                + spareFlash.isFinalized() + " " + spareFlash.ramBlock().isReleased());
    }

    @Test
    void eventfdsAndCoalescedRanges() throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        IoRegion dev = new IoRegion(sys, null, ops(), "dev", 0x1000);
        root.addSubregion(0x1000_0000L, dev);
        AddressSpace as = sys.addressSpace(root, "memory");
        List<String> heard = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void eventfdDel(Ioeventfd fd) {
                heard.add("eventfdDel");
            }

            @Override
            public void coalescedIoDel(MemoryRegionSection s, long addr, long size) {
                heard.add("coalescedIoDel");
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                heard.add("regionDel " + s.region().name());
            }
        }, as);
        try (EventNotifier n = EventNotifier.create()) {
            dev.addEventfd(0x10, 4, false, 0, n);
            dev.addCoalescing(0x100, 0x100);
            sys.close();
            say("eventfds/coalesced: heard " + heard + "; ioeventfds left " + dev.isFinalized());
            try {
                dev.delEventfd(0x10, 4, false, 0, n);
                dev.clearCoalescing();
                say("eventfd/coalescing removal on the closed machine's region: OK");
            } catch (RuntimeException e) {
                say("eventfd/coalescing removal on the closed machine's region: " + e);
            }
        }
    }

    @Test
    void twoClosesAtOnceAndACloseWaitingForATransaction() throws Exception {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
        root.addSubregion(0, ram);
        sys.addressSpace(root, "memory");
        CountDownLatch inTx = new CountDownLatch(1);
        Thread holder = Thread.ofPlatform().start(() -> {
            sys.transactionBegin();
            try {
                inTx.countDown();
                Thread.sleep(200);
                ram.setEnabled(false);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                sys.transactionCommit();
            }
        });
        inTx.await();
        Map<String, String> outcome = new ConcurrentHashMap<>();
        List<Thread> closers = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            String n = "closer" + i;
            closers.add(Thread.ofPlatform().start(() -> {
                try {
                    sys.close();
                    outcome.put(n, "ok");
                } catch (RuntimeException e) {
                    outcome.put(n, e.toString());
                }
            }));
        }
        for (Thread t : closers) {
            t.join();
        }
        holder.join();
        say("two closes while another thread is in a transaction: " + outcome + "; ram finalized " + ram.isFinalized());
    }

    @Test
    void closeRacingTopologyChangesAccessesAndCreation() throws Exception {
        int rounds = Integer.getInteger("guestmem.audit.rounds", 30);
        Map<String, Integer> unexpected = new ConcurrentHashMap<>();
        for (int round = 0; round < rounds; round++) {
            MemorySystem sys = new MemorySystem();
            ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
            RamRegion hot = RamRegion.allocate(sys, null, "hot", MIB);
            IoRegion dev = new IoRegion(sys, null, ops(), "dev", 0x100);
            root.addSubregion(0, ram);
            AddressSpace as = sys.addressSpace(root, "memory");
            AtomicBoolean stop = new AtomicBoolean();
            List<RamRegion> made = new ArrayList<>();
            List<Thread> ts = new ArrayList<>();
            ts.add(Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    try {
                        root.addSubregion(0x1000_0000L, hot);
                        root.addSubregion(0x2000_0000L, dev);
                        hot.setEnabled(false);
                        hot.setEnabled(true);
                        root.delSubregion(dev);
                        root.delSubregion(hot);
                    } catch (RuntimeException e) {
                        unexpected.merge("topology: " + e, 1, Integer::sum);
                        if (sys.isClosed()) {
                            return;
                        }
                    }
                }
            }));
            ts.add(Thread.ofPlatform().start(() -> {
                MemTxResultHolder res = new MemTxResultHolder();
                while (!stop.get()) {
                    try {
                        as.stlLe(0x100, 1);
                        as.ldlLe(0x1000_0000L, MemTxAttrs.UNSPECIFIED, res);
                    } catch (RuntimeException e) {
                        unexpected.merge("access: " + e, 1, Integer::sum);
                    }
                }
            }));
            int r = round;
            ts.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; !stop.get(); i++) {
                    try {
                        RamRegion x = RamRegion.allocate(sys, null, "x" + r + "-" + i, 0x10000);
                        synchronized (made) {
                            made.add(x);
                        }
                        x.destroy();
                    } catch (MemorySystemClosedException expected) {
                        return;
                    } catch (RuntimeException e) {
                        unexpected.merge("creation: " + e, 1, Integer::sum);
                    }
                }
            }));
            Thread.sleep(2 + round % 7);
            try {
                sys.close();
            } catch (RuntimeException e) {
                unexpected.merge("close: " + e, 1, Integer::sum);
            }
            Thread.sleep(2);
            stop.set(true);
            for (Thread t : ts) {
                t.join();
            }
            if (!ram.ramBlock().isReleased() || !hot.ramBlock().isReleased()) {
                unexpected.merge("blocks left mapped: ram " + !ram.ramBlock().isReleased() + " hot "
                        + !hot.ramBlock().isReleased(), 1, Integer::sum);
            }
            synchronized (made) {
                for (RamRegion x : made) {
                    if (!x.ramBlock().isReleased()) {
                        unexpected.merge("created block left mapped", 1, Integer::sum);
                    }
                }
            }
        }
        say("close racing topology/accesses/creation over " + rounds + " rounds: " + unexpected);
    }

    @Test
    void aDeviceThatClosesTheMachineFromItsWriteCallback() {
        for (String how : List.of("stl", "write-spanning", "ldl-callback")) {
            MemorySystem sys = new MemorySystem();
            ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", MIB);
            IoRegion power = new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((a, sz) -> {
                        sys.close();
                        return 1;
                    })
                    .write((a, d, sz) -> sys.close()).build(), "power", 0x1000);
            root.addSubregion(0, power); // [0, 0x1000): the device, then RAM right after it
            root.addSubregion(0x1000, ram);
            AddressSpace as = sys.addressSpace(root, "memory");
            String result;
            try {
                result = switch (how) {
                    case "stl" -> "stl " + as.stlLe(0x10, 1);
                    case "write-spanning" -> "write " + as.write(0xff8, MemTxAttrs.UNSPECIFIED, new byte[16], 0, 16);
                    default -> "ldl " + as.ldlLe(0x10);
                };
            } catch (Throwable e) {
                result = "threw " + e;
            }
            say("device closes the machine from its callback (" + how + "): " + result + "; closed "
                    + sys.isClosed() + "; ram block released " + ram.ramBlock().isReleased());
        }
    }
}
