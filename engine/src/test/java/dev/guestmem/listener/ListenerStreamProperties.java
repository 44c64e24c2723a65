package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.listener.StreamModel.Outside;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RegionException;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.testing.Choices;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;

/**
 * The listener event stream against a model listener ({@link StreamModel}): random operation
 * sequences on random region trees (RAM, ROM, ROM devices with ROMD toggles, MMIO, IOMMU regions,
 * aliases with offsets, containers, priorities, overlaps, addresses near 2^64), with listeners
 * registered and unregistered on the way, address spaces created and destroyed, in some runs a
 * listener of every address space ({@link AllSpacesModel}) and a listener whose {@code commit}
 * changes the topology, calls {@code setLog}, registers a listener, creates an address space (at
 * once) or destroys one (deferred), or starts or stops global dirty logging (deferred; sometimes
 * both, one after the other). Every model must, at every {@code commit} and after every operation,
 * hold exactly the published view of its address space (section boundaries, attributes, dirty-log
 * masks, coalesced windows), the address space's eventfds and the global-logging state, and must
 * hear callbacks only where the docs promise them (inside {@code begin}..{@code commit}, except an
 * eventfd-only update, a coalescing change and {@code logGlobalStart}/{@code logGlobalStop}).
 */
class ListenerStreamProperties {
    private static final long[] ADDRS = {0, 0x800, 0x1000, 0x2000, 0x3000, 0x10000,
        0xffff_ffff_ffff_f000L, 0xffff_ffff_ffff_e000L, 0xffff_ffff_ffff_0000L, 0xffff_ffff_ffff_f800L};
    private static final long[] SIZES = {0x1000, 0x2000, 0x800, 0x3000, 0x10000};
    private static final long[] OFFSETS = {0, 0x400, 0x800, 0x1000};
    private static final EventNotifier[] NOTIFIERS = {EventNotifier.create(), EventNotifier.create()};
    private static final MemoryRegionOps DEVICE = MemoryRegionOps.builder().read((a, size) -> 0)
            .write((a, data, size) -> { }).build();
    private static final int MAX_SPACES = 5;

    @AfterContainer
    static void closeNotifiers() {
        for (EventNotifier n : NOTIFIERS) {
            n.close();
        }
    }

    @Provide
    Arbitrary<List<Integer>> choices() {
        return Arbitraries.integers().between(0, 1 << 16).list().ofMinSize(0).ofMaxSize(160);
    }

    @Property
    void listenersHoldTheViewTheyWereTold(@ForAll("choices") List<Integer> script) {
        new Run(new Choices(script)).run();
    }

    /** One property run: the machine, its listeners, and the operations. */
    private static final class Run {
        private final Choices c;
        private final MemorySystem sys = new MemorySystem();
        private final ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        private final List<MemoryRegion> regions = new ArrayList<>();
        private final List<MemoryRegion> containers = new ArrayList<>();
        private final Map<MemoryRegion, Integer> vgaLogging = new HashMap<>();
        private final List<Object[]> eventfds = new ArrayList<>(); // {region, addr, size, notifier}
        private final List<StreamModel> models = new ArrayList<>();
        private final List<StreamModel> registered = new ArrayList<>();
        /** Listeners of every address space, registered now. */
        private final List<AllSpacesModel> everywhere = new ArrayList<>();
        private final List<AllSpacesModel> everywhereEver = new ArrayList<>();
        /** The address spaces: as0 and as1 for good, then the ones created on the way. */
        private final List<AddressSpace> spaces = new ArrayList<>();
        private int spacesMade;
        private final Changer changer = new Changer();
        private final List<String> trace = new ArrayList<>();
        private int late;
        private boolean changerRegistered;
        /** What the operation under way may send outside an update (shared with every model). */
        private Set<Outside> outside = EnumSet.noneOf(Outside.class);

        Run(Choices c) {
            this.c = c;
            containers.add(root);
        }

