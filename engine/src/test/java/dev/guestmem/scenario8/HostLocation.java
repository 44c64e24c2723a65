package dev.guestmem.scenario8;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import java.lang.foreign.MemorySegment;

/**
 * Where an address range of a space lives on the host, as a throughput measurer asks it before
 * comparing an engine copy with a raw {@code MemorySegment.copy}: found with the public
 * {@link AddressSpace#translate} and {@link PhysSection}, the only route the docs give.
 *
 * @param section the section serving the first byte
 * @param segment the host segment behind it, or null when it is not RAM
 * @param offset the offset in {@code segment} of the first byte
 * @param length how many bytes from there the same section serves (translate's {@code plen})
 */
record HostLocation(PhysSection section, MemorySegment segment, long offset, long length) {

    static HostLocation of(AddressSpace as, long addr, long len) {
        Translation t = new Translation();
        PhysSection s = as.translate(addr, len, false, MemTxAttrs.UNSPECIFIED, t);
        long off = s.segment() == null ? 0 : s.segmentOffset() + (t.xlat() - s.offsetWithinRegion());
        return new HostLocation(s, s.segment(), off, t.plen());
    }

    /** @return whether a read there is a plain copy from host memory: direct, and no SIGBUS fence */
    boolean directRead() {
        return (section.flags() & PhysSection.DIRECT_READ) != 0 && !faultProne();
    }

    /** @return whether a write there is a plain copy into host memory */
    boolean directWrite() {
        return (section.flags() & PhysSection.DIRECT_WRITE) != 0 && !faultProne();
    }

    boolean faultProne() {
        return (section.flags() & PhysSection.FAULT_PRONE) != 0;
    }

    /** @return the host address of the first byte (0 when not RAM) */
    long hostAddress() {
        return segment == null ? 0 : segment.address() + offset;
    }
}
