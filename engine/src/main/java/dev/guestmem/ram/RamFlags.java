package dev.guestmem.ram;

/**
 * QEMU's {@code RAM_*} block flags ({@code include/system/memory.h}) with QEMU's bit values, for
 * callers that translate QEMU command lines ({@code share=on}, {@code readonly=on},
 * {@code reserve=off}) into {@link RamBlockBuilder#flags(int)}. The builder's named methods set
 * the same bits.
 *
 * <p><b>Thread safety.</b> Constants only.
 */
public final class RamFlags {
    /** Host memory was supplied by the caller and is not freed with the block ({@code RAM_PREALLOC}). */
    public static final int PREALLOC = 1;
    /** {@code MAP_SHARED}: other mappers of the fd see the writes ({@code RAM_SHARED}). */
    public static final int SHARED = 1 << 1;
    /** Used length may change up to the max length ({@code RAM_RESIZEABLE}). */
    public static final int RESIZEABLE = 1 << 2;
    /** Reserve no swap space for the mapping ({@code RAM_NORESERVE}, {@code MAP_NORESERVE}). */
    public static final int NORESERVE = 1 << 7;
    /** The mapping is read-only ({@code RAM_READONLY}, {@code PROT_READ} only). */
    public static final int READONLY = 1 << 10;
    /** The backing file is opened read-only ({@code RAM_READONLY_FD}). */
    public static final int READONLY_FD = 1 << 11;

    /** Bits a caller may pass to {@link RamBlockBuilder#flags(int)}; {@link #PREALLOC} is implied by host-memory backends. */
    public static final int ALLOWED = SHARED | RESIZEABLE | NORESERVE | READONLY | READONLY_FD;

    private RamFlags() {
    }

    /**
     * Renders flags as QEMU's names joined by {@code |}, unknown bits in hex.
     *
     * @param flags the bits
     * @return text such as {@code "SHARED|READONLY"}, or {@code "0"}
     */
    public static String toString(int flags) {
        StringBuilder sb = new StringBuilder();
        String[] names = {"PREALLOC", "SHARED", "RESIZEABLE", null, null, null, null, "NORESERVE", null, null,
            "READONLY", "READONLY_FD"};
        int rest = flags;
        for (int bit = 0; bit < names.length; bit++) {
            if (names[bit] != null && (flags & (1 << bit)) != 0) {
                sb.append(sb.isEmpty() ? "" : "|").append(names[bit]);
                rest &= ~(1 << bit);
            }
        }
        if (rest != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("0x").append(Integer.toHexString(rest));
        }
        return sb.isEmpty() ? "0" : sb.toString();
    }
}
