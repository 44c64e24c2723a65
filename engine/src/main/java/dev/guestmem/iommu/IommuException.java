package dev.guestmem.iommu;

import dev.guestmem.region.RegionException;

/**
 * A refused IOMMU setup call: a malformed notifier, a registration the region or its model
 * refuses, an event that breaks QEMU's rules. When one is thrown nothing has changed.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public class IommuException extends RegionException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message what was wrong, with the values
     */
    public IommuException(String message) {
        super(message);
    }
}
