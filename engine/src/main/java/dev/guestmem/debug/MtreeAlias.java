package dev.guestmem.debug;

import java.util.Objects;

/**
 * The alias part of an {@code info mtree} line: {@code alias NAME @TARGET TSTART-TEND}.
 *
 * <p><b>Thread safety.</b> Immutable.
 *
 * @param target the name of the aliased region
 * @param targetStart the alias offset (first byte shown of the target)
 * @param targetEnd {@code targetStart + size - 1} as QEMU prints it (unsigned, wraps)
 */
public record MtreeAlias(String target, long targetStart, long targetEnd) {
    /** Checks the target name. */
    public MtreeAlias {
        Objects.requireNonNull(target, "target");
    }
}
