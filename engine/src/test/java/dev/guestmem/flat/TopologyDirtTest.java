package dev.guestmem.flat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import org.junit.jupiter.api.Test;

/**
 * The commit's record of changed windows ({@link TopologyDirt}): whatever a transaction does, the
 * view it publishes equals a full render of the tree.
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
}
