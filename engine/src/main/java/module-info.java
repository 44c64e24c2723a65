/**
 * guestmem: QEMU's physical-memory API (regions, flat views, address spaces, dispatch, RAM
 * blocks, dirty logging) on the Foreign Function and Memory API.
 */
module dev.guestmem.engine {
    requires transitive dev.guestmem.linux;
    exports dev.guestmem.cli;
    exports dev.guestmem.dirty;
    exports dev.guestmem.ram;
    exports dev.guestmem.share;
    exports dev.guestmem.snapshot;
    exports dev.guestmem.uffd;
}
