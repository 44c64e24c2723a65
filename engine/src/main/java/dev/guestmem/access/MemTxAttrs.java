package dev.guestmem.access;

/**
 * Attributes of a memory transaction, as QEMU's {@code MemTxAttrs}. Immutable; create the few
 * combinations a device or CPU needs once and reuse them, so the access path allocates nothing.
 *
 * @param unspecified the bus master did not specify attributes
 * @param secure the access is in the secure world (Arm TrustZone)
 * @param user the access is unprivileged
 * @param memory the access must reach memory, not MMIO (Arm M-profile; non-RAM gives ACCESS_ERROR)
 * @param debug a debugger access: may write ROM (as QEMU's {@code cpu_memory_rw_debug}); like any write it is
 *        dirty-logged and invalidates translated code, and the re-entrancy guard still applies
 * @param requesterId PCI requester ID of the bus master
 * @param pid the PCIe PASID (process address space) of a DMA, QEMU's {@code pid} ("PID (PCI PASID)
 *        support"; 8 bits there): an IOMMU model selects its context from it in
 *        {@link dev.guestmem.iommu.IommuOps#attrsToIndex}, as QEMU's RISC-V IOMMU does; 0 when none
 */
public record MemTxAttrs(boolean unspecified, boolean secure, boolean user, boolean memory, boolean debug,
                         int requesterId, int pid) {
    /** QEMU's {@code MEMTXATTRS_UNSPECIFIED}. */
    public static final MemTxAttrs UNSPECIFIED = new MemTxAttrs(true, false, false, false, false, 0);
    /** Plain attributes: specified, all flags clear. */
    public static final MemTxAttrs NONE = new MemTxAttrs(false, false, false, false, false, 0);
    /** A debugger access ({@code attrs.debug = 1}). */
    public static final MemTxAttrs DEBUG = new MemTxAttrs(false, false, false, false, true, 0);

    /**
     * Attributes without a PASID ({@code pid} 0).
     *
     * @param unspecified the bus master did not specify attributes
     * @param secure the access is in the secure world
     * @param user the access is unprivileged
     * @param memory the access must reach memory, not MMIO
     * @param debug a debugger access
     * @param requesterId PCI requester ID of the bus master
     */
    public MemTxAttrs(boolean unspecified, boolean secure, boolean user, boolean memory, boolean debug,
                      int requesterId) {
        this(unspecified, secure, user, memory, debug, requesterId, 0);
    }

    /**
     * A PCI device's DMA attributes: specified, the device's requester ID and the PASID it tags the
     * transaction with (what a PASID-capable device hands every access it makes).
     *
     * @param requesterId the device's requester ID (bus, device, function)
     * @param pid the PASID, 0 for requests without one
     * @return the attributes
     */
    public static MemTxAttrs dma(int requesterId, int pid) {
        return new MemTxAttrs(false, false, false, false, false, requesterId, pid);
    }
}
