package dev.guestmem.docs;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/** The window-form soft TLB of docs/guide.md, verbatim between the tags; {@code GuideExamplesTest} runs it. */
final class GuideWindowTlb {
    // tag::window-tlb[]
    private final AddressSpace as;
    private final DirectWindow[] tlb = new DirectWindow[256]; // a power of two
    private final TlbEntry scratch = new TlbEntry();
    private long generation = -1;
    private long fills;

    GuideWindowTlb(AddressSpace as) {
        this.as = as;
        Arrays.fill(tlb, DirectWindow.empty());
    }

    /** At block entry, where the CPU loop polls its exit request: flush on a topology change. */
    void enterBlock() {
        long g = as.generation();
        if (g != generation) {
            Arrays.fill(tlb, DirectWindow.empty());
            generation = g;
        }
    }

    int ldl(long addr) {
        DirectWindow[] t = tlb;
        int idx = (int) (addr >>> 12) & (t.length - 1);      // C2 drops the array bounds check
        DirectWindow w = t[idx];
        long off = addr - w.start();
        MemorySegment ram = w.read();
        long limit = ram.byteSize() - 3;                     // the segment's own test for 4 bytes
        if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
            try {
                return ram.get(ValueLayout.JAVA_INT_UNALIGNED, off);  // the hit: no tag, no flags
            } catch (IllegalStateException | InternalError gone) {
                // block released or SIGBUS after the check: the slow path decides
            }
        } else if (GuestTlb.fill(as, addr, scratch) && scratch.generation() == generation) {
            t[idx] = scratch.window();                       // the section's window: no copy
            fills++;
        }
        return as.ldl(addr);                                 // misses, MMIO, faults
    }

    void stl(long addr, int v) {
        DirectWindow[] t = tlb;
        int idx = (int) (addr >>> 12) & (t.length - 1);
        DirectWindow w = t[idx];
        long off = addr - w.start();
        MemorySegment ram = w.write();                       // empty for ROM, logged, read-only
        long limit = ram.byteSize() - 3;
        if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
            try {
                ram.set(ValueLayout.JAVA_INT_UNALIGNED, off, v);
                return;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        } else if (storeLogged(w, off, v)) {
            return;
        } else {
            boolean direct = GuestTlb.fill(as, addr, scratch);
            if ((scratch.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
                return;                                      // ROM or read-only RAM: TCG drops it
            }
            if (direct && scratch.generation() == generation) {
                t[idx] = scratch.window();
                fills++;
            }
        }
        as.stl(addr, v);                                     // dispatches or logs as QEMU does
    }

    /** Dirty-logged RAM (migration, VGA, or every page under TCG's CODE client): store, then mark. */
    private static boolean storeLogged(DirectWindow w, long off, int v) {
        MemorySegment ram = w.loggedWrite();                 // empty unless the section is logged
        long limit = ram.byteSize() - 3;
        if (limit < 0 || Long.compareUnsigned(off, limit) >= 0) {
            return false;
        }
        try {
            ram.set(ValueLayout.JAVA_INT_UNALIGNED, off, v);
        } catch (IllegalStateException | InternalError gone) {
            return false;                                    // as.stl decides
        }
        w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 4, w.dirtyMask()); // + code invalidation
        return true;
    }
    // end::window-tlb[]

    long fills() {
        return fills;
    }
}
