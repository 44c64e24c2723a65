package dev.guestmem.access;

/**
 * The answer of an IOMMU translation, as QEMU's {@code IOMMUTLBEntry}: the target address space,
 * the translated page ({@code translatedAddr & ~addrMask}), the page mask and the permissions.
 *
 * <p><b>Thread safety.</b> None: a reusable out-parameter owned by one translating thread.
 */
public final class IommuTlbEntry {
    /** No access ({@code IOMMU_NONE}). */
    public static final int NONE = 0;
    /** Read allowed ({@code IOMMU_RO}, bit 0: {@code 1 << is_write} with is_write false). */
    public static final int RO = 1;
    /** Write allowed ({@code IOMMU_WO}). */
    public static final int WO = 2;
    /** Read and write ({@code IOMMU_RW}). */
    public static final int RW = 3;

    /** Address space the translated address lies in. */
    public AddressSpace targetAs;
    /** Translated address; its bits under {@link #addrMask} are ignored. */
    public long translatedAddr;
    /** Page mask of the translation, e.g. {@code 0xfff}. */
    public long addrMask;
    /** Permissions, {@link #NONE} to {@link #RW}. */
    public int perm;

    /** Creates an empty entry (no permission). */
    public IommuTlbEntry() {
    }
}
