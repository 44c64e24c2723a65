package dev.guestmem.debug;

/**
 * The three tree dialects: QEMU's {@code info mtree}, {@code info mtree -D}, and the annotated
 * {@code -D} text of the fixtures (pure containers typed {@code container}, aliases that are
 * read-only by themselves marked {@code [readonly]}).
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public enum MtreeDialect {
    /** {@code info mtree}: disabled regions left out, their subregions still printed. */
    PLAIN,
    /** {@code info mtree -D}: disabled regions printed with {@code [disabled]}. */
    DISABLED,
    /** The {@code -D} text plus {@code container} types and {@code [readonly]} alias markers. */
    ANNOTATED
}
