/**
 * Guest RAM: QEMU's {@code RAMBlock} and {@code ram_list}.
 *
 * <p>A {@link dev.guestmem.ram.RamBlock} is host memory mapped through FFM from anonymous memory, a
 * memfd, a file or a caller's fd ({@link dev.guestmem.ram.RamBlockBuilder}), owned by a shared
 * {@code Arena} so a release waits for accesses in flight and later accesses fail cleanly. A
 * {@link dev.guestmem.ram.RamList} places a system's blocks in one ram_addr space and tells
 * {@link dev.guestmem.ram.RamBlockNotifier}s of changes. File- and fd-backed blocks can raise SIGBUS:
 * {@code dev.guestmem.internal.SigbusFence} and {@link dev.guestmem.ram.FaultProneHold} keep that from
 * escaping as an error the caller cannot catch.
 */
package dev.guestmem.ram;
