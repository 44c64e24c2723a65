package dev.guestmem.share;

/**
 * One shared RAM block and where the guest sees it: the block's name, its guest-physical address
 * and its size. The block's bytes travel as a file descriptor next to this description.
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param name the block's name (QEMU's {@code idstr}), printable ASCII without spaces
 * @param guestAddr guest-physical address of its first byte (unsigned)
 * @param size bytes, at least 1
 */
public record SharedRamRegion(String name, long guestAddr, long size) {
    /**
     * Checks the values.
     *
     * @throws IllegalArgumentException if the name is empty or has spaces or non-printable
     *     characters, the size is not positive, or the region passes 2^64
     */
    public SharedRamRegion {
        if (name == null || name.isEmpty() || !name.chars().allMatch(c -> c > ' ' && c < 127)) {
            throw new IllegalArgumentException("region name '" + name + "' must be printable ASCII without spaces");
        }
        if (size <= 0) {
            throw new IllegalArgumentException("region '" + name + "' size 0x" + Long.toHexString(size) + " must be > 0");
        }
        if (Long.compareUnsigned(guestAddr + size - 1, guestAddr) < 0) {
            throw new IllegalArgumentException("region '" + name + "' at 0x" + Long.toHexString(guestAddr) + " size 0x"
                    + Long.toHexString(size) + " passes 2^64");
        }
    }
}
