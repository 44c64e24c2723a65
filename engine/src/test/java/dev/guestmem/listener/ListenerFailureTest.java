package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A listener that throws while told of a topology change ({@code address_space_update_topology_pass},
 * whose callbacks cannot fail in QEMU): the change still happens whole (every listener told, the
 * view published, the view cache current) and the throw reaches the caller afterwards.
 */
class ListenerFailureTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");

    private static MemoryListener recorder(List<String> seen, String who, int priority, RuntimeException onAdd) {
        return new MemoryListener() {
            @Override
            public int priority() {
                return priority;
            }

            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add(who + " add " + s.region().name());
                if (onAdd != null) {
                    throw onAdd;
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add(who + " del " + s.region().name());
            }

            @Override
            public void commit() {
                seen.add(who + " commit");
            }
        };
    }

    @Test
    void aThrowingRegionAddStopsNeitherTheOtherListenersNorThePublication() {
        List<String> seen = new ArrayList<>();
        IllegalStateException boom = new IllegalStateException("kvm refused the slot");
        sys.registerListener(recorder(seen, "a", 0, boom), as);
        sys.registerListener(recorder(seen, "b", 1, null), as);
        RamRegion r1 = new RamRegion(sys, null, "r1", RamBlock.anonymous("r1", 0x1000), false, false);
        RamRegion r2 = new RamRegion(sys, null, "r2", RamBlock.anonymous("r2", 0x1000), false, false);
        ContainerRegion both = new ContainerRegion(sys, null, "both", 0x2000);
        both.addSubregion(0, r1);
        both.addSubregion(0x1000, r2);
        seen.clear();

        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> root.addSubregion(0, both));

        assertSame(boom, thrown);
        assertEquals(List.of("a add r1", "b add r1", "a add r2", "b add r2", "a commit", "b commit"), seen);
        assertEquals(2, as.currentMap().rangeCount(), "published");
        as.stlLe(0x1000, 0x1234);
        assertEquals(0x1234, as.ldlLe(0x1000));
        // the view cache is the published view: a later change patches it, not an older one
        seen.clear();
        root.delSubregion(both);
        assertEquals(List.of("b del r1", "a del r1", "b del r2", "a del r2", "a commit", "b commit"), seen);
        assertEquals(0, as.currentMap().rangeCount());
    }
}
