/**
 * Ioeventfds (QEMU's {@code memory_region_add_eventfd}): guest writes that signal an
 * {@link dev.guestmem.ioeventfd.EventNotifier} (a Linux eventfd) instead of calling a device.
 *
 * <p>A device model registers an eventfd on its MMIO region for a doorbell register (virtio's queue
 * notify is the classic case); a matching guest write then only signals the notifier, and a worker
 * thread, or another process that received the descriptor (a vhost-user backend), does the work. The
 * region keeps its eventfds in QEMU's order ({@link dev.guestmem.ioeventfd.IoeventfdList}); each address
 * space derives the guest-address list its listeners hear about
 * ({@link dev.guestmem.ioeventfd.AddressSpaceIoeventfds},
 * {@link dev.guestmem.listener.MemoryListener#eventfdAdd}).
 *
 * <p>Matching ({@link dev.guestmem.ioeventfd.Ioeventfd#matchesWrite}) is QEMU's: same offset, and
 * either the eventfd's size is 0 (any write there) or the same size and, if it matches data, the same
 * value in the device's byte order. The check runs after the device's {@code valid} rules and before
 * its re-entrancy guard, on every MMIO write path (loads and stores, buffer writes, region caches).
 */
package dev.guestmem.ioeventfd;
