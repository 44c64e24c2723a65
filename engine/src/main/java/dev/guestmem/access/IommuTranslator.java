package dev.guestmem.access;

/**
 * The translation hook of an IOMMU region, as QEMU's {@code IOMMUMemoryRegionClass.translate} and
 * {@code attrs_to_index}. The access path calls it in a loop (an IOMMU may translate into an address
 * space that holds another IOMMU) until it reaches a region that is not an IOMMU; a translation that
 * lacks the permission bit {@code 1 << isWrite} makes the access hit the unassigned section.
 *
 * <p><b>Thread safety.</b> Called from any accessing thread without locks; implementations must be
 * thread-safe and must not allocate if accesses are to stay allocation-free.
 */
public interface IommuTranslator {
    /**
     * Translates one address ({@code translate(iommu_mr, addr, flag, iommu_idx)}).
     *
     * @param addr offset in the IOMMU region
     * @param flag {@link IommuTlbEntry#RO} for reads, {@link IommuTlbEntry#WO} for writes
     * @param iommuIdx index from {@link #attrsToIndex}
     * @param out receives the target address space, address, mask and permissions
     */
    void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out);

    /**
     * {@code attrs_to_index}: which translation context the attributes select.
     *
     * @param attrs the access's attributes
     * @return an index, 0 by default
     */
    default int attrsToIndex(MemTxAttrs attrs) {
        return 0;
    }
}
