package dev.guestmem.tlb;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.IommuRegion;
import java.lang.invoke.VarHandle;

/**
 * A TLB fill through IOMMUs ({@code address_space_translate_for_iotlb}'s loop): follows a guest
 * page through every IOMMU on the way to the memory behind it, narrowing the permissions, and makes
 * sure the entry is invalidated when any step changes (the IOMMU's UNMAP events, a target space's
 * publications) before it reads that step.
 *
 * <p><b>Thread safety.</b> Stateless; any thread. Registration of the invalidation hooks happens
 * before the translation it guards, with a full fence between, so an IOMMU model that changes a
 * mapping and then notifies either is seen by the walk or invalidates the entry.
 */
final class IommuPageWalk {
    private static final long PAGE = GuestTlb.PAGE_SIZE;

    private IommuPageWalk() {
    }

    /**
     * Fills {@code out} (pageAddr and generation already set) for guest page {@code page} of
     * {@code as}, whose page-level section {@code s} is an IOMMU.
     */
    static boolean fill(AddressSpace as, long page, MemTxAttrs attrs, PhysSection s, TlbEntry out) {
        out.window = DirectWindow.empty();
        long addr = page;
        int perm = IommuTlbEntry.RW;
        IommuTlbEntry e = new IommuTlbEntry();
        for (int hops = 0; (s.flags() & PhysSection.IOMMU) != 0; hops++) {
            if (hops == IommuRegion.MAX_CHAIN) { // a cycle of IOMMUs: the access path refuses it too
                out.flags = GuestTlb.TLB_INVALID | GuestTlb.TLB_MMIO;
                return false;
            }
            long off = addr - s.start();
            if (!GuestTlb.holdsPage(s, off)) {
                return slow(out); // the page runs past the IOMMU's section
            }
            IommuRegion iommu = (IommuRegion) s.region();
            IommuOps ops = iommu.iommuOps(); // once: context and translation from one model
            int idx = ops == null ? 0 : ops.attrsToIndex(attrs);
            if (!iommu.notifiers().watchForTlb(idx, as)) {
                return slow(out); // the model refused the notifier: nothing may be cached
            }
            if (iommu.iommuOps() != ops) { // replaced while the watch was set up: start again
                return GuestTlb.fill(as, out.pageAddr, attrs, out);
            }
            long xlat = off + s.offsetWithinRegion();
            e.targetAs = null;
            e.perm = IommuTlbEntry.NONE;
            e.pasid = 0;
            if (ops != null) {
                ops.translate(xlat, IommuTlbEntry.NONE, idx, e);
            }
            perm &= e.perm; // RW bits only: EXEC, PRIV, GLOBAL and the rest do not decide an access (QEMU)
            if (perm == IommuTlbEntry.NONE || e.targetAs == null) {
                out.flags = GuestTlb.TLB_INVALID | GuestTlb.TLB_MMIO; // QEMU: the unassigned section
                return false;
            }
            long mask = e.addrMask;
            if (Long.compareUnsigned(mask, PAGE - 1) < 0
                    || Long.compareUnsigned(xlat & mask, mask - (PAGE - 1)) > 0) {
                return slow(out); // the TLB page is not inside one IOMMU page
            }
            addr = (e.translatedAddr & ~mask) | (xlat & mask);
            AddressSpace target = e.targetAs;
            if (target != as && !target.hasTranslationDependent(as)) {
                target.addTranslationDependent(as);
                VarHandle.fullFence(); // registered before the target's table is read
            }
            s = target.dispatch().physPageFind(addr);
        }
        long off = addr - s.start();
        out.subpage = s.subpage() != null; // TCG reaches the target's subpage region: its pieces take the buffer rules
        boolean direct = GuestTlb.describe(s, off, perm, out);
        if (out.segment != null) {
            out.window = s.window().slice(off, PAGE, out.pageAddr, (perm & IommuTlbEntry.RO) != 0,
                    (perm & IommuTlbEntry.WO) != 0);
        }
        return direct;
    }

    private static boolean slow(TlbEntry out) {
        out.flags = GuestTlb.TLB_MMIO | GuestTlb.TLB_READONLY;
        return false;
    }
}
