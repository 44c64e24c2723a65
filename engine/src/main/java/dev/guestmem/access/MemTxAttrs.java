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
 */
public record MemTxAttrs(boolean unspecified, boolean secure, boolean user, boolean memory, boolean debug,
                         int requesterId) {
    /** QEMU's {@code MEMTXATTRS_UNSPECIFIED}. */
    public static final MemTxAttrs UNSPECIFIED = new MemTxAttrs(true, false, false, false, false, 0);
    /** Plain attributes: specified, all flags clear. */
    public static final MemTxAttrs NONE = new MemTxAttrs(false, false, false, false, false, 0);
    /** A debugger access ({@code attrs.debug = 1}). */
    public static final MemTxAttrs DEBUG = new MemTxAttrs(false, false, false, false, true, 0);
}
