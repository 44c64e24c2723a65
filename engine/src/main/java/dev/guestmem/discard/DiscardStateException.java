package dev.guestmem.discard;

import dev.guestmem.region.RegionException;

/**
 * A plug or unplug of a range that is not entirely in the opposite state: plugging blocks of which
 * some are plugged, unplugging blocks of which some are not (virtio-mem answers
 * {@code VIRTIO_MEM_RESP_ERROR}). Nothing changed when it is thrown.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public final class DiscardStateException extends RegionException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was wrong, with the range
     */
    public DiscardStateException(String message) {
        super(message);
    }
}
