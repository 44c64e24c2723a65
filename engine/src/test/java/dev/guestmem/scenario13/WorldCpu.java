package dev.guestmem.scenario13;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;

/**
 * A vCPU with one address space per world and a soft TLB per world (QEMU's TLB per MMU index, the
 * world being part of the index): world 0 is the normal one (non-secure, or x86 outside SMM),
 * world 1 the secure one (secure, or SMM). An entry is filled with the world's attributes from the
 * world's space ({@link GuestTlb#fill(AddressSpace, long, MemTxAttrs, TlbEntry)}: an IOMMU such as
 * the MPC picks its context from them) and checked against that space's generation, which moves
 * on every new view and on every UNMAP of an IOMMU the fill went through.
 *
 * <p>Loads and stores are 4 bytes, aligned; each returns or records the {@link MemTxResult} the
 * slow path gave (OK on a hit).
 */
final class WorldCpu {
    static final int NORMAL = 0;
    static final int SECURE = 1;
    private static final int BITS = 6;
    private static final long PAGE_MASK = ~(GuestTlb.PAGE_SIZE - 1);

    private final AddressSpace[] spaces;
    private final MemTxAttrs[] attrs;
    private final TlbEntry[][] tlb = new TlbEntry[2][1 << BITS];
    private final MemTxResultHolder res = new MemTxResultHolder();
    private int world = NORMAL;
    long fills;
    long hits;
    int lastResult;

    WorldCpu(AddressSpace normal, MemTxAttrs normalAttrs, AddressSpace secure, MemTxAttrs secureAttrs) {
        spaces = new AddressSpace[] {normal, secure};
        attrs = new MemTxAttrs[] {normalAttrs, secureAttrs};
        for (TlbEntry[] t : tlb) {
            for (int i = 0; i < t.length; i++) {
                t[i] = new TlbEntry();
            }
        }
    }

    void setWorld(int w) {
        world = w;
    }

    int world() {
        return world;
    }

    AddressSpace space() {
        return spaces[world];
    }

    MemTxAttrs attrs() {
        return attrs[world];
    }

    /** The entry this world's TLB holds for the page now (for tests that look inside). */
    TlbEntry entry(long addr) {
        return tlb[world][(int) (addr >>> 12) & ((1 << BITS) - 1)];
    }

    private TlbEntry lookup(long addr) {
        AddressSpace as = spaces[world];
        TlbEntry e = entry(addr);
        if (e.pageAddr() != (addr & PAGE_MASK) || e.generation() != as.generation()) {
            GuestTlb.fill(as, addr, attrs[world], e);
            fills++;
        } else {
            hits++;
        }
        return e;
    }

    int ldl(long addr) {
        TlbEntry e = lookup(addr);
        if (e.readDirect()) {
            try {
                lastResult = MemTxResult.OK;
                return e.segment().get(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset() + (addr & ~PAGE_MASK));
            } catch (IllegalStateException | InternalError gone) {
                // the slow path decides
            }
        }
        int v = spaces[world].ldlLe(addr, attrs[world], res);
        lastResult = res.get();
        return v;
    }

    int stl(long addr, int v) {
        TlbEntry e = lookup(addr);
        if (e.writeDirect()) {
            try {
                e.segment().set(ValueLayout.JAVA_INT_UNALIGNED, e.hostOffset() + (addr & ~PAGE_MASK), v);
                return lastResult = MemTxResult.OK;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        }
        if ((e.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
            return lastResult = MemTxResult.OK; // ROM: TCG drops the store
        }
        return lastResult = spaces[world].stlLe(addr, v, attrs[world]);
    }
}
