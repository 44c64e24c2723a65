package dev.guestmem;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A call made from a listener callback (a registration that waits, a new address space) while an
 * earlier listener of the same notification has already thrown: the nested call must not be handed
 * that earlier throw, which belongs to the outermost call. (Review 9: checked after the
 * MemorySystem split; this held already.)
 */
class NestedCallKeepsOuterThrowTest {
    private static final class Boom extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Boom() {
            super("first listener's after-sync");
        }
    }

    /** Throws from its after-sync; registered first (lower priority runs first going forward). */
    private static final class Thrower implements MemoryListener {
        final Boom boom = new Boom();

        @Override
        public int priority() {
            return -10;
        }

        @Override
        public void logGlobalAfterSync() {
            throw boom;
        }
    }

    @Test
    void aRegistrationFromALaterCallbackIsNotHandedAnEarlierListenersThrow() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        sys.addressSpace(root, "memory");
        Thrower first = new Thrower();
        MemoryListener latecomer = new MemoryListener() { };
        List<Throwable> nested = new ArrayList<>();
        MemoryListener second = new MemoryListener() {
            @Override
            public int priority() {
                return 10;
            }

            @Override
            public void logGlobalAfterSync() {
                try {
                    sys.registerListener(latecomer, null); // waits until the notification is over
                } catch (RuntimeException e) {
                    nested.add(e);
                }
            }
        };
        sys.registerListener(first, null);
        sys.registerListener(second, null);

        RuntimeException out = assertThrows(RuntimeException.class, sys::globalAfterDirtyLogSync);
        assertTrue(nested.isEmpty(), () -> "the nested registration was handed " + nested);
        assertSame(first.boom, out, "the outer call reports the first listener's throw");
    }

    @Test
    void anAddressSpaceCreatedFromALaterCallbackSurvivesAnEarlierListenersThrow() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        ContainerRegion root2 = new ContainerRegion(sys, null, "root2", MemoryRegion.SIZE_2_64);
        sys.addressSpace(root, "memory");
        Thrower first = new Thrower();
        AddressSpace[] made = {null};
        Throwable[] nested = {null};
        MemoryListener second = new MemoryListener() {
            @Override
            public int priority() {
                return 10;
            }

            @Override
            public void logGlobalAfterSync() {
                try {
                    made[0] = sys.addressSpace(root2, "made-in-callback");
                } catch (RuntimeException e) {
                    nested[0] = e;
                }
            }
        };
        sys.registerListener(first, null);
        sys.registerListener(second, null);

        RuntimeException out = assertThrows(RuntimeException.class, sys::globalAfterDirtyLogSync);
        assertNull(nested[0], () -> "the nested addressSpace threw " + nested[0]);
        assertTrue(sys.addressSpaces().contains(made[0]), "the space made in the callback is there");
        assertSame(first.boom, out);
    }
}
