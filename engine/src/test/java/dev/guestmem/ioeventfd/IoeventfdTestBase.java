package dev.guestmem.ioeventfd;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** The machine the eventfd tests share: an empty system, its address space, notifiers closed after. */
abstract class IoeventfdTestBase {
    /** Device writes seen: {offset, value, size}. */
    protected final List<long[]> deviceWrites = new ArrayList<>();
    private final List<EventNotifier> notifiers = new ArrayList<>();
    protected MemorySystem sys;
    protected ContainerRegion root;
    protected AddressSpace as;

    @BeforeEach
    void createMachine() {
        sys = new MemorySystem();
        root = new ContainerRegion(sys, null, "system", -1L);
        as = sys.addressSpace(root, "memory");
    }

    @AfterEach
    void closeNotifiers() {
        notifiers.forEach(EventNotifier::close);
    }

    /** @return a new eventfd, closed after the test */
    protected EventNotifier notifier() {
        EventNotifier e = EventNotifier.create();
        notifiers.add(e);
        return e;
    }
}