        void run() {
            int n = 1 + c.next(10);
            for (int k = 0; k < n; k++) {
                newRegion("r" + k);
            }
            AddressSpace as0 = sys.addressSpace(root, "as0");
            MemoryRegion other = containers.get(c.next(containers.size()));
            AddressSpace as1 = sys.addressSpace(other, "as1");
            spaces.add(as0);
            spaces.add(as1);
            if (c.next(2) == 0) {
                AllSpacesModel all = new AllSpacesModel("all", sys, c.next(3));
                trace.add("register all (every address space)");
                everywhere.add(all);
                everywhereEver.add(all);
                all.allowOutside(outside);
                sys.registerListener(all, null);
            }
            register(new StreamModel("m0", as0, c.next(3)));
            register(new StreamModel("m1", as1, c.next(3)));
            if (c.next(3) == 0) {
                sys.registerListener(changer, c.next(2) == 0 ? as0 : as1);
                changerRegistered = true;
            }
            int steps = 1 + c.next(30);
            for (int s = 0; s < steps; s++) {
                outside = EnumSet.noneOf(Outside.class); // filled in by the operation, before it acts
                for (StreamModel m : models) {
                    m.allowOutside(outside);
                }
                for (AllSpacesModel m : everywhere) {
                    m.allowOutside(outside);
                }
                operation(outside, spaces, 0);
                check();
            }
            while (!registered.isEmpty()) {
                unregister(registered.get(0));
                check();
            }
            for (AllSpacesModel m : List.copyOf(everywhere)) {
                trace.add("unregister " + m);
                everywhere.remove(m);
                sys.unregisterListener(m);
                m.removed();
                check();
            }
        }

        private void register(StreamModel m) {
            trace.add("register " + m);
            models.add(m);
            registered.add(m);
            m.allowOutside(outside);
            m.expectReplay();
            sys.registerListener(m, m.addressSpace());
        }

        private void unregister(StreamModel m) {
            trace.add("unregister " + m);
            registered.remove(m);
            m.expectRemoval();
            sys.unregisterListener(m);
            m.forgetGlobalLogging();
        }

        private void check() {
            for (StreamModel m : registered) {
                m.checkQuiescent(sys.ioeventfds(m.addressSpace()), sys.isGlobalDirtyTracking());
            }
            for (AllSpacesModel m : everywhere) {
                m.checkQuiescent();
            }
            List<String> errors = new ArrayList<>();
            for (StreamModel m : models) {
                errors.addAll(m.errors());
            }
            for (AllSpacesModel m : everywhereEver) {
                errors.addAll(m.errors());
            }
            assertEquals(List.of(), errors, () -> "operations: " + trace);
        }

        private void newRegion(String name) {
            long size = c.pick(SIZES);
            MemoryRegion r;
            switch (c.next(8)) {
                case 0 -> r = RamRegion.allocate(sys, null, name, size);
                case 6 -> r = RomDeviceRegion.allocate(sys, null, DEVICE, name, size);
                case 7 -> r = new IommuRegion(sys, null, name, size);
                case 1 -> r = RamRegion.allocateRom(sys, null, name, size);
                case 2 -> r = new IoRegion(sys, null, null, name, size);
                case 3 -> {
                    r = new ContainerRegion(sys, null, name, c.next(3) == 0 ? MemoryRegion.SIZE_2_64 : size);
                    containers.add(r);
                }
                default -> {
                    if (regions.isEmpty()) {
                        return;
                    }
                    MemoryRegion target = regions.get(c.next(regions.size()));
                    long off = c.pick(OFFSETS);
                    long asize = Math.min(size, target.size() == MemoryRegion.SIZE_2_64 ? size : target.size());
                    try {
                        r = new AliasRegion(sys, null, name, target, off, asize);
                    } catch (RegionException e) {
                        return;
                    }
                }
            }
            regions.add(r);
            map(r);
        }

        private void map(MemoryRegion r) {
            MemoryRegion parent = containers.get(c.next(containers.size()));
            long addr = c.pick(ADDRS);
            int prio = c.next(5) - 2;
            trace.add("map " + r.name() + " in " + parent.name() + " @" + Long.toHexString(addr) + " prio " + prio);
            if (!closesCycle(parent, r)) {
                guarded(() -> parent.addSubregionOverlap(addr, r, prio));
            }
        }

