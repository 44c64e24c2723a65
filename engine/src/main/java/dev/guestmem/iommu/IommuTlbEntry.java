package dev.guestmem.iommu;

import dev.guestmem.access.AddressSpace;

/**
 * One IOMMU translation, as QEMU's {@code IOMMUTLBEntry}: the IOMMU page at {@link #iova} (its
 * bits under {@link #addrMask} zero) maps to {@link #translatedAddr} in {@link #targetAs} with
 * {@link #perm} permissions, for the PCIe process address space {@link #pasid} (0 when the model
 * has none). {@link IommuOps#translate} fills one; a notification carries one.
 *
 * <p>As in QEMU, the access path looks only at the read and write bits ({@code perm & (1 << isWrite)}
 * in {@code address_space_translate_iommu}); {@link #EXEC}, {@link #PRIV}, {@link #GLOBAL},
 * {@link #UNTRANSLATED_ONLY} and {@link #pasid} are carried to notifiers as the model set them, for
 * device models (ATS, PRI) that read them.
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
    /** Instruction fetch allowed ({@code IOMMU_EXEC}, bit 2); not checked by the access path. */
    public static final int EXEC = 4;
    /** Privileged (supervisor) access allowed ({@code IOMMU_PRIV}, bit 3); not checked by the access path. */
    public static final int PRIV = 8;
    /** A global mapping, valid for every PASID ({@code IOMMU_GLOBAL}, bit 4); not checked by the access path. */
    public static final int GLOBAL = 16;
    /**
     * The device must not cache the translation and must send untranslated requests
     * ({@code IOMMU_UNTRANSLATED_ONLY}, bit 5: PCIe ATS); not checked by the access path.
     */
    public static final int UNTRANSLATED_ONLY = 32;

    /** Address space the translated address lies in (null: the translation failed). */
    public AddressSpace targetAs;
    /** First address of the IOMMU page, as an offset in the IOMMU region. */
    public long iova;
    /**
     * Translated address. For a natural page ({@code addrMask + 1} a power of two and {@link #iova}
     * aligned to it) its bits under {@link #addrMask} are ignored; an entry cropped to a notifier's
     * range (see {@link IommuNotifier#notifyOne}) is not one, and holds the exact address of
     * {@code iova}.
     */
    public long translatedAddr;
    /** Page mask of the translation, e.g. {@code 0xfff} (the page is {@code addrMask + 1} bytes). */
    public long addrMask;
    /** Permissions: {@link #NONE}, or a union of {@link #RO}, {@link #WO} and the bits above them. */
    public int perm;
    /** The PCIe PASID the translation is for ({@code IOMMUTLBEntry.pasid}, unsigned 32 bits), 0 if none. */
    public int pasid;

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
        this(targetAs, iova, translatedAddr, addrMask, perm, 0);
    }

    /**
     * Creates a filled entry for a PASID.
     *
     * @param targetAs the target address space
     * @param iova the IOMMU page's first address
     * @param translatedAddr the translated address
     * @param addrMask the page mask
     * @param perm the permissions
     * @param pasid the PASID, 0 if none
     */
    public IommuTlbEntry(AddressSpace targetAs, long iova, long translatedAddr, long addrMask, int perm, int pasid) {
        this.targetAs = targetAs;
        this.iova = iova;
        this.translatedAddr = translatedAddr;
        this.addrMask = addrMask;
        this.perm = perm;
        this.pasid = pasid;
    }

    /**
     * QEMU's {@code IOMMU_ACCESS_FLAG(r, w)}.
     *
     * @param read read allowed
     * @param write write allowed
     * @return {@link #RO}, {@link #WO}, {@link #RW} or {@link #NONE}
     */
    public static int accessFlag(boolean read, boolean write) {
        return (read ? RO : 0) | (write ? WO : 0);
    }

    /**
     * QEMU's {@code IOMMU_ACCESS_FLAG_FULL(r, w, x, p, g, uo)}.
     *
     * @param read read allowed
     * @param write write allowed
     * @param exec {@link #EXEC}
     * @param priv {@link #PRIV}
     * @param global {@link #GLOBAL}
     * @param untranslatedOnly {@link #UNTRANSLATED_ONLY}
     * @return the union of the bits
     */
    public static int accessFlagFull(boolean read, boolean write, boolean exec, boolean priv, boolean global,
                                     boolean untranslatedOnly) {
        return accessFlag(read, write) | (exec ? EXEC : 0) | (priv ? PRIV : 0) | (global ? GLOBAL : 0)
                | (untranslatedOnly ? UNTRANSLATED_ONLY : 0);
    }

    /** @return a copy of this entry */
    public IommuTlbEntry copy() {
        return new IommuTlbEntry(targetAs, iova, translatedAddr, addrMask, perm, pasid);
    }

    /**
     * The translated address of {@link #iova}: {@link #translatedAddr} without its bits under the
     * mask for a natural page, as it is for a cropped one (whose mask need not be a power of two
     * minus one, so masking would drop bits of the address).
     */
    long translatedStart() {
        boolean natural = ((addrMask + 1) & addrMask) == 0 && (iova & addrMask) == 0;
        return natural ? translatedAddr & ~addrMask : translatedAddr;
    }

    /** @return the last address of the IOMMU page ({@code iova + addrMask}, unsigned, may wrap) */
    public long iovaLast() {
        return iova + addrMask;
    }

    @Override
    public String toString() {
        return "IommuTlbEntry[iova=0x" + Long.toHexString(iova) + " -> 0x" + Long.toHexString(translatedAddr)
                + " mask=0x" + Long.toHexString(addrMask) + " perm=" + perm
                + (pasid != 0 ? " pasid=" + Integer.toUnsignedString(pasid) : "") + " as="
                + (targetAs == null ? "none" : targetAs.name()) + "]";
    }
}
