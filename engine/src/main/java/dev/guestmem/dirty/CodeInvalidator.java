package dev.guestmem.dirty;

/**
 * User hook called when a write hits pages whose CODE client bit is clean, that is pages that may
 * hold translated guest code (QEMU's {@code tb_invalidate_phys_range} from {@code
 * invalidate_and_set_dirty}). A JIT emulator registers one to drop its translations of the range.
 *
 * <p>CODE is inverted in meaning: "clean" = the page has translations and writes must invalidate
 * them. Once a page has no translations left, the hook should mark it dirty for CODE with {@link
 * DirtyMemory#setDirtyRange(long, long, int)} and {@link DirtyMemory#MASK_CODE} (QEMU's
 * {@code tlb_unprotect_code}), so later writes to it take the fast path again; when the emulator
 * translates code from a page it clears CODE with {@link DirtyMemory#resetDirty}.
 *
 * <p><b>Thread safety.</b> Called on the writing thread, possibly from several threads at once,
 * without any lock held by {@link DirtyMemory}.
 */
@FunctionalInterface
public interface CodeInvalidator {
    /**
     * Drops translations of guest code in a ram_addr range.
     *
     * @param ramAddr first byte written (ram_addr space)
     * @param length bytes written
     */
    void invalidateCode(long ramAddr, long length);
}
