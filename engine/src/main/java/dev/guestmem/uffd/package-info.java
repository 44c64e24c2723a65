/**
 * Lazy restore of RAM with userfaultfd: {@link dev.guestmem.uffd.LazyRestore} registers blocks in
 * MISSING mode and hands the userfaultfd to a page server in another process
 * ({@link dev.guestmem.uffd.PageServerProcess}, {@link dev.guestmem.uffd.PageServerMain}), which
 * serves faults from a {@link dev.guestmem.uffd.PageSource}: a snapshot chain or a remote process
 * ({@link dev.guestmem.uffd.PageSourceServer}, postcopy style). See {@link dev.guestmem.uffd.LazyRestore}
 * for why the handler is out of process and what happens when it or its source dies.
 */
package dev.guestmem.uffd;
