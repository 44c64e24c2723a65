package dev.guestmem.scenario7;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;

/**
 * A vCPU's soft TLB for one address space, in the entry form of the guide (section 4): a
 * direct-mapped table of {@link TlbEntry}s checked against the address space generation on every
 * access; direct loads where {@code readDirect()}, direct stores where {@code writeDirect()}, stores
 * to {@code TLB_DISCARD_WRITE} pages dropped as TCG does, everything else through the address space.
 */
final class SoftTlbCpu {
    private static final int BITS = 6;
    private static final long PAGE_MASK = ~(GuestTlb.PAGE_SIZE - 1);

    private final AddressSpace as;
    private final TlbEntry[] entries = new TlbEntry[1 << BITS];
    long directLoads;
    long directStores;
    long discardedStores;
    long slowAccesses;

    SoftTlbCpu(AddressSpace as) {
        this.as = as;
        for (int i = 0; i < entries.length; i++) {
            entries[i] = new TlbEntry();
        }
    }

    /** The entry for {@code addr}, refilled when its page or the generation differs. */
    TlbEntry lookup(long addr) {
        TlbEntry e = entries[(int) (addr >>> 12) & ((1 << BITS) - 1)];
        if (e.pageAddr() != (addr & PAGE_MASK) || e.generation() != as.generation()) {
            GuestTlb.fill(as, addr, e);
        }
        return e;
    }

    /** An aligned 8-byte load. */
    long ldq(long addr) {
        TlbEntry e = lookup(addr);
        if (e.readDirect()) {
            try {
                long v = e.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, e.hostOffset() + (addr & ~PAGE_MASK));
                directLoads++;
                return v;
            } catch (IllegalStateException | InternalError gone) {
                // released after the generation check: the slow path decides
            }
        }
        slowAccesses++;
        return as.ldqLe(addr);
    }

    /** An aligned 8-byte store. */
    void stq(long addr, long v) {
        TlbEntry e = lookup(addr);
        if ((e.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
            discardedStores++; // RAM the view makes read-only (ROM, a PAM read-only segment)
            return;
        }
        if (e.writeDirect()) {
            try {
                e.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, e.hostOffset() + (addr & ~PAGE_MASK), v);
                directStores++;
                return;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        }
        slowAccesses++;
        as.stqLe(addr, v); // MMIO, ROM device commands, logged or code pages
    }
}
