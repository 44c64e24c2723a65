/**
 * guestmem: QEMU's physical-memory API (regions, flat views, address spaces, dispatch, RAM
 * blocks, dirty logging) on the Foreign Function and Memory API.
 */
module dev.guestmem.engine {
    requires transitive dev.guestmem.linux;

    exports dev.guestmem;
    exports dev.guestmem.access;
    exports dev.guestmem.cli;
    exports dev.guestmem.debug;
    exports dev.guestmem.dirty;
    exports dev.guestmem.discard;
    exports dev.guestmem.dispatch;
    exports dev.guestmem.flat;
    exports dev.guestmem.iommu;
    exports dev.guestmem.ioeventfd;
    exports dev.guestmem.listener;
    exports dev.guestmem.mmio;
    exports dev.guestmem.ram;
    exports dev.guestmem.region;
    exports dev.guestmem.share;
    exports dev.guestmem.snapshot;
    exports dev.guestmem.tlb;
    exports dev.guestmem.uffd;
}
