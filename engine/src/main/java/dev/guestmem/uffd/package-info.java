/**
 * Lazy restore of RAM with userfaultfd: {@link dev.guestmem.uffd.LazyRestore} registers blocks in
 * MISSING mode and hands the userfaultfd to a page server in another process
 * ({@link dev.guestmem.uffd.PageServerProcess}, {@link dev.guestmem.uffd.PageServerMain}), which
 * serves faults from a {@link dev.guestmem.uffd.PageSource}: a snapshot chain or a remote process
 * ({@link dev.guestmem.uffd.PageSourceServer}, postcopy style). The server checks its source before
 * the guest touches any block, so a start it refuses changes nothing. See {@link dev.guestmem.uffd.LazyRestore}
 * for why the handler is out of process and what happens when it or its source dies.
 *
 * <h2>Handler death (ARCHITECTURE.md hazard 1)</h2>
 * A guest thread waiting on a missing page is "in Java" to its JVM; a safepoint requested then
 * (any GC) stops every other Java thread of the guest until that fault is resolved. So no Java
 * thread of the guest JVM may be needed to resolve it, not even when the page server dies. Each
 * server is started with a <em>guardian</em> process ({@link dev.guestmem.uffd.GuardianMain}) that
 * receives, over SCM_RIGHTS, a duplicate of the userfaultfd, the registered ranges, and one end of a
 * socket pair whose only other holder is the server. The server's death, however it happens,
 * closes that pair: the guardian wakes from {@code poll}, poisons every page still missing
 * (UFFDIO_POISON per range, stepping over present pages on EEXIST) and stays the queue's reader
 * until the guest's watchdog has poisoned too and unregistered the ranges. The waiting threads
 * get SIGBUS, which the JVM raises as an {@code InternalError} at the access; the safepoint
 * completes. The guest's watchdog thread is the second line: it sees the server's socket close,
 * poisons too, and marks the restore BROKEN with the reason (including the guardian's report).
 * Proof: {@code LazyRestoreTest} kills the server with SIGKILL while one thread waits on a fault
 * and another runs {@code System.gc()} in a loop, in a child JVM; with the guardian made inert
 * (test hook {@code guestmem.uffd.test.inertGuardian}) that same scenario hangs the child JVM.
 * If the guardian dies first, the restore reports it ({@link dev.guestmem.uffd.LazyRestore#guardianLost()},
 * stderr) and keeps running with the watchdog alone, which a pending safepoint can hold: the
 * hazard is back until the restore is finished or closed.
 */
package dev.guestmem.uffd;
