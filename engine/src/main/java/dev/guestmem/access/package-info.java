/**
 * Address spaces and every way into guest memory: QEMU's {@code address_space_*} API.
 *
 * <p>Entry point: {@link dev.guestmem.access.AddressSpace}, made by
 * {@link dev.guestmem.MemorySystem#addressSpace}. It holds the current flat view and its dispatch
 * table and gives the ld/st family ({@link dev.guestmem.access.LoadStoreAccessors}: 1 to 8 bytes, three
 * byte orders), buffer {@code read}/{@code write}/{@code writeRom}/{@code set}, {@code translate}
 * through IOMMUs, DMA {@code map} ({@link dev.guestmem.access.DmaMapping}, direct or bounced) and
 * {@link dev.guestmem.access.MemoryRegionCache}. Results are {@link dev.guestmem.access.MemTxResult}
 * bits, read without allocation through {@link dev.guestmem.access.MemTxResultHolder}; attributes are
 * {@link dev.guestmem.access.MemTxAttrs}.
 *
 * <p>Readers never lock: a view and its table are immutable once published, and RAM released under
 * an access answers {@code ERROR} instead of touching unmapped memory (see the class javadoc of
 * {@link dev.guestmem.access.AddressSpace}).
 */
package dev.guestmem.access;
