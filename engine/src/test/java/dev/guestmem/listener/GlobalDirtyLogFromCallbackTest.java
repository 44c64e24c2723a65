package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * {@code globalDirtyLogStart}/{@code Stop} called from a listener's {@code commit}: unlike a
 * topology change or a registration there, they are not deferred. A listener whose {@code commit}
 * has not come yet hears {@code logGlobalStart}/{@code logGlobalStop} inside the update it is in,
 * and a stop is told before the update that takes the MIGRATION bit off the ranges (QEMU's stop
 * re-renders first, then calls {@code log_global_stop}). Found by {@link ListenerStreamProperties}
 * (the changer's global-log option, left out of the generator while this stands).
 */
@Disabled("candidate, not fixed: globalDirtyLogStart/Stop from a callback are told at once, inside the update"
        + " under way; deferring them (flags and calls) is a design choice for the lead (QEMU leaves it undefined)")
class GlobalDirtyLogFromCallbackTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final List<String> heard = new ArrayList<>();
    private Runnable armed;

    /** First in priority order: its commit runs the armed call. */
    private final MemoryListener changer = new MemoryListener() {
        @Override
        public void commit() {
            Runnable r = armed;
            armed = null;
            if (r != null) {
                r.run();
            }
        }
    };

    /** Later in priority order: records the order of what it hears. */
    private final MemoryListener recorder = new MemoryListener() {
        @Override
        public int priority() {
            return 1;
        }

        @Override
        public void begin() {
            heard.add("begin");
        }

        @Override
        public void commit() {
            heard.add("commit");
        }

        @Override
        public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
            heard.add("logStart " + oldMask + "->" + newMask);
        }

        @Override
        public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
            heard.add("logStop " + oldMask + "->" + newMask);
        }

        @Override
        public void logGlobalStart() {
            heard.add("logGlobalStart");
        }

        @Override
        public void logGlobalStop() {
            heard.add("logGlobalStop");
        }
    };

    @Test
    void aStartFromACommitIsToldAfterTheUpdate() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.registerListener(changer, as);
        sys.registerListener(recorder, as);
        heard.clear();
        armed = sys::globalDirtyLogStart;
        root.setReadonly(true); // an update whose commit starts global logging
        assertEquals(List.of("begin", "commit", "logGlobalStart", "begin", "logStart 0->4", "commit"), heard);
    }

    @Test
    void aStopFromACommitIsToldAfterTheRangesStopped() {
        root.addSubregion(0, RamRegion.allocate(sys, null, "ram", 0x1000));
        sys.globalDirtyLogStart();
        sys.registerListener(changer, as);
        sys.registerListener(recorder, as);
        heard.clear();
        armed = sys::globalDirtyLogStop;
        root.setReadonly(true);
        assertEquals(List.of("begin", "commit", "begin", "logStop 4->0", "commit", "logGlobalStop"), heard);
    }
}
