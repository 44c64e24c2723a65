package dev.guestmem.scenario11;

import dev.guestmem.access.AddressSpace;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The guest's IOMMU driver, one thread: maps free RAM pages at IOVA pages of every context (RW,
 * sometimes read-only), unmaps them in batches and invalidates (a page, an aligned range, the
 * context, or everything), and only after the invalidation completed takes the pages back: checks
 * that every word on them was written through the mapping they had (or is zero), writes a canary,
 * and before mapping a page again checks that the canary survived, so a DMA that reached a page
 * after its invalidation completed is caught. It publishes the IOVA pages it maps as hints for
 * the devices (which also aim at pages already unmapped: faults are part of the load).
 */
final class GuestDriver {
    static final int IOVA_PAGES = 1024;
    /** The context the storm leaves alone (a test's long-lived mapping lives there). */
    static final int RESERVED = PasidIommu.CONTEXTS - 1;

    /** One mapping: the data page and whether it is writable. */
    record Mapping(long page, boolean writable) {
    }

    private final IommuMachine m;
    private final AddressSpace memory;
    private final GuestTables tables;
    private final Random rnd;
    private final Queue<String> errors;
    private final ArrayDeque<Long> free = new ArrayDeque<>();
    private final Map<Long, Boolean> canaried = new HashMap<>();
    private final List<Map<Long, Mapping>> mapped = new ArrayList<>();
    /** Per context and IOVA page a hint for devices: 1 while the guest maps it (racy on purpose). */
    final AtomicLongArray hints = new AtomicLongArray(PasidIommu.CONTEXTS * IOVA_PAGES);
    long maps;
    long unmaps;

    GuestDriver(IommuMachine m, GuestTables tables, long seed, Queue<String> errors) {
        this.m = m;
        this.memory = m.memory;
        this.tables = tables;
        this.rnd = new Random(seed);
        this.errors = errors;
        for (long p = IommuMachine.DATA; p < IommuMachine.RESERVED_RAM; p += PasidIommu.PAGE) {
            free.add(p);
        }
        for (int c = 0; c < PasidIommu.CONTEXTS; c++) {
            mapped.add(new HashMap<>());
        }
    }

    /** Maps a free page at a random unmapped IOVA page of {@code ctx}. */
    void mapOne(int ctx) {
        long pfn = rnd.nextInt(IOVA_PAGES);
        if (mapped.get(ctx).containsKey(pfn) || free.isEmpty()) {
            return;
        }
        long page = free.poll();
        if (canaried.remove(page) != null) {
            for (long off = 0; off < PasidIommu.PAGE; off += 8) {
                long w = memory.ldqLe(page + off);
                if (w != Stamps.canary(page)) {
                    errors.add(String.format("freed page 0x%x written after its invalidation: 0x%x at +0x%x", page, w,
                            off));
                    break;
                }
            }
        }
        memory.set(page, (byte) 0, PasidIommu.PAGE, dev.guestmem.access.MemTxAttrs.UNSPECIFIED);
        boolean writable = rnd.nextInt(5) != 0;
        tables.setPte(ctx, pfn, page | GuestTables.READ | (writable ? GuestTables.WRITE : 0));
        mapped.get(ctx).put(pfn, new Mapping(page, writable));
        m.iommu.invalidate(ctx, pfn << 12, 1); // caching mode: MAP notifiers hear it
        hints.set(ctx * IOVA_PAGES + (int) pfn, 1);
        maps++;
    }

    /** Unmaps up to {@code n} pages of {@code ctx}, invalidates one of four ways, then takes the pages back. */
    void unmapSome(int ctx, int n) {
        List<Long> victims = new ArrayList<>(mapped.get(ctx).keySet());
        if (victims.isEmpty()) {
            return;
        }
        long anchor = victims.get(rnd.nextInt(victims.size()));
        List<long[]> gone = new ArrayList<>(); // {pfn, page, writable}
        int kind = rnd.nextInt(20);
        long span = kind < 12 ? 1 : kind < 17 ? 16 : kind < 19 ? IOVA_PAGES : -1;
        long first = span > 0 ? anchor & -span : 0;
        for (long pfn : victims) {
            boolean inRange = span < 0 || (pfn >= first && pfn < first + span);
            if (inRange && gone.size() < n) {
                Mapping mp = mapped.get(ctx).remove(pfn);
                hints.set(ctx * IOVA_PAGES + (int) pfn, 0);
                tables.setPte(ctx, pfn, 0);
                gone.add(new long[] {pfn, mp.page(), mp.writable() ? 1 : 0});
            }
        }
        if (span == 1) {
            m.iommu.invalidate(ctx, anchor << 12, 1);
        } else if (span > 0) {
            m.iommu.invalidate(ctx, first << 12, span);
        } else if (rnd.nextBoolean()) {
            m.iommu.invalidateContext(ctx);
        } else {
            m.iommu.invalidateAll();
        }
        // the invalidation is complete: no DMA reaches these pages any more
        for (long[] g : gone) {
            long page = g[1];
            for (long off = 0; off < PasidIommu.PAGE; off += 8) {
                long w = memory.ldqLe(page + off);
                if (!Stamps.fits(w, ctx, g[0], g[2] == 1)) {
                    errors.add(String.format("page 0x%x mapped at ctx %d iova page 0x%x (%s) holds 0x%x at +0x%x",
                            page, ctx, g[0], g[2] == 1 ? "rw" : "ro", w, off));
                    break;
                }
            }
            for (long off = 0; off < PasidIommu.PAGE; off += 8) {
                memory.stqLe(page + off, Stamps.canary(page));
            }
            canaried.put(page, Boolean.TRUE);
            free.add(page);
            unmaps++;
        }
    }

    /** One step of the driver's storm. */
    void step() {
        int ctx = rnd.nextInt(RESERVED);
        if (rnd.nextInt(100) < 55) {
            mapOne(ctx);
        } else {
            unmapSome(ctx, 1 + rnd.nextInt(8));
        }
    }

    /** Unmaps everything (with page invalidations) and checks every page taken back. */
    void unmapAll() {
        for (int ctx = 0; ctx < RESERVED; ctx++) {
            while (!mapped.get(ctx).isEmpty()) {
                unmapSome(ctx, Integer.MAX_VALUE);
            }
        }
    }

    Map<Long, Mapping> mappings(int ctx) {
        return mapped.get(ctx);
    }

    /** Checks every canaried free page (none was written after its invalidation). */
    void checkFreePages() {
        for (long page : canaried.keySet()) {
            for (long off = 0; off < PasidIommu.PAGE; off += 8) {
                long w = memory.ldqLe(page + off);
                if (w != Stamps.canary(page)) {
                    errors.add(String.format("freed page 0x%x written after its invalidation: 0x%x", page, w));
                    break;
                }
            }
        }
    }

    /** A random IOVA page of {@code ctx} for a device: mostly one the guest maps now. */
    static long target(AtomicLongArray hints, int ctx, Random rnd) {
        for (int tries = 0; tries < 64; tries++) {
            int pfn = rnd.nextInt(IOVA_PAGES);
            if (hints.get(ctx * IOVA_PAGES + pfn) != 0) {
                return pfn;
            }
        }
        return rnd.nextInt(IOVA_PAGES);
    }
}
