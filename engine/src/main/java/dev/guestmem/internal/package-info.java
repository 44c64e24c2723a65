/**
 * Seams between the engine's own packages that are no part of its API: this package is not
 * exported by the module. {@link dev.guestmem.internal.OneNotification} lets region and discard
 * code run a multi-call dirty-log operation as one notification of its
 * {@link dev.guestmem.MemorySystem}.
 */
package dev.guestmem.internal;
