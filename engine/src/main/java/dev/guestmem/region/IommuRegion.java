package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.PhysPageMap;
import dev.guestmem.iommu.IommuAttribute;
import dev.guestmem.iommu.IommuNotifiers;
import dev.guestmem.iommu.IommuOps;
import java.util.Objects;
import java.util.Optional;

/**
 * An IOMMU region ({@code memory_region_init_iommu}): accesses are translated by the model's
 * {@link IommuOps} and redirected to another address space. Who wants to hear of translation
 * changes registers on {@link #notifiers()}.
 *
 * <p><b>Thread safety.</b> The hooks are read with a volatile load by any accessing thread; see
 * {@link IommuNotifiers} for the notifiers.
 */
public final class IommuRegion extends MemoryRegion {
    /**
     * How many IOMMUs one translation may pass through. A walk that needs more is taken as a cycle
     * (an IOMMU translating into a space that leads back to it) and ends at the unassigned section,
     * as a refused translation does; QEMU's {@code address_space_translate_iommu} has no bound and
     * hangs. Real chains are one or two deep.
     */
    public static final int MAX_CHAIN = 16;

    /** The model's hooks; volatile: set by the IOMMU model, read by any accessing thread. */
    private volatile IommuOps ops;
    private final IommuNotifiers notifiers = new IommuNotifiers(this);

    /**
     * Creates an IOMMU region without a model yet (accesses hit the unassigned section until
     * {@link #setIommuOps} is called).
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name
     * @param size size, {@code -1L} for 2^64
     */
    public IommuRegion(MemorySystem system, Object owner, String name, long size) {
        this(system, owner, name, size, null);
    }

    /**
     * Creates an IOMMU region with its model's hooks.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name
     * @param size size, {@code -1L} for 2^64
     * @param ops the model's hooks, or null
     */
    public IommuRegion(MemorySystem system, Object owner, String name, long size, IommuOps ops) {
        super(system, owner, name, size);
        this.ops = ops;
    }

    @Override
    public boolean terminates() {
        return true;
    }

    @Override
    public boolean isIommu() {
        return true;
    }

    /**
     * Returns the model's hooks ({@code IOMMUMemoryRegionClass}).
     *
     * @return the hooks, or null while none is set (accesses then hit the unassigned section)
     */
    public IommuOps iommuOps() {
        return ops;
    }

    /**
     * Sets the model's hooks (volatile store; accesses see them from their next translation). The
     * registered notifiers stay: the new model is told their flags first and may refuse them.
     * Translations cached by the JIT fast path through this region are invalidated, since every
     * answer may now differ ({@link IommuNotifiers#changeModel}).
     *
     * @param ops the hooks, or null
     * @throws dev.guestmem.iommu.IommuException if the new model refuses the registered notifiers'
     *     flags or has fewer contexts than they use; the old model stays then
     * @throws dev.guestmem.MemorySystemClosedException if the system is closed; the old model stays
     */
    public void setIommuOps(IommuOps ops) {
        // Not under the topology lock (the model change tells notifiers and soft TLBs), so a call
        // racing close() may still land: the teardown neither reads nor changes the model.
        if (system().isClosed()) {
            throw closedRefusal("setIommuOps");
        }
        notifiers.changeModel(this.ops, ops, () -> this.ops = ops);
    }

    /** @return the notifiers of this region and the events sent to them */
    public IommuNotifiers notifiers() {
        return notifiers;
    }

    /** @return {@code memory_region_iommu_num_indexes}: the model's count, 1 without a model */
    public int numIndexes() {
        IommuOps o = ops;
        return o == null ? 1 : o.numIndexes();
    }

    /**
     * {@code memory_region_iommu_attrs_to_index}.
     *
     * @param attrs the access's attributes
     * @return the translation context the model selects, 0 without a model
     */
    public int attrsToIndex(MemTxAttrs attrs) {
        IommuOps o = ops;
        return o == null ? 0 : o.attrsToIndex(attrs);
    }

    /**
     * {@code memory_region_iommu_get_attr}: asks the model for an attribute
     * ({@link IommuOps#attribute}). Called on the IOMMU region itself, as QEMU's; from an alias,
     * {@link IommuNotifiers#of} finds it.
     *
     * @param <T> the type of the attribute's value
     * @param attr the attribute
     * @return the value, or empty if the model does not support it or no model is set (QEMU:
     *     {@code -EINVAL})
     * @throws ClassCastException if the model answers with a value of another type (a raw-typed model)
     * @throws NullPointerException if the model answers null instead of {@link Optional#empty()}
     */
    public <T> Optional<T> attribute(IommuAttribute<T> attr) {
        Objects.requireNonNull(attr, "attr");
        IommuOps o = ops;
        if (o == null) {
            return Optional.empty();
        }
        Optional<T> answer = Objects.requireNonNull(o.attribute(this, attr),
                () -> "IOMMU model of '" + name() + "' answered null for " + attr + " (return Optional.empty())");
        return answer.map(attr.type()::cast); // a raw-typed model fails here, not in the caller's unboxing
    }

    /** @return {@code memory_region_iommu_get_min_page_size}: the model's, 4 KiB without a model */
    public long minPageSize() {
        IommuOps o = ops;
        return o == null ? PhysPageMap.PAGE_SIZE : o.minPageSize();
    }
}
