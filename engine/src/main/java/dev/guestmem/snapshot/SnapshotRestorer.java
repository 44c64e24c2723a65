package dev.guestmem.snapshot;

import dev.guestmem.internal.SigbusFence;
import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * Eager restore: copies every page of a snapshot chain into the target blocks before returning
 * (the baseline that lazy restore in {@code dev.guestmem.uffd} is measured against).
 *
 * <p><b>Thread safety.</b> Stateless; the target memory must not be accessed by others during a
 * restore.
 */
public final class SnapshotRestorer {
    private SnapshotRestorer() {
    }

    /**
     * Checks that the targets match the chain's blocks by name, size and page size.
     *
     * @param chain the snapshots
     * @param targets the blocks to restore into
     * @throws SnapshotException naming the first block that does not match
     */
    public static void checkTargets(SnapshotChain chain, List<SnapshotBlock> targets) {
        SnapshotFile base = chain.files().getFirst();
        for (SnapshotBlock t : targets) {
            SnapshotFile.BlockInfo b = base.block(t.name());
            if (b == null) {
                throw new SnapshotException("snapshot " + base.path() + " has no block '" + t.name() + "'; it has "
                        + base.blocks().stream().map(SnapshotFile.BlockInfo::name).toList());
            }
            if (b.usedLength() != t.usedLength() || b.pageSize() != t.pageSize()) {
                throw new SnapshotException("block '" + t.name() + "' is " + t.usedLength() + " bytes with "
                        + t.pageSize() + "-byte pages; the snapshot's is " + b.usedLength() + " bytes with "
                        + b.pageSize() + "-byte pages");
            }
            if (t.segment().isReadOnly()) {
                throw new SnapshotException("block '" + t.name() + "' is mapped read-only: it cannot be restored");
            }
        }
    }

    /** Longest run copied by one {@code MemorySegment.copy}, so progress is reported between runs. */
    private static final long MAX_RUN_BYTES = 64L << 20;
    /** Longest run when pages are verified: the checksum pass leaves the run in the cache for the copy. */
    private static final long MAX_VERIFY_RUN_BYTES = 1L << 20;

    /**
     * Copies the chain into the targets, oldest file first, so each page ends as its newest state.
     * The targets' previous contents are overwritten (zero pages are written as zeros).
     *
     * @param chain the snapshots
     * @param targets the blocks to restore (any subset of the chain's blocks)
     * @param verify check each stored page's checksum before copying it
     * @param progress told how far the restore has got (bytes of the newest layer count once per
     *     file applied)
     * @throws SnapshotException if a target does not match, or a page fails its checksum (the target
     *     then holds a partial restore)
     */
    public static void restore(SnapshotChain chain, List<SnapshotBlock> targets, boolean verify, ProgressListener progress) {
        restore(chain, targets, verify, false, progress);
    }

