package dev.guestmem.flat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import org.junit.jupiter.api.Test;

/**
 * The commit's record of changed windows ({@link TopologyDirt}): whatever a transaction does, the
 * view it publishes equals a full render of the tree. The random test runs long transactions on
 * busy buses, so that regions pass the record's window limit and are marked whole, which short
 * random changes rarely reach.
 */
class TopologyDirtTest {
    private static final int MANY = 17; // past TopologyDirt's 16 windows a region is marked whole

    /**
     * A container marked whole (more changes in one transaction than it keeps windows for) and then
     * grown: its whole mark covered only its old size, so the growth and a device mapped in it were
     * never sent up to its container, nor to an alias of it, and the published views lacked them.
     */
    @Test
    void aContainerMarkedWholeThenGrownInOneTransactionIsRenderedAtItsNewSize() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            ContainerRegion bus = new ContainerRegion(sys, null, "bus", 0x20000);
            root.addSubregion(0x100000, bus);
            ContainerRegion shadowRoot = new ContainerRegion(sys, null, "shadow-root", MemoryRegion.SIZE_2_64);
            shadowRoot.addSubregion(0x800000, new AliasRegion(sys, null, "bus-alias", bus, 0, 0x40000));
            IoRegion[] devs = new IoRegion[MANY];
            for (int i = 0; i < MANY; i++) {
                devs[i] = new IoRegion(sys, null, null, "dev" + i, 0x100);
                bus.addSubregion(i * 0x1000L, devs[i]);
            }
            AddressSpace as = sys.addressSpace(root, "as");
            AddressSpace shadow = sys.addressSpace(shadowRoot, "shadow");

            sys.transactionBegin();
            bus.setAddress(0x200000); // root's windows now cover the bus: what comes up from it stops there
            bus.setAddress(0x100000);
            for (IoRegion d : devs) {
                d.setEnabled(false); // one window each: bus ends up marked whole, [0, 0x20000)
            }
            bus.setSize(0x40000);
            bus.addSubregion(0x30000, new IoRegion(sys, null, null, "late", 0x100));
            sys.transactionCommit();

            assertEquals(FlatViewRenderer.render(FlatViewRoots.of(root)), as.currentMap().ranges());
            assertEquals(FlatViewRenderer.render(FlatViewRoots.of(shadowRoot)), shadow.currentMap().ranges());
        }
    }

    @Provide
    Arbitrary<List<Integer>> script() {
        return Arbitraries.integers().between(0, 1 << 16).list().ofMinSize(8).ofMaxSize(400);
    }

    /**
     * Two buses of devices in a root, an alias of one bus in the root and in a second space's root;
     * transactions of a burst of device toggles on one bus followed by other changes (devices toggled,
     * moved, added and removed; buses moved and resized; the aliases resized and re-offset); after
     * every commit each space's view equals a full render. Without the fix of the test above it fails
     * within the default tries.
     */
    @Property(tries = 300, shrinking = ShrinkingMode.FULL)
    void longTransactionsPublishWhatAFullRenderShows(@ForAll("script") List<Integer> script) {
        int[] pos = {0};
        java.util.function.IntUnaryOperator next = bound -> pos[0] < script.size()
                ? Math.floorMod(script.get(pos[0]++), bound) : 0;
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            ContainerRegion shadowRoot = new ContainerRegion(sys, null, "shadow-root", MemoryRegion.SIZE_2_64);
            List<ContainerRegion> buses = new ArrayList<>();
            List<List<IoRegion>> devices = new ArrayList<>();
            for (int b = 0; b < 2; b++) {
                ContainerRegion bus = new ContainerRegion(sys, null, "bus" + b, 0x10000L << b);
                root.addSubregion(0x100000L * (b + 1), bus);
                buses.add(bus);
                List<IoRegion> devs = new ArrayList<>();
                for (int i = 0; i < 48; i++) { // the last ones beyond the bus's end until it grows
                    IoRegion d = new IoRegion(sys, null, null, "b" + b + "d" + i, 0x100);
                    bus.addSubregion(i * 0x800L * (1 + b), d);
                    devs.add(d);
                }
                devices.add(devs);
            }
            AliasRegion alias = new AliasRegion(sys, null, "bus0-alias", buses.get(0), 0, 0x10000);
            root.addSubregionOverlap(0x400000, alias, 1);
            AliasRegion shadowAlias = new AliasRegion(sys, null, "shadow-alias", buses.get(0), 0x800, 0x20000);
            shadowRoot.addSubregion(0x800000, shadowAlias);
            AddressSpace as = sys.addressSpace(root, "as");
            AddressSpace shadow = sys.addressSpace(shadowRoot, "shadow");
            int made = 0;
            while (pos[0] < script.size()) {
                sys.transactionBegin();
                // A burst of device toggles on one bus (as firmware sweeping a bus), then other changes.
                int b = next.applyAsInt(2);
                if (next.applyAsInt(2) == 0) { // its container's windows then cover it before its own fill up
                    buses.get(b).setAddress(0x100000L * (1 + next.applyAsInt(4)));
                }
                int toggles = next.applyAsInt(48);
                for (int k = 0; k < toggles && pos[0] < script.size(); k++) {
                    IoRegion d = devices.get(b).get(next.applyAsInt(devices.get(b).size()));
                    d.setEnabled(!d.isEnabled());
                }
                int changes = next.applyAsInt(12);
                for (int k = 0; k < changes && pos[0] < script.size(); k++) {
                    b = next.applyAsInt(2);
                    ContainerRegion bus = buses.get(b);
                    List<IoRegion> devs = devices.get(b);
                    IoRegion d = devs.get(next.applyAsInt(devs.size()));
                    switch (next.applyAsInt(8)) {
                        case 0 -> d.setEnabled(!d.isEnabled());
                        case 1 -> {
                            if (d.container() != null) {
                                d.setAddress(next.applyAsInt(0x80) * 0x800L);
                            }
                        }
                        case 2 -> {
                            if (d.container() != null) {
                                bus.delSubregion(d);
                            } else {
                                bus.addSubregion(next.applyAsInt(0x80) * 0x800L, d);
                            }
                        }
                        case 3 -> bus.setSize((1 + next.applyAsInt(8)) * 0x8000L);
                        case 4 -> bus.setAddress(0x100000L * (1 + next.applyAsInt(4)));
                        case 5 -> {
                            IoRegion late = new IoRegion(sys, null, null, "late" + made++, 0x100);
                            bus.addSubregion(next.applyAsInt(0x80) * 0x800L, late);
                            devs.add(late);
                        }
                        case 6 -> alias.setAliasOffset(next.applyAsInt(8) * 0x800L);
                        default -> (next.applyAsInt(2) == 0 ? alias : shadowAlias)
                                .setSize((1 + next.applyAsInt(8)) * 0x4000L);
                    }
                }
                sys.transactionCommit();
                assertEquals(FlatViewRenderer.render(FlatViewRoots.of(root)), as.currentMap().ranges());
                assertEquals(FlatViewRenderer.render(FlatViewRoots.of(shadowRoot)), shadow.currentMap().ranges());
            }
        }
    }
}
