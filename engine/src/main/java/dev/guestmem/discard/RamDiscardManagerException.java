package dev.guestmem.discard;

import dev.guestmem.region.RegionException;

/**
 * A {@link RamDiscardManager} set-up call was refused: the region is not RAM, is mapped, already
 * has a manager; a section belongs to another region or lies outside it; a listener is registered
 * twice or was never registered; a block size does not fit. QEMU asserts in each case. As every
 * {@link RegionException}, nothing changed when it is thrown.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public final class RamDiscardManagerException extends RegionException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was wrong, with the values
     */
    public RamDiscardManagerException(String message) {
        super(message);
    }
}
