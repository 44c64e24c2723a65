package dev.guestmem.docs;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;

/** The soft TLB of docs/guide.md, verbatim between the tags; {@code GuideExamplesTest} runs it. */
final class GuideSoftTlb {
    // tag::tlb[]
    private static final int BITS = 8;                       // 256 entries, direct-mapped
    private static final long PAGE_MASK = ~(GuestTlb.PAGE_SIZE - 1);
    private final AddressSpace as;
    private final TlbEntry[] entries = new TlbEntry[1 << BITS];
    private long fills;

    GuideSoftTlb(AddressSpace as) {
        this.as = as;
        for (int i = 0; i < entries.length; i++) {
            entries[i] = new TlbEntry();
        }
    }

    private TlbEntry lookup(long addr) {
        TlbEntry e = entries[(int) (addr >>> 12) & ((1 << BITS) - 1)];
        if (e.pageAddr() != (addr & PAGE_MASK) || e.generation() != as.generation()) {
            GuestTlb.fill(as, addr, e);                      // slow path: refill, lock-free
            fills++;
        }
        return e;
    }

    int ldl(long addr) {                                     // aligned: never crosses a page
        TlbEntry e = lookup(addr);
        if (e.readDirect()) {
            try {
                return e.segment().get(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset() + (addr & ~PAGE_MASK));
            } catch (IllegalStateException | InternalError gone) {
                // block released, or SIGBUS, after the generation check: the slow path decides
            }
        }
        return as.ldl(addr);                                 // MMIO, unassigned, faults
    }

    void stl(long addr, int v) {
        TlbEntry e = lookup(addr);
        if (e.writeDirect()) {                               // not ROM, not logged, not code
            try {
                e.segment().set(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset() + (addr & ~PAGE_MASK), v);
                return;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        }
        if ((e.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
            return;                                          // ROM or read-only RAM: TCG drops it
        }
        as.stl(addr, v);                                     // dispatches or logs as QEMU does
    }
    // end::tlb[]

    long fills() {
        return fills;
    }
}
