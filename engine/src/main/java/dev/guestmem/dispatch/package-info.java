/**
 * The lookup tables behind an address space: QEMU's {@code AddressSpaceDispatch}.
 *
 * <p>{@link dev.guestmem.dispatch.AddressSpaceDispatch} is built per flat view: a radix page map
 * ({@link dev.guestmem.dispatch.PhysPageMap}: 4 KiB pages, 9 bits a level, skip compaction, nodes in
 * flat arrays read through {@code VarHandle}s) whose leaves name
 * {@link dev.guestmem.dispatch.PhysSection}s, {@link dev.guestmem.dispatch.Subpage} tables for pages
 * shared by several sections, and the MRU-section shortcut. Every directly accessible section has
 * its immutable {@link dev.guestmem.dispatch.DirectWindow} (guest start plus read and write slices),
 * which the access fast path and soft TLBs cache.
 */
package dev.guestmem.dispatch;
