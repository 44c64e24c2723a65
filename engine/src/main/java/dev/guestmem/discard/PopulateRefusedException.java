package dev.guestmem.discard;

import dev.guestmem.region.MemoryRegionSection;

/**
 * A {@link RamDiscardListener} objects to memory getting populated (QEMU's {@code notify_populate}
 * returning an error, e.g. VFIO failing to map it for DMA). Thrown by the listener; the manager then
 * tells the listeners it had already told that the part is discarded again, leaves the part
 * discarded and rethrows it to the caller of the plug (virtio-mem answers {@code VIRTIO_MEM_RESP_BUSY}).
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public class PopulateRefusedException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    /** The section that was refused (not serialised). */
    private final transient MemoryRegionSection section;

    /**
     * Creates an exception.
     *
     * @param section the section the listener was told about
     * @param reason why it refuses
     */
    public PopulateRefusedException(MemoryRegionSection section, String reason) {
        super(describe(section) + ": " + reason);
        this.section = section;
    }

    /**
     * Creates an exception with a cause (the listener's own failure).
     *
     * @param section the section the listener was told about
     * @param reason why it refuses
     * @param cause the underlying failure
     */
    public PopulateRefusedException(MemoryRegionSection section, String reason, Throwable cause) {
        super(describe(section) + ": " + reason, cause);
        this.section = section;
    }

    /** @return the section that was refused, or null after deserialisation */
    public MemoryRegionSection section() {
        return section;
    }

    private static String describe(MemoryRegionSection s) {
        if (s == null || s.isEmpty()) {
            return "populate refused";
        }
        return "populate of '" + s.region().name() + "' [0x" + Long.toHexString(s.offsetWithinRegion())
                + ", +0x" + Long.toHexString(s.size()) + ") refused";
    }
}
