package dev.guestmem.scenario11;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.IommuRegion;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A VT-d/RISC-V-IOMMU-like model with page tables in guest RAM. One IOMMU region serves every
 * requester: {@link #attrsToIndex} picks a context from the requester ID and the PASID
 * ({@link MemTxAttrs#pid()}, as QEMU's RISC-V IOMMU); unknown requesters, PASIDs out of range and
 * unspecified attributes get the {@link #BLOCKED} context, which translates nothing.
 *
 * <p>Tables: a directory of one u64 per context at {@code dirBase} (bit 0 valid, bits 12.. the
 * level-1 table); a level-1 table of 512 u64 (bit 0 valid, bits 12.. a level-0 table), each
 * covering 2 MiB; level-0 PTEs (bit 0 read, bit 1 write, bits 12..63 the page, any 64-bit address).
 * Each context covers {@link #IOVA_SPACE}.
 *
 * <p>The model has an IOTLB of its own, as hardware does: a cached PTE is used until the guest
 * invalidates. An entry carries the context's generation when its walk began, so a walk racing an
 * invalidation never leaves a stale entry behind. Invalidations ({@link #invalidate}) run on the
 * guest's thread, serialised as an invalidation queue: bump the generation (the IOTLB is flushed),
 * tell UNMAP, re-announce what is still mapped in the range (caching mode: MAP notifiers keep a
 * shadow), then DEVIOTLB_UNMAP, whose device notifiers return only once no DMA of theirs still uses
 * an old translation; when {@link #invalidate} returns, the invalidation is complete.
 */
final class PasidIommu implements IommuOps {
    static final int PASIDS = 4;
    static final int[] REQUESTERS = {0x0100, 0x0108};
    static final int CONTEXTS = REQUESTERS.length * PASIDS;
    static final int BLOCKED = CONTEXTS;
    static final long IOVA_SPACE = 1L << 30;
    static final long PAGE = 4096;
    private static final MemTxAttrs CPU = MemTxAttrs.UNSPECIFIED;

    private final AddressSpace memory;
    private final long dirBase;
    private final AtomicLongArray generation = new AtomicLongArray(CONTEXTS + 1);
    /** key: context << 32 | iova page number; value: {generation, pte}. */
    private final ConcurrentHashMap<Long, long[]> iotlb = new ConcurrentHashMap<>();
    final AtomicLong invalidations = new AtomicLong();
    IommuRegion region;

    PasidIommu(AddressSpace memory, long dirBase) {
        this.memory = memory;
        this.dirBase = dirBase;
    }

    static int context(int requesterId, int pid) {
        for (int slot = 0; slot < REQUESTERS.length; slot++) {
            if (REQUESTERS[slot] == requesterId) {
                return pid >= 0 && pid < PASIDS ? slot * PASIDS + pid : BLOCKED;
            }
        }
        return BLOCKED;
    }

    @Override
    public int attrsToIndex(MemTxAttrs attrs) {
        return attrs.unspecified() ? BLOCKED : context(attrs.requesterId(), attrs.pid());
    }

    @Override
    public int numIndexes() {
        return CONTEXTS + 1;
    }

    @Override
    public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
        out.iova = addr & ~(PAGE - 1);
        out.addrMask = PAGE - 1;
        if (iommuIdx >= CONTEXTS || Long.compareUnsigned(addr, IOVA_SPACE) >= 0) {
            return;
        }
        out.pasid = iommuIdx % PASIDS;
        long pte = lookup(iommuIdx, addr >>> 12);
        if ((pte & 3) != 0) {
            out.targetAs = memory;
            out.translatedAddr = pte & ~(PAGE - 1);
            out.perm = (int) (pte & 3);
        }
    }

    private long lookup(int ctx, long pfn) {
        Long key = (long) ctx << 32 | pfn;
        long gen = generation.get(ctx);
        long[] cached = iotlb.get(key);
        if (cached != null && cached[0] == gen) {
            return cached[1];
        }
        long pte = walk(ctx, pfn);
        if ((pte & 3) != 0) {
            iotlb.put(key, new long[] {gen, pte});
        }
        return pte;
    }

    /** The PTE of {@code pfn} in context {@code ctx}, 0 where a table read fails or an entry is invalid. */
    long walk(int ctx, long pfn) {
        MemTxResultHolder res = new MemTxResultHolder();
        long root = memory.ldqLe(dirBase + ctx * 8L, CPU, res);
        if (res.get() != MemTxResult.OK || (root & 1) == 0) {
            return 0;
        }
        long l1 = memory.ldqLe((root & ~(PAGE - 1)) + (pfn >>> 9) * 8, CPU, res);
        if (res.get() != MemTxResult.OK || (l1 & 1) == 0) {
            return 0;
        }
        long pte = memory.ldqLe((l1 & ~(PAGE - 1)) + (pfn & 511) * 8, CPU, res);
        return res.get() == MemTxResult.OK ? pte : 0;
    }

    private IommuTlbEntry entryOf(int ctx, long pfn, long pte) {
        return new IommuTlbEntry(memory, pfn << 12, pte & ~(PAGE - 1), PAGE - 1, (int) (pte & 3), ctx % PASIDS);
    }

    /** What is mapped in {@code [firstPfn, firstPfn + pages)} of {@code ctx}, walked level by level. */
    private void forEachMapped(int ctx, long firstPfn, long pages, java.util.function.BiConsumer<Long, Long> pfnPte) {
        MemTxResultHolder res = new MemTxResultHolder();
        long root = memory.ldqLe(dirBase + ctx * 8L, CPU, res);
        if (res.get() != MemTxResult.OK || (root & 1) == 0) {
            return;
        }
        long end = firstPfn + pages;
        for (long pfn = firstPfn; pfn < end;) {
            long l1 = memory.ldqLe((root & ~(PAGE - 1)) + (pfn >>> 9) * 8, CPU, res);
            long tableEnd = Math.min(end, (pfn | 511) + 1);
            if (res.get() == MemTxResult.OK && (l1 & 1) != 0) {
                for (; pfn < tableEnd; pfn++) {
                    long pte = memory.ldqLe((l1 & ~(PAGE - 1)) + (pfn & 511) * 8, CPU, res);
                    if (res.get() == MemTxResult.OK && (pte & 3) != 0) {
                        pfnPte.accept(pfn, pte);
                    }
                }
            }
            pfn = tableEnd;
        }
    }

    /**
     * An invalidation descriptor: {@code pages} pages (a power of two, aligned) from {@code iova} of
     * context {@code ctx}. Complete when it returns.
     */
    synchronized void invalidate(int ctx, long iova, long pages) {
        invalidations.incrementAndGet();
        generation.incrementAndGet(ctx);
        IommuTlbEntry range = new IommuTlbEntry(memory, iova, 0, pages * PAGE - 1, IommuTlbEntry.NONE, ctx % PASIDS);
        region.notifiers().notify(ctx, IommuNotifier.UNMAP, range);
        forEachMapped(ctx, iova >>> 12, pages, (pfn, pte) ->
                region.notifiers().notify(ctx, IommuNotifier.MAP, entryOf(ctx, pfn, pte)));
        region.notifiers().notify(ctx, IommuNotifier.DEVIOTLB_UNMAP, range);
    }

    /** A context-wide invalidation. */
    void invalidateContext(int ctx) {
        invalidate(ctx, 0, IOVA_SPACE / PAGE);
    }

    /** A global invalidation: every context. */
    void invalidateAll() {
        for (int ctx = 0; ctx < CONTEXTS; ctx++) {
            invalidateContext(ctx);
        }
    }

    @Override
    public void replay(IommuRegion iommu, IommuNotifier notifier) {
        int ctx = notifier.iommuIdx();
        if (ctx >= CONTEXTS) {
            return;
        }
        forEachMapped(ctx, 0, IOVA_SPACE / PAGE, (pfn, pte) -> notifier.notifyOne(IommuNotifier.MAP, entryOf(ctx, pfn, pte)));
    }
}
