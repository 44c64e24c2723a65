package dev.guestmem.debug;

/**
 * The type column of an {@code info mtree} line, in the annotated dialect's vocabulary: QEMU prints
 * {@link #IO} for pure containers too, the annotated dialect prints {@link #CONTAINER} for them.
 * The {@code nv-} prefix is kept apart (see {@link MtreeNode#nonvolatile()}).
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public enum MtreeType {
    /** {@code ram}: RAM. */
    RAM("ram"),
    /** {@code rom}: read-only RAM. */
    ROM("rom"),
    /** {@code romd}: a ROM device in ROMD mode. */
    ROMD("romd"),
    /** {@code ramd}: RAM device memory. */
    RAMD("ramd"),
    /** {@code i/o}: an MMIO region (in QEMU's own text also a pure container). */
    IO("i/o"),
    /** {@code container}: a pure container (annotated dialect only). */
    CONTAINER("container");

    private final String text;

    MtreeType(String text) {
        this.text = text;
    }

    /** @return the word as printed */
    public String text() {
        return text;
    }

    /** @return the word QEMU itself prints for this type ({@code i/o} for containers) */
    public String qemuText() {
        return this == CONTAINER ? IO.text : text;
    }

    /**
     * @param word a type word without {@code nv-}
     * @return the type, or null when the word is not one
     */
    public static MtreeType fromText(String word) {
        for (MtreeType t : values()) {
            if (t.text.equals(word)) {
                return t;
            }
        }
        return null;
    }
}
