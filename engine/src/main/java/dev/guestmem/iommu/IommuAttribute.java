package dev.guestmem.iommu;

import java.util.Objects;
import java.util.Optional;

/**
 * An attribute an IOMMU model may answer, QEMU's {@code enum IOMMUMemoryRegionAttr}, typed by its
 * value: the query is {@link dev.guestmem.region.IommuRegion#attribute}, the model's side
 * {@link IommuOps#attribute}. The set is QEMU's; its only member is sPAPR's TCE table descriptor.
 *
 * <p><b>Thread safety.</b> Immutable constants.
 *
 * @param <T> the type of the attribute's value
 */
public final class IommuAttribute<T> {
    /**
     * {@code IOMMU_ATTR_SPAPR_TCE_FD}: the descriptor of the kernel's TCE table (sPAPR's IOMMU, which
     * vfio hands to KVM so the guest's TCE updates bypass QEMU).
     */
    public static final IommuAttribute<Integer> SPAPR_TCE_FD = new IommuAttribute<>("SPAPR_TCE_FD", Integer.class);

    private final String name;
    private final Class<T> type;

    private IommuAttribute(String name, Class<T> type) {
        this.name = name;
        this.type = type;
    }

    /** @return the attribute's name, QEMU's without the {@code IOMMU_ATTR_} prefix */
    public String name() {
        return name;
    }

    /** @return the type of the attribute's value */
    public Class<T> type() {
        return type;
    }

    /**
     * Wraps a model's answer, checked against {@link #type()}: what an {@link IommuOps#attribute}
     * returns for an attribute it supports.
     *
     * @param value the value
     * @return the value, typed
     * @throws ClassCastException if the value is not a {@link #type()}
     * @throws NullPointerException if the value is null
     */
    public Optional<T> of(Object value) {
        return Optional.of(type.cast(Objects.requireNonNull(value, "value")));
    }

    @Override
    public String toString() {
        return "IOMMU_ATTR_" + name;
    }
}
