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
 * @param requesterId PCI requester ID of the bus master, 16 bits (bus, device, function) as QEMU's
 *        {@code requester_id:16}
 * @param pid the PCIe PASID (process address space) of a DMA, QEMU's {@code pid} ("PID (PCI PASID)
 *        support"; 8 bits there, 20 bits in PCIe, which is the range taken here): an IOMMU model
 *        selects its context from it in {@link dev.guestmem.iommu.IommuOps#attrsToIndex}, as QEMU's
 *        RISC-V IOMMU does; 0 when none
 */
public record MemTxAttrs(boolean unspecified, boolean secure, boolean user, boolean memory, boolean debug,
                         int requesterId, int pid) {
    /** The largest requester ID: 16 bits. */
    public static final int MAX_REQUESTER_ID = 0xffff;
    /** The largest PASID: 20 bits, as PCIe's. */
    public static final int MAX_PID = 0xf_ffff;

    /** QEMU's {@code MEMTXATTRS_UNSPECIFIED}. */
    public static final MemTxAttrs UNSPECIFIED = new MemTxAttrs(true, false, false, false, false, 0);
    /** Plain attributes: specified, all flags clear. */
    public static final MemTxAttrs NONE = new MemTxAttrs(false, false, false, false, false, 0);
    /** A debugger access ({@code attrs.debug = 1}). */
    public static final MemTxAttrs DEBUG = new MemTxAttrs(false, false, false, false, true, 0);

    /**
     * Checks the fields' widths, so an IOMMU model's {@code attrsToIndex} never sees a requester ID or
     * PASID no bus could carry (a negative one, say, that would index its tables from the end).
     *
     * @throws IllegalArgumentException if {@code requesterId} is outside {@code [0, MAX_REQUESTER_ID]}
     *         or {@code pid} outside {@code [0, MAX_PID]}
     */
    public MemTxAttrs {
        if (requesterId < 0 || requesterId > MAX_REQUESTER_ID) {
            throw new IllegalArgumentException("requester ID 0x" + Integer.toHexString(requesterId)
                    + " does not fit 16 bits");
        }
        if (pid < 0 || pid > MAX_PID) {
            throw new IllegalArgumentException("PASID 0x" + Integer.toHexString(pid) + " does not fit 20 bits");
        }
    }

    /**
     * Attributes without a PASID ({@code pid} 0).
     *
     * @param unspecified the bus master did not specify attributes
     * @param secure the access is in the secure world
     * @param user the access is unprivileged
     * @param memory the access must reach memory, not MMIO
     * @param debug a debugger access
     * @param requesterId PCI requester ID of the bus master
     * @throws IllegalArgumentException if {@code requesterId} does not fit 16 bits
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
     * @throws IllegalArgumentException if {@code requesterId} does not fit 16 bits or {@code pid} 20
     */
    public static MemTxAttrs dma(int requesterId, int pid) {
        return new MemTxAttrs(false, false, false, false, false, requesterId, pid);
    }
}