        private void operation(Set<Outside> outside, List<AddressSpace> spaces, int depth) {
            if (regions.isEmpty()) {
                return;
            }
            MemoryRegion r = regions.get(c.next(regions.size()));
            switch (c.next(20)) {
                case 0 -> {
                    if (r.container() == null) {
                        map(r);
                    } else {
                        trace.add("del " + r.name());
                        r.container().delSubregion(r);
                    }
                }
                case 1, 2 -> {
                    long addr = c.pick(ADDRS);
                    trace.add("move " + r.name() + " @" + Long.toHexString(addr));
                    guarded(() -> r.setAddress(addr));
                }
                case 3 -> {
                    trace.add("enable " + r.name() + " " + !r.isEnabled());
                    r.setEnabled(!r.isEnabled());
                }
                case 4 -> readd(r);
                case 5 -> {
                    if (r instanceof AliasRegion a) {
                        long off = c.pick(OFFSETS);
                        trace.add("aliasOffset " + r.name() + " " + Long.toHexString(off));
                        guarded(() -> a.setAliasOffset(off));
                    }
                }
                case 6 -> {
                    trace.add("readonly " + r.name() + " " + !r.isReadonly());
                    r.setReadonly(!r.isReadonly());
                }
                case 7 -> vgaLog(ofKind(RamRegion.class, r));
                case 8 -> {
                    outside.add(Outside.GLOBAL_LOG);
                    trace.add("globalLog " + !sys.isGlobalDirtyTracking());
                    toggleGlobalLog(sys.isGlobalDirtyTracking());
                }
                case 9 -> {
                    outside.add(Outside.EVENTFD);
                    eventfd(ofKind(IoRegion.class, r));
                }
                case 10, 11 -> {
                    outside.add(Outside.COALESCED);
                    coalescing(ofKind(IoRegion.class, r));
                }
                case 12 -> {
                    if (depth < 2) {
                        trace.add("begin");
                        sys.transactionBegin();
                        try {
                            for (int k = 1 + c.next(3); k > 0; k--) {
                                operation(outside, spaces, depth + 1);
                            }
                        } finally {
                            trace.add("commit");
                            sys.transactionCommit();
                        }
                    }
                }
                case 13, 14 -> lateListener(spaces);
                case 15 -> {
                    if (depth == 0 && changerRegistered) {
                        armChanger(spaces);
                    }
                }
                case 16 -> {
                    if (ofKind(RomDeviceRegion.class, r) instanceof RomDeviceRegion d) {
                        trace.add("romd " + d.name() + " " + !d.isRomd());
                        d.setRomd(!d.isRomd());
                    }
                }
                case 17 -> newSpace();
                case 18 -> {
                    AddressSpace doomed = madeSpace();
                    if (doomed != null) {
                        destroySpace(doomed);
                    }
                }
                default -> newRegion("n" + regions.size());
            }
        }

        /** Stops global dirty logging if {@code on}, else starts it. */
        private void toggleGlobalLog(boolean on) {
            if (on) {
                sys.globalDirtyLogStop();
            } else {
                sys.globalDirtyLogStart();
            }
        }

        /** A root for a new address space: a container mostly, any region now and then. */
        private MemoryRegion spaceRoot() {
            return c.next(4) == 0 ? regions.get(c.next(regions.size())) : containers.get(c.next(containers.size()));
        }

        private void newSpace() {
            if (spaces.size() >= MAX_SPACES) {
                return;
            }
            MemoryRegion r = spaceRoot();
            String name = "s" + spacesMade++;
            trace.add("addressSpace " + name + " on " + r.name());
            AddressSpace s = sys.addressSpace(r, name);
            spaces.add(s);
            if (c.next(2) == 0) {
                register(new StreamModel("late" + late++, s, c.next(3)));
            }
        }

        /** One of the spaces created on the way (as0 and as1 stay), or null. */
        private AddressSpace madeSpace() {
            return spaces.size() <= 2 ? null : spaces.get(2 + c.next(spaces.size() - 2));
        }

        private void destroySpace(AddressSpace doomed) {
            for (StreamModel m : List.copyOf(registered)) {
                if (m.addressSpace() == doomed) {
                    unregister(m);
                }
            }
            trace.add("destroy " + doomed.name());
            spaces.remove(doomed);
            sys.destroyAddressSpace(doomed);
        }

