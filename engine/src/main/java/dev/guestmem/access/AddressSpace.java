package dev.guestmem.access;

import dev.guestmem.MemorySystem;
import dev.guestmem.flat.FlatView;
import dev.guestmem.region.MemoryRegion;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * A view of the region tree from one bus master (a CPU, a DMA-capable device), as QEMU's
 * {@code AddressSpace}: a root region and the {@link FlatView} currently rendered from it.
 *
 * <p><b>Thread safety.</b> The one happens-before edge: everything written before the topology
 * thread publishes a view with {@link #publish(FlatView)} (release) is visible to a thread that
 * loads it with {@link #currentMap()} (acquire). Accesses never take the topology lock.
 */
public final class AddressSpace {
    private static final VarHandle CURRENT_MAP;

    static {
        try {
            CURRENT_MAP = MethodHandles.lookup().findVarHandle(AddressSpace.class, "currentMap", FlatView.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final MemorySystem system;
    private final MemoryRegion root;
    private final String name;
    @SuppressWarnings("unused") // accessed through CURRENT_MAP
    private FlatView currentMap;

    /**
     * Creates an address space. Internal: use the system's factory, which renders and publishes the
     * first view ({@code address_space_init}).
     *
     * @param system the owning system
     * @param root the root region
     * @param name the name shown by mtree
     */
    public AddressSpace(MemorySystem system, MemoryRegion root, String name) {
        this.system = Objects.requireNonNull(system, "system");
        this.root = Objects.requireNonNull(root, "root");
        this.name = Objects.requireNonNull(name, "name");
    }

    /** @return the owning system */
    public MemorySystem system() {
        return system;
    }

    /** @return the root region */
    public MemoryRegion root() {
        return root;
    }

    /** @return the name */
    public String name() {
        return name;
    }

    /**
     * Loads the current view with acquire semantics; pairs with the release in {@link #publish}.
     *
     * @return the current flat view
     */
    public FlatView currentMap() {
        return (FlatView) CURRENT_MAP.getAcquire(this);
    }

    /**
     * Publishes a new view (release). Internal: topology lock held.
     *
     * @param view the new view
     */
    public void publish(FlatView view) {
        CURRENT_MAP.setRelease(this, Objects.requireNonNull(view, "view"));
    }

    @Override
    public String toString() {
        return "AddressSpace[" + name + "]";
    }
}
