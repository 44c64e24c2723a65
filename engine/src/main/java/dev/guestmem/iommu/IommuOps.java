package dev.guestmem.iommu;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.PhysPageMap;
import dev.guestmem.region.IommuRegion;
import java.util.Optional;

/**
 * What an IOMMU model implements, as QEMU's {@code IOMMUMemoryRegionClass}: the translation, and
 * optionally its index count, attribute mapping, minimum page size, the notifier-flags hook, its
 * own replay and its attributes. Only {@link #translate} is required; every default is QEMU's
 * behaviour when the class leaves that hook NULL.
 *
 * <p>The access path calls {@link #translate} in a loop (an IOMMU may translate into an address
 * space that holds another IOMMU) until it reaches a region that is not an IOMMU; a translation
 * that lacks the permission bit {@code 1 << isWrite} makes the access hit the unassigned section.
 * A model that changes a translation it may have handed out tells the region's
 * {@link IommuNotifiers} ({@code memory_region_notify_iommu}): that is how device caches and the
 * JIT fast path ({@link dev.guestmem.tlb.GuestTlb}) learn of it.
 *
 * <p><b>Thread safety.</b> {@link #translate} and {@link #attrsToIndex} are called from any
 * accessing thread without locks; they must be thread-safe, and allocation-free if accesses are to
 * stay so. {@link #notifyFlagChanged} is called with the region's notifier lock held.
 */
public interface IommuOps {
    /**
     * Translates one address ({@code translate(iommu_mr, addr, flag, iommu_idx)}): fills
     * {@code out}'s target space, iova (the IOMMU page's first address), translated address, page
     * mask and permissions, and the PASID if the model has one. Callers pass {@code out} with
     * {@code targetAs} null, {@code perm} {@link IommuTlbEntry#NONE} and {@code pasid} 0 (the other
     * fields may hold an earlier translation's values: set them); leave {@code targetAs} and
     * {@code perm} as they are to refuse. Only the read and write bits of {@code perm} decide an
     * access; the others reach notifiers (replay) as set.
     *
     * @param addr offset in the IOMMU region
     * @param flag {@link IommuTlbEntry#RO} for reads, {@link IommuTlbEntry#WO} for writes, or
     *     {@link IommuTlbEntry#NONE} when the caller wants every permission of the page (replay, TLB
     *     fills): the model must then not stop its walk early
     * @param iommuIdx the translation context, from {@link #attrsToIndex}
     * @param out receives the translation
     */
    void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out);

    /**
     * {@code attrs_to_index}: which translation context the attributes select.
     *
     * @param attrs the access's attributes
     * @return an index in {@code [0, numIndexes())}; 0 by default
     */
    default int attrsToIndex(MemTxAttrs attrs) {
        return 0;
    }

    /**
     * {@code num_indexes}: how many translation contexts there are.
     *
     * @return the count, 1 by default
     */
    default int numIndexes() {
        return 1;
    }

    /**
     * {@code get_min_page_size}: the smallest page the model maps, the step of the default replay.
     *
     * @return a power of two; the target page size (4 KiB) by default
     */
    default long minPageSize() {
        return PhysPageMap.PAGE_SIZE;
    }

    /**
     * {@code notify_flag_changed}: the union of the registered notifiers' event flags is about to
     * change (a model that cannot deliver some events refuses here, as QEMU's SMMU refuses MAP).
     *
     * @param iommu the region
     * @param oldFlags the flags until now ({@code IommuNotifier} event bits)
     * @param newFlags the flags wanted
     * @throws IommuException to refuse: the registration that caused the change is undone. (The
     *     hook may not register or unregister notifiers of {@code iommu}: that is refused.)
     */
    default void notifyFlagChanged(IommuRegion iommu, int oldFlags, int newFlags) {
    }

    /**
     * {@code get_attr}: the model's value of an attribute ({@code IOMMU_ATTR_SPAPR_TCE_FD}). A model
     * answers the attributes it has with {@link IommuAttribute#of} and every other with
     * {@link Optional#empty()}.
     *
     * @param <T> the type of the attribute's value
     * @param iommu the region
     * @param attr the attribute
     * @return the value, or empty if the model does not support the attribute (the default, as
     *     QEMU's {@code -EINVAL} when the hook is NULL)
     */
    default <T> Optional<T> attribute(IommuRegion iommu, IommuAttribute<T> attr) {
        return Optional.empty();
    }

    /**
     * {@code replay}: tells {@code notifier} every translation now present for its index. The
     * default is QEMU's generic walk ({@link IommuNotifiers#replayByWalk}); models with big or sparse
     * spaces override it with a walk of their own tables.
     *
     * @param iommu the region
     * @param notifier the notifier to tell
     */
    default void replay(IommuRegion iommu, IommuNotifier notifier) {
        iommu.notifiers().replayByWalk(notifier);
    }
}
