package dev.guestmem.tlb;

import dev.guestmem.access.AddressSpace;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A runnable soft TLB as a JIT would generate it: 256 direct-mapped entries per vCPU, a tag and
 * generation compare on the hit path, the address space's accessors on a miss or for MMIO.
 * {@code SoftTlbExampleTest} runs it against the address space. This is the code the P3 benchmark
 * measures.
 */
final class SoftTlbExample {
    private static final int BITS = 8;
    private static final int MASK = (1 << BITS) - 1;
    private static final long PAGE_MASK = ~(GuestTlb.PAGE_SIZE - 1);
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;

    private final AddressSpace as;
    private final TlbEntry[] entries = new TlbEntry[1 << BITS];
    long fills;

    SoftTlbExample(AddressSpace as) {
        this.as = as;
        for (int i = 0; i < entries.length; i++) {
            entries[i] = new TlbEntry();
        }
    }

    private TlbEntry lookup(long addr) {
        TlbEntry e = entries[(int) (addr >>> 12) & MASK];
        if (e.pageAddr != (addr & PAGE_MASK) || e.generation != as.generation()) {
            GuestTlb.fill(as, addr, e);
            fills++;
        }
        return e;
    }

    /** A 4-byte little-endian guest load (aligned accesses never cross a page). */
    int ldl(long addr) {
        TlbEntry e = lookup(addr);
        if (e.readDirect()) {
            MemorySegment seg = e.segment;
            try {
                return seg.get(INT, e.hostOffset + (addr & ~PAGE_MASK));
            } catch (IllegalStateException | InternalError gone) {
                // block released or SIGBUS after the generation check: slow path decides
            }
        }
        return as.ldl(addr);
    }

    /** A 4-byte guest store. */
    void stl(long addr, int v) {
        TlbEntry e = lookup(addr);
        if (e.writeDirect()) {
            try {
                e.segment.set(INT, e.hostOffset + (addr & ~PAGE_MASK), v);
                return;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        }
        if ((e.flags & GuestTlb.TLB_DISCARD_WRITE) != 0) {
            return; // ROM or RAM a read-only alias shows: TCG drops CPU stores there
        }
        as.stl(addr, v);
    }
}
