package dev.guestmem.scenario13;

import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;

/** Records region_add and region_del as "add NAME @ADDR+SIZE" (a KVM-like memslot listener's view). */
final class RecordingListener implements MemoryListener {
    final String space;
    final List<String> events = new ArrayList<>();

    RecordingListener(String space) {
        this.space = space;
    }

    private static String describe(MemoryRegionSection s) {
        return s.region().name() + " @0x" + Long.toHexString(s.offsetWithinAddressSpace()) + "+0x"
                + Long.toHexString(s.size());
    }

    @Override
    public void regionAdd(MemoryRegionSection s) {
        events.add(space + ": add " + describe(s));
    }

    @Override
    public void regionDel(MemoryRegionSection s) {
        events.add(space + ": del " + describe(s));
    }

    List<String> take() {
        List<String> copy = List.copyOf(events);
        events.clear();
        return copy;
    }
}
