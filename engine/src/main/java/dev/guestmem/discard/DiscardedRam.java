package dev.guestmem.discard;

import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.listener.ListenerList;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.snapshot.DirtyPages;
import dev.guestmem.snapshot.SnapshotBlock;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What QEMU's migration does with a region's {@link RamDiscardManager} ({@code migration/ram.c}), for
 * guestmem's counterparts: the MIGRATION dirty-log client and the snapshot writer. Discarded RAM
 * ("logically unplugged") has undefined contents and must not be migrated or saved; even reading it
 * may populate it again (shared memory, hugetlb).
 *
 * <ul>
 * <li>{@link #clearDiscardedFromMigrationLog}: {@code ramblock_dirty_bitmap_clear_discarded_pages},
 * which migration runs once global dirty logging has started ({@code ram_init_bitmaps}), so the
 * first round does not send discarded pages. A new block starts dirty for every client, so without
 * it the first round would read every unplugged page.</li>
 * <li>{@link #isDiscarded}: {@code ramblock_page_is_discarded}.</li>
 * <li>{@link #populatedPages} and {@link #skipDiscarded}: the pages a snapshot should read
 * ({@link dev.guestmem.snapshot.SnapshotWriter#write(java.nio.file.Path, java.util.List,
 * java.util.Map, dev.guestmem.snapshot.ProgressListener)} records the others as zero pages without
 * reading them; {@code writeIncremental} leaves them out).</li>
 * </ul>
 * A region without a manager ({@link MemoryRegion#ramDiscardManager()}) has nothing discarded here,
 * as in QEMU.
 *
 * <p>As in QEMU, the answers are stable only while nothing plugs or unplugs: virtio-mem refuses to
 * while migration runs ({@code virtio_mem_is_busy}); a guestmem device model should do the same while
 * {@link dev.guestmem.MemorySystem#GLOBAL_DIRTY_MIGRATION} is set or a snapshot is written.
 *
 * <p><b>Thread safety.</b> Each call takes the region's system lock for its duration; the
 * {@link DirtyPages} views take it per query.
 */
public final class DiscardedRam {
    private DiscardedRam() {
    }

    /**
     * QEMU's {@code ramblock_dirty_bitmap_clear_discarded_pages}: clears the MIGRATION dirty bits of
     * every discarded run of the region's RAM block's used length ({@link MemoryRegion#resetDirty}, so
     * logging listeners hear {@code logClear} for each run, as
     * {@code migration_clear_memory_region_dirty_bitmap_range} tells them).
     *
     * @param region a RAM region
     * @return how many 4 KiB pages were dirty and are now clear (QEMU's {@code cleared_bits})
     * @throws RuntimeException what a listener's {@code logClear} threw first, once every run was
     *     cleared and every listener told
     */
    public static long clearDiscardedFromMigrationLog(MemoryRegion region) {
        Objects.requireNonNull(region, "region");
        ReentrantLock lock = region.system().lock();
        lock.lock();
        try {
            RamDiscardManager m = region.ramDiscardManager();
            RamBlock rb = region.ramBlock();
            if (m == null || rb == null) {
                return 0;
            }
            DirtyMemory dm = region.system().dirtyMemory();
            long[] cleared = {0};
            // One notification: a listener's logClear that changes the topology waits for the last run.
            SystemInternals.runAsOneNotification(region.system(), () -> {
                Throwable[] failed = {null}; // a throwing logClear stops no later run (see ListenerList)
                m.replayDiscarded(DiscardSections.ofRegion(region, 0, rb.usedLength()), s -> {
                    long base = rb.offset() + s.offsetWithinRegion();
                    for (long off = 0; Long.compareUnsigned(off, s.size()) < 0; off += DirtyMemory.TARGET_PAGE_SIZE) {
                        if (dm.getDirty(base + off, 1, DirtyMemory.DIRTY_MEMORY_MIGRATION)) {
                            cleared[0]++;
                        }
                    }
                    try {
                        region.resetDirty(s.offsetWithinRegion(), s.size(), MemoryRegion.DIRTY_MEMORY_MIGRATION);
                    } catch (RuntimeException | Error t) {
                        failed[0] = ListenerList.merge(failed[0], t);
                    }
                });
                ListenerList.rethrow(failed[0]);
                return null;
            });
            return cleared[0];
        } finally {
            lock.unlock();
        }
    }

    /**
     * QEMU's {@code ramblock_page_is_discarded}: whether any part of {@code [offset, offset + length)}
     * of the region is discarded.
     *
     * @param region a region
     * @param offset region offset
     * @param length bytes, not 0
     * @return true if the region's manager says the range is not completely populated; false without
     *     a (visible) manager
     */
    public static boolean isDiscarded(MemoryRegion region, long offset, long length) {
        Objects.requireNonNull(region, "region");
        ReentrantLock lock = region.system().lock();
        lock.lock();
        try {
            RamDiscardManager m = region.ramDiscardManager();
            return m != null && !m.isPopulated(DiscardSections.ofRegion(region, offset, length));
        } finally {
            lock.unlock();
        }
    }

    /**
     * The pages {@code pages} names that are not discarded: what an incremental snapshot of the
     * region's block should store.
     *
     * @param region the region whose RAM block the snapshot block is
     * @param pageSize the snapshot block's page size
     * @param pages the pages to filter (e.g. from the dirty log)
     * @return the filtered view, ascending as {@code pages}
     */
    public static DirtyPages skipDiscarded(MemoryRegion region, long pageSize, DirtyPages pages) {
        Objects.requireNonNull(region, "region");
        Objects.requireNonNull(pages, "pages");
        if (pageSize <= 0) {
            throw new IllegalArgumentException("page size " + pageSize);
        }
        return from -> {
            long p = pages.nextDirty(from);
            while (p >= 0 && isDiscarded(region, p * pageSize, pageSize)) {
                p = pages.nextDirty(p + 1);
            }
            return p;
        };
    }

    /**
     * Every page of the block that is not discarded: what a full snapshot should read and store.
     *
     * @param region the region whose RAM block {@code block} is
     * @param block the snapshot block ({@link SnapshotBlock#of} of the region's RAM block)
     * @return the view
     */
    public static DirtyPages populatedPages(MemoryRegion region, SnapshotBlock block) {
        Objects.requireNonNull(block, "block");
        return skipDiscarded(region, block.pageSize(), DirtyPages.all(block.pageCount()));
    }
}
