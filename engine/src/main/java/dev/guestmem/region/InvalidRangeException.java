package dev.guestmem.region;

/**
 * An offset/size pair that does not fit: a subregion whose end passes 2^64, an alias window beyond
 * its target, a size that cannot be represented.
 */
public final class InvalidRangeException extends RegionException {
    private static final long serialVersionUID = 1L;
    private final long offset;
    private final long size;

    /**
     * Creates an exception.
     *
     * @param what what the range is (e.g. "subregion 'bar0' in 'pci'")
     * @param offset the offending offset (unsigned)
     * @param size the offending size ({@code -1L} = 2^64)
     * @param limit what it had to fit in
     */
    public InvalidRangeException(String what, long offset, long size, String limit) {
        super(what + ": offset 0x" + Long.toHexString(offset) + " size "
                + (size == -1L ? "2^64" : "0x" + Long.toHexString(size)) + " " + limit);
        this.offset = offset;
        this.size = size;
    }

    /** @return the offending offset */
    public long offset() {
        return offset;
    }

    /** @return the offending size ({@code -1L} = 2^64) */
    public long size() {
        return size;
    }
}
