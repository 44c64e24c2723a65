package dev.guestmem.iommu;

import dev.guestmem.access.AddressSpace;

/**
 * One IOMMU translation, as QEMU's {@code IOMMUTLBEntry}: the IOMMU page at {@link #iova} (its
 * bits under {@link #addrMask} zero) maps to {@link #translatedAddr} in {@link #targetAs} with
 * {@link #perm} permissions. {@link IommuOps#translate} fills one; a notification carries one.
 *
 * <p><b>Thread safety.</b> None: a mutable holder. The access path reuses one per thread as the
 * out-parameter of a translation; a notifier receives its own copy and may keep it.
 */
public final class IommuTlbEntry {
    /** No access ({@code IOMMU_NONE}); as a translation's flag: report every permission. */
    public static final int NONE = 0;
    /** Read allowed ({@code IOMMU_RO}, bit 0: {@code 1 << is_write} with is_write false). */
    public static final int RO = 1;
    /** Write allowed ({@code IOMMU_WO}). */
    public static final int WO = 2;
    /** Read and write ({@code IOMMU_RW}). */
    public static final int RW = 3;

    /** Address space the translated address lies in (null: the translation failed). */
    public AddressSpace targetAs;
    /** First address of the IOMMU page, as an offset in the IOMMU region. */
    public long iova;
    /** Translated address; its bits under {@link #addrMask} are ignored. */
    public long translatedAddr;
    /** Page mask of the translation, e.g. {@code 0xfff} (the page is {@code addrMask + 1} bytes). */
    public long addrMask;
    /** Permissions, {@link #NONE} to {@link #RW}. */
    public int perm;

    /** Creates an empty entry (no target, no permission). */
    public IommuTlbEntry() {
    }

    /**
     * Creates a filled entry.
     *
     * @param targetAs the target address space
     * @param iova the IOMMU page's first address
     * @param translatedAddr the translated address
     * @param addrMask the page mask
     * @param perm the permissions
     */
    public IommuTlbEntry(AddressSpace targetAs, long iova, long translatedAddr, long addrMask, int perm) {
        this.targetAs = targetAs;
        this.iova = iova;
        this.translatedAddr = translatedAddr;
        this.addrMask = addrMask;
        this.perm = perm;
    }

    /** @return a copy of this entry */
    public IommuTlbEntry copy() {
        return new IommuTlbEntry(targetAs, iova, translatedAddr, addrMask, perm);
    }

    /** @return the last address of the IOMMU page ({@code iova + addrMask}, unsigned, may wrap) */
    public long iovaLast() {
        return iova + addrMask;
    }

    @Override
    public String toString() {
        return "IommuTlbEntry[iova=0x" + Long.toHexString(iova) + " -> 0x" + Long.toHexString(translatedAddr)
                + " mask=0x" + Long.toHexString(addrMask) + " perm=" + perm + " as="
                + (targetAs == null ? "none" : targetAs.name()) + "]";
    }
}
