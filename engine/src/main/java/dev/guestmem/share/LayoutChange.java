package dev.guestmem.share;

import java.util.Objects;

/**
 * One change of a shared machine's layout, as a following peer is told of it
 * ({@link SharedMachine#attachFollowing}): a region plugged or unplugged.
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param kind plugged or unplugged
 * @param region the region as it was plugged, or as it was before it was unplugged
 */
public record LayoutChange(Kind kind, SharedRamRegion region) {
    /** What happened to the region. */
    public enum Kind {
        /** The region entered the layout (QEMU's {@code device_add}; vhost-user's {@code ADD_MEM_REG}). */
        PLUGGED,
        /** The region left the layout (QEMU's {@code device_del}; vhost-user's {@code REM_MEM_REG}). */
        UNPLUGGED
    }

    /** Checks the values. */
    public LayoutChange {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(region, "region");
    }
}
