package dev.guestmem.listener;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Listener (un)registrations and space destructions asked for from a callback wait for the
 * notification, not for the caller's open transaction: once the notification is over they have run,
 * as a direct call inside the transaction would run at once (only topology updates wait for the
 * commit).
 */
class DeferredCallsInTransactionTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "root", -1L);
    private final AddressSpace as = sys.addressSpace(root, "memory");
    private final ContainerRegion root2 = new ContainerRegion(sys, null, "root2", -1L);
    private final RamRegion c = RamRegion.allocate(sys, null, "c", 0x1000);
    private final List<String> seen = new ArrayList<>();

    @AfterEach
    void closeTransactions() {
        while (sys.transactionDepth() > 0) {
            sys.transactionCommit();
        }
    }

    private MemoryListener recorder(String who) {
        return new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add(who + " add " + s.region().name());
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add(who + " del " + s.region().name());
            }
        };
    }

    @Test
    void aThrowingCreationInsideATransactionLeavesNoSpaceBehindAtOnce() {
        root2.addSubregion(0, c);
        MemoryListener late = recorder("L");
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == c) {
                    sys.registerListener(late, null); // waits for the replay to end
                    throw new IllegalStateException("refused");
                }
            }
        }, null);

        sys.transactionBegin();
        assertThrows(IllegalStateException.class, () -> sys.addressSpace(root2, "dev"));

        assertEquals(List.of(as), sys.addressSpaces(), "a call that throws leaves no space, transaction or not");
        assertEquals(List.of("L add c", "L del c"), seen, "the late listener heard the space come and go");
        sys.transactionCommit();
        assertEquals(List.of(as), sys.addressSpaces());
    }

    @Test
    void aRegistrationFromACallbackInsideATransactionRunsWhenTheNotificationEnds() {
        root2.addSubregion(0, c);
        MemoryListener late = recorder("L");
        MemoryListener asker = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == c && seen.isEmpty()) {
                    seen.add("asked");
                    sys.registerListener(late, null);
                }
            }
        };
        sys.registerListener(asker, null);

        sys.transactionBegin();
        AddressSpace dev = sys.addressSpace(root2, "dev");
        assertEquals(List.of("asked", "L add c"), seen, "registered and replayed once the creation is over");

        sys.unregisterListener(late); // a direct call: runs now, not behind anything left waiting
        assertEquals(List.of("asked", "L add c", "L del c"), seen);
        sys.transactionCommit();
        sys.unregisterListener(asker);
        sys.destroyAddressSpace(dev);
    }
}
