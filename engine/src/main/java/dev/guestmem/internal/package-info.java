/**
 * Seams between the engine's own packages that are no part of its API: this package is not
 * exported by the module. {@link dev.guestmem.internal.SystemInternals} is what region and discard
 * code asks of its {@link dev.guestmem.MemorySystem} (a region change's bookkeeping, a lookup
 * without a reference, a multi-call dirty-log operation run as one notification);
 * {@link dev.guestmem.internal.SigbusFence} is the SIGBUS fence of the access, RAM, snapshot,
 * userfaultfd and RAM-device code.
 */
package dev.guestmem.internal;