    /**
     * Copies the chain into the targets, oldest file first, so each page ends as its newest state.
     * Stored pages are copied from the read-only mapping in runs (pages stored next to each other
     * in the file and in the block go in one {@code MemorySegment.copy}, up to 64 MiB; 1 MiB when
     * verifying, each page checked before its run is copied); the target range of a run is first
     * populated with {@code MADV_POPULATE_WRITE} (one system call instead of a fault per page, where
     * the kernel has it). Zero pages are filled, or skipped when {@code targetZeroed} says the
     * targets are known to read as zeros (fresh anonymous or freshly truncated memory).
     *
     * @param chain the snapshots
     * @param targets the blocks to restore (any subset of the chain's blocks)
     * @param verify check each stored page's checksum before copying it
     * @param targetZeroed the targets read as zeros now: zero pages of the oldest file need no write
     * @param progress told how far the restore has got (bytes of the newest layer count once per
     *     file applied)
     * @throws SnapshotException if a target does not match, or a page fails its checksum (the target
     *     then holds a partial restore)
     * @implNote A target named by its RAM block ({@link SnapshotBlock#of}) is marked written over its
     *     whole used length afterwards ({@link dev.guestmem.ram.RamBlock#markWritten}), also after a
     *     failure: dirty logging (a later incremental snapshot, a display) and translated code see the
     *     restore as they see a DMA write.
     */
    public static void restore(SnapshotChain chain, List<SnapshotBlock> targets, boolean verify, boolean targetZeroed,
            ProgressListener progress) {
        Objects.requireNonNull(progress, "progress");
        checkTargets(chain, targets);
        long total = 0;
        for (SnapshotBlock t : targets) {
            total += t.usedLength() * chain.files().size();
        }
        try {
            copyChain(chain, targets, verify, targetZeroed, progress, total);
        } catch (InternalError e) {
            throw new SnapshotException("restore faulted (SIGBUS) reading a snapshot file or writing a target: a file"
                    + " truncated, or a hole that a full file system cannot fill; the targets hold a partial restore", e);
        } finally {
            // the memory changed behind the address spaces, wholly or (on a failure) in part
            for (SnapshotBlock t : targets) {
                if (t.ramBlock() != null) {
                    t.ramBlock().markWritten(0, t.usedLength());
                }
            }
        }
        progress.progress(total, total);
    }

    private static void copyChain(SnapshotChain chain, List<SnapshotBlock> targets, boolean verify,
            boolean targetZeroed, ProgressListener progress, long total) {
        long done = 0;
        long nextReport = SnapshotFormat.PROGRESS_STEP;
        boolean first = true;
        for (SnapshotFile f : chain.files()) {
            for (SnapshotBlock t : targets) {
                SnapshotFile.BlockInfo b = f.block(t.name());
                int bi = b.index();
                long ps = b.pageSize();
                long n = b.pageCount();
                long maxRun = Math.max(1, (verify ? MAX_VERIFY_RUN_BYTES : MAX_RUN_BYTES) / ps);
                MemorySegment map = f.mapping();
                MemorySegment dst = t.segment();
                boolean populate = dst.address() % ps == 0;
                long p = 0;
                while (p < n) {
                    long loc = f.location(bi, p);
                    long q = p + 1;
                    if (loc == SnapshotFormat.ZERO) {
                        while (q < n && f.location(bi, q) == SnapshotFormat.ZERO) {
                            q++;
                        }
                        if (!(first && targetZeroed)) {
                            dst.asSlice(p * ps, (q - p) * ps).fill((byte) 0);
                        }
                    } else if (loc == SnapshotFormat.ABSENT) {
                        while (q < n && f.location(bi, q) == SnapshotFormat.ABSENT) {
                            q++;
                        }
                    } else {
                        long next = loc + ps;
                        while (q < n && q - p < maxRun && f.location(bi, q) == next) {
                            q++;
                            next += ps;
                        }
                        if (verify) {
                            for (long v = p; v < q; v++) {
                                if (!f.verify(bi, v)) {
                                    throw new SnapshotException("snapshot " + f.path() + ": block '" + b.name() + "' page " + v
                                            + " (file offset " + f.location(bi, v) + ") fails its checksum");
                                }
                            }
                        }
                        long len = (q - p) * ps;
                        if (populate) {
                            populate = populateWrite(dst.asSlice(p * ps, len));
                        }
                        // a real call: a SIGBUS surfaces inside restore's try, however this loop is compiled
                        SigbusFence.copy(map, loc, dst, p * ps, len);
                    }
                    done += (q - p) * ps;
                    if (done >= nextReport) {
                        progress.progress(done, total);
                        nextReport = done + SnapshotFormat.PROGRESS_STEP;
                    }
                    p = q;
                }
            }
            first = false;
        }
    }

    /** Faults a range in with one system call; false if the kernel or the mapping refuses (then don't ask again). */
    private static boolean populateWrite(MemorySegment range) {
        try {
            LinuxCalls.madvise(range, range.byteSize(), Linux.MADV_POPULATE_WRITE());
            return true;
        } catch (NativeCallException e) {
            return false;
        }
    }
}
