package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An address space created from a callback while a listener of every address space has not yet
 * heard the current update's {@code commit}: that listener must not hear the new space's replay
 * ({@code begin}) in the middle of the update it is still in (the docs: a listener never hears one
 * update inside another). Found by {@link ListenerStreamProperties}.
 */
class SpaceCreatedMidNotificationTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);

    /** Records begin/commit nesting and regionAdds of a listener of every address space. */
    private static final class Recorder implements MemoryListener {
        final List<String> errors = new ArrayList<>();
        final List<String> adds = new ArrayList<>();
        boolean inUpdate;

        @Override
        public void begin() {
            if (inUpdate) {
                errors.add("begin inside begin..commit");
            }
            inUpdate = true;
        }

        @Override
        public void commit() {
            inUpdate = false;
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            adds.add(s.region().name());
        }
    }

    @Test
    void aListenerOfEverySpaceHearsTheNewSpaceAfterTheUpdateItIsIn() {
        root2.addSubregion(0, RamRegion.allocate(sys, null, "b", 0x1000));
        AddressSpace[] made = new AddressSpace[1];
        boolean[] armed = {false};
        sys.registerListener(new MemoryListener() {
            @Override
            public void commit() {
                if (armed[0] && made[0] == null) {
                    made[0] = sys.addressSpace(root2, "made-in-commit"); // exists at once
                    assertEquals(true, sys.addressSpaces().contains(made[0]));
                }
            }
        }, as);
        Recorder all = new Recorder();
        sys.registerListener(all, null); // its commit comes after the one above
        all.adds.clear();
        armed[0] = true;
        root.addSubregion(0, RamRegion.allocate(sys, null, "a", 0x1000));
        assertEquals(List.of(), all.errors);
        assertEquals(List.of("a", "b"), all.adds, "the update, then the new space's replay");
    }
}