        /** A region of that class if there is one (the operation needs it), else {@code fallback}. */
        private MemoryRegion ofKind(Class<?> kind, MemoryRegion fallback) {
            List<MemoryRegion> of = new ArrayList<>();
            for (MemoryRegion x : regions) {
                if (kind.isInstance(x)) {
                    of.add(x);
                }
            }
            return of.isEmpty() ? fallback : of.get(c.next(of.size()));
        }

        private void readd(MemoryRegion r) {
            MemoryRegion parent = r.container();
            if (parent == null) {
                return;
            }
            long addr = r.addr();
            int prio = c.next(5) - 2;
            trace.add("priority " + r.name() + " " + prio);
            sys.transactionBegin();
            try {
                parent.delSubregion(r);
                guarded(() -> parent.addSubregionOverlap(addr, r, prio));
            } finally {
                sys.transactionCommit();
            }
        }

        private void vgaLog(MemoryRegion r) {
            if (!(r instanceof RamRegion)) {
                return;
            }
            int count = vgaLogging.getOrDefault(r, 0);
            boolean on = count == 0 || c.next(2) == 0;
            trace.add("setLog " + r.name() + " " + on);
            vgaLogging.put(r, count + (on ? 1 : -1));
            r.setLog(on, MemoryRegion.DIRTY_MEMORY_VGA);
        }

        private void eventfd(MemoryRegion r) {
            if (!eventfds.isEmpty() && c.next(2) == 0) {
                Object[] e = eventfds.remove(c.next(eventfds.size()));
                MemoryRegion er = (MemoryRegion) e[0];
                trace.add("delEventfd " + er.name() + " @" + Long.toHexString((Long) e[1]));
                er.delEventfd((Long) e[1], (Integer) e[2], false, 0, (EventNotifier) e[3]);
            } else if (r instanceof IoRegion) {
                long addr = c.pick(OFFSETS) % r.size() + 4L * c.next(3);
                int size = c.next(2) == 0 ? 0 : 4;
                EventNotifier n = NOTIFIERS[c.next(NOTIFIERS.length)];
                trace.add("addEventfd " + r.name() + " @" + Long.toHexString(addr) + " size " + size);
                r.addEventfd(addr, size, false, 0, n);
                eventfds.add(new Object[] {r, addr, size, n});
            }
        }

        private void coalescing(MemoryRegion r) {
            if (!(r instanceof IoRegion)) {
                return;
            }
            if (r.hasCoalescing() && c.next(2) == 0) {
                trace.add("clearCoalescing " + r.name());
                r.clearCoalescing();
            } else {
                long off = c.pick(OFFSETS) % r.size();
                long size = Math.min(0x400L << c.next(3), r.size() - off);
                trace.add("addCoalescing " + r.name() + " " + Long.toHexString(off) + "+" + Long.toHexString(size));
                r.addCoalescing(off, size);
            }
        }

        private void lateListener(List<AddressSpace> spaces) {
            StreamModel m = null;
            for (StreamModel x : registered) {
                if (x.toString().startsWith("late")) {
                    m = x;
                }
            }
            if (m != null) {
                unregister(m);
            } else {
                register(new StreamModel("late" + late++, spaces.get(c.next(spaces.size())), c.next(3)));
            }
        }

