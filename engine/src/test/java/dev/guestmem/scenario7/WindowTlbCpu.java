package dev.guestmem.scenario7;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A vCPU's soft TLB in the guide's window form (section 4): one {@link DirectWindow} per slot, one
 * generation for the whole TLB, flushed at block entry; logged stores through {@code loggedWrite()}
 * and marked, stores to read-only RAM dropped on the fill's {@code TLB_DISCARD_WRITE}.
 */
final class WindowTlbCpu {
    private final AddressSpace as;
    private final DirectWindow[] tlb = new DirectWindow[64];
    private final TlbEntry scratch = new TlbEntry();
    private long generation = -1;

    WindowTlbCpu(AddressSpace as) {
        this.as = as;
        Arrays.fill(tlb, DirectWindow.empty());
    }

    /** At block entry (the exit check): flush on a topology change. */
    void enterBlock() {
        long g = as.generation();
        if (g != generation) {
            Arrays.fill(tlb, DirectWindow.empty());
            generation = g;
        }
    }

    long ldq(long addr) {
        int idx = (int) (addr >>> 12) & (tlb.length - 1);
        DirectWindow w = tlb[idx];
        long off = addr - w.start();
        MemorySegment ram = w.read();
        long limit = ram.byteSize() - 7;
        if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
            try {
                return ram.get(ValueLayout.JAVA_LONG_UNALIGNED, off);
            } catch (IllegalStateException | InternalError gone) {
                // the slow path decides
            }
        } else if (GuestTlb.fill(as, addr, scratch) && scratch.generation() == generation) {
            tlb[idx] = scratch.window();
        }
        return as.ldqLe(addr);
    }

    void stq(long addr, long v) {
        int idx = (int) (addr >>> 12) & (tlb.length - 1);
        DirectWindow w = tlb[idx];
        long off = addr - w.start();
        MemorySegment ram = w.write();
        long limit = ram.byteSize() - 7;
        if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
            try {
                ram.set(ValueLayout.JAVA_LONG_UNALIGNED, off, v);
                return;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        } else if (storeLogged(w, off, v)) {
            return;
        } else {
            boolean direct = GuestTlb.fill(as, addr, scratch);
            if ((scratch.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
                return; // ROM or read-only RAM: TCG drops it
            }
            if (direct && scratch.generation() == generation) {
                tlb[idx] = scratch.window();
            }
        }
        as.stqLe(addr, v);
    }

    private static boolean storeLogged(DirectWindow w, long off, long v) {
        MemorySegment ram = w.loggedWrite();
        long limit = ram.byteSize() - 7;
        if (limit < 0 || Long.compareUnsigned(off, limit) >= 0) {
            return false;
        }
        try {
            ram.set(ValueLayout.JAVA_LONG_UNALIGNED, off, v);
        } catch (IllegalStateException | InternalError gone) {
            return false;
        }
        w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 8, w.dirtyMask());
        return true;
    }
}
