package dev.guestmem.share;

import java.io.Serial;

/**
 * A server sent a layout with more or fewer descriptors than regions: the peer maps none of them
 * and closes every descriptor it received. The protocol passes exactly one per region, in region
 * order ({@link ShareProtocol}); any other count leaves no way to tell which descriptor backs which
 * region.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public final class DescriptorCountException extends ShareException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** Regions in the layout. */
    private final int regions;
    /** Descriptors received with it. */
    private final int descriptors;

    /**
     * Creates the exception.
     *
     * @param message who sent what, with both counts
     * @param regions regions in the layout
     * @param descriptors descriptors received with it
     */
    public DescriptorCountException(String message, int regions, int descriptors) {
        super(message);
        this.regions = regions;
        this.descriptors = descriptors;
    }

    /** @return how many regions the layout has */
    public int regions() {
        return regions;
    }

    /** @return how many descriptors came with the layout */
    public int descriptors() {
        return descriptors;
    }
}