        private void armChanger(List<AddressSpace> spaces) {
            if (regions.isEmpty()) {
                return;
            }
            MemoryRegion r = regions.get(c.next(regions.size()));
            int kind = c.next(4);
            AddressSpace doomed = madeSpace();
            if (kind == 1 && c.next(2) == 0) {
                MemoryRegion ram = ofKind(RamRegion.class, r);
                trace.add("changer setLog on " + ram.name());
                changer.arm(() -> vgaLog(ram));
            } else if (kind == 2 && spaces.size() < MAX_SPACES) {
                MemoryRegion sr = spaceRoot();
                String name = "s" + spacesMade++;
                boolean withModel = c.next(2) == 0;
                int prio = c.next(3);
                trace.add("changer creates " + name + " on " + sr.name() + (withModel ? " and registers to it" : ""));
                changer.arm(() -> {
                    AddressSpace s = sys.addressSpace(sr, name); // at once
                    spaces.add(s);
                    if (withModel) {
                        StreamModel m = new StreamModel("late" + late++, s, prio);
                        models.add(m);
                        registered.add(m);
                        m.allowOutside(outside);
                        m.expectReplay();
                        sys.registerListener(m, s); // deferred
                    }
                });
            } else if (kind == 3 && doomed != null) {
                trace.add("changer destroys " + doomed.name());
                List<StreamModel> own = new ArrayList<>();
                for (StreamModel m : registered) {
                    if (m.addressSpace() == doomed) {
                        own.add(m);
                    }
                }
                registered.removeAll(own);
                spaces.remove(doomed);
                changer.arm(() -> {
                    for (StreamModel m : own) {
                        m.expectRemoval();
                        sys.unregisterListener(m); // deferred, as the destruction
                    }
                    sys.destroyAddressSpace(doomed);
                });
            } else if (c.next(3) == 0) {
                StreamModel m = new StreamModel("late" + late++, spaces.get(c.next(spaces.size())), c.next(3));
                trace.add("changer registers " + m);
                models.add(m);
                registered.add(m);
                m.allowOutside(outside);
                m.expectReplay();
                changer.arm(() -> sys.registerListener(m, m.addressSpace()));
            } else if (c.next(3) == 0) {
                // Eventfds and coalesced windows from a callback: told outside an update.
                MemoryRegion io = ofKind(IoRegion.class, r);
                outside.add(Outside.EVENTFD);
                outside.add(Outside.COALESCED);
                boolean window = c.next(2) == 0;
                trace.add("changer " + (window ? "coalesces " : "adds an eventfd to ") + io.name());
                changer.arm(() -> {
                    if (window) {
                        coalescing(io);
                    } else {
                        eventfd(io);
                    }
                });
            } else if (kind == 1 && ofKind(RomDeviceRegion.class, r) instanceof RomDeviceRegion d) {
                trace.add("changer romd " + d.name() + " " + !d.isRomd());
                changer.arm(() -> d.setRomd(!d.isRomd()));
            } else if (kind == 0 && c.next(2) == 0) {
                // Waits like the other calls, then runs as it would outside (GlobalDirtyLogFromCallbackTest).
                outside.add(Outside.GLOBAL_LOG);
                boolean thenUndo = c.next(3) == 0;
                trace.add("changer toggles global logging" + (thenUndo ? " and back" : ""));
                changer.arm(() -> {
                    boolean on = sys.isGlobalDirtyTracking(); // nothing of the changer's waits yet
                    toggleGlobalLog(on);
                    if (thenUndo) {
                        toggleGlobalLog(!on);
                    }
                });
            } else {
                long addr = c.pick(ADDRS);
                boolean enable = c.next(2) == 0;
                trace.add("changer " + (enable ? "toggles " + r.name() : "moves " + r.name() + " @" + Long.toHexString(addr)));
                changer.arm(() -> {
                    if (enable) {
                        r.setEnabled(!r.isEnabled());
                    } else {
                        guarded(() -> r.setAddress(addr));
                    }
                });
            }
            // The armed change runs at the commit of the next update; make one.
            trace.add("kick: readonly root " + !root.isReadonly());
            root.setReadonly(!root.isReadonly());
        }
    }

    /** A listener whose next {@code commit} makes one change (which the engine defers). */
    private static final class Changer implements MemoryListener {
        private Runnable armed;

        void arm(Runnable change) {
            armed = change;
        }

        @Override
        public void commit() {
            Runnable r = armed;
            armed = null;
            if (r != null) {
                r.run();
            }
        }
    }

    private static void guarded(Runnable change) {
        try {
            change.run();
        } catch (RegionException e) {
            // a refused change (a cycle, a bad alias offset) changes nothing; the stream must say so
        }
    }

    private static boolean closesCycle(MemoryRegion parent, MemoryRegion r) {
        for (MemoryRegion p = parent; p != null; p = p.container()) {
            if (p == r || r instanceof AliasRegion a && p == a.target()) {
                return true;
            }
        }
        return false;
    }
}
