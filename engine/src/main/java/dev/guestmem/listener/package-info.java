/**
 * Memory listeners: QEMU's {@code MemoryListener}. A {@link dev.guestmem.listener.MemoryListener}
 * registered with {@link dev.guestmem.MemorySystem#registerListener} hears every change of an address
 * space's flat view as {@code region_add}/{@code region_del}/{@code region_nop} and dirty-log calls,
 * in QEMU's order ({@link dev.guestmem.listener.TopologyDiff}); {@link dev.guestmem.listener.ListenerList}
 * keeps them in priority order.
 */
package dev.guestmem.listener;
