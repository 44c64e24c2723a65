/**
 * Dirty memory logging, as QEMU's {@code ram_list.dirty_memory}: one bitmap per client (VGA, CODE,
 * MIGRATION) indexed by ram_addr page, split into fixed-size blocks that grow and never shrink,
 * with lock-free atomic set/test and snapshot-and-clear.
 *
 * <p>Entry point: {@link dev.guestmem.dirty.DirtyMemory}. Snapshots: {@link
 * dev.guestmem.dirty.DirtyBitmapSnapshot}. Self-modifying-code hook: {@link
 * dev.guestmem.dirty.CodeInvalidator}.
 */
package dev.guestmem.dirty;
