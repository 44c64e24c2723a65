package dev.guestmem.scenario5;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The soft TLB of the guide's "window form" (docs/guide.md section 4): stores hit a cached
 * {@link DirectWindow}; a logged page stores through {@code loggedWrite()} and marks the bytes,
 * everything else goes to the address space. One generation covers the TLB, checked at block entry.
 */
final class WindowTlbCpu {
    private final AddressSpace as;
    private final DirectWindow[] tlb = new DirectWindow[256];
    private final TlbEntry scratch = new TlbEntry();
    private long generation = -1;
    private long directStores;
    private long loggedStores;
    private long slowStores;

    WindowTlbCpu(AddressSpace as) {
        this.as = as;
        Arrays.fill(tlb, DirectWindow.empty());
    }

    /** Where the CPU loop polls its exit request: flush on a topology change. */
    void enterBlock() {
        long g = as.generation();
        if (g != generation) {
            Arrays.fill(tlb, DirectWindow.empty());
            generation = g;
        }
    }

    void stl(long addr, int v) {
        DirectWindow[] t = tlb;
        int idx = (int) (addr >>> 12) & (t.length - 1);
        DirectWindow w = t[idx];
        long off = addr - w.start();
        MemorySegment ram = w.write();
        long limit = ram.byteSize() - 3;
        if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
            try {
                ram.set(ValueLayout.JAVA_INT_UNALIGNED, off, v);
                directStores++;
                return;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        } else if (storeLogged(w, off, v)) {
            loggedStores++;
            return;
        } else if (GuestTlb.fill(as, addr, scratch) && scratch.generation() == generation) {
            t[idx] = scratch.window();
        }
        slowStores++;
        as.stl(addr, v);
    }

    private static boolean storeLogged(DirectWindow w, long off, int v) {
        MemorySegment ram = w.loggedWrite();
        long limit = ram.byteSize() - 3;
        if (limit < 0 || Long.compareUnsigned(off, limit) >= 0) {
            return false;
        }
        try {
            ram.set(ValueLayout.JAVA_INT_UNALIGNED, off, v);
        } catch (IllegalStateException | InternalError gone) {
            return false;
        }
        w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 4, w.dirtyMask());
        return true;
    }

    long directStores() {
        return directStores;
    }

    long loggedStores() {
        return loggedStores;
    }

    long slowStores() {
        return slowStores;
    }
}
