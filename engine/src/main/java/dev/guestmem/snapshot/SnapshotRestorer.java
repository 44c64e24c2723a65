package dev.guestmem.snapshot;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * Eager restore: copies every page of a snapshot chain into the target blocks before returning
 * (the baseline that lazy restore in {@code dev.guestmem.uffd} is measured against).
 *
 * <p>Thread safety: stateless; the target memory must not be accessed by others during a restore.
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
        }
    }

    /**
     * Copies the chain into the targets, oldest file first, so each page ends as its newest state.
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
        Objects.requireNonNull(progress, "progress");
        checkTargets(chain, targets);
        long total = 0;
        for (SnapshotBlock t : targets) {
            total += t.usedLength() * chain.files().size();
        }
        long done = 0;
        long nextReport = SnapshotFormat.PROGRESS_STEP;
        for (SnapshotFile f : chain.files()) {
            for (SnapshotBlock t : targets) {
                SnapshotFile.BlockInfo b = f.block(t.name());
                long ps = b.pageSize();
                MemorySegment map = f.mapping();
                long zeroRun = -1;
                for (long p = 0; p < b.pageCount(); p++) {
                    long loc = f.location(b.index(), p);
                    if (loc == SnapshotFormat.ZERO) {
                        if (zeroRun < 0) {
                            zeroRun = p;
                        }
                    } else {
                        if (zeroRun >= 0) {
                            t.segment().asSlice(zeroRun * ps, (p - zeroRun) * ps).fill((byte) 0);
                            zeroRun = -1;
                        }
                        if (loc != SnapshotFormat.ABSENT) {
                            if (verify && !f.verify(b.index(), p)) {
                                throw new SnapshotException("snapshot " + f.path() + ": block '" + b.name() + "' page " + p
                                        + " (file offset " + loc + ") fails its checksum");
                            }
                            MemorySegment.copy(map, loc, t.segment(), p * ps, ps);
                        }
                    }
                    done += ps;
                    if (done >= nextReport) {
                        progress.progress(done, total);
                        nextReport = done + SnapshotFormat.PROGRESS_STEP;
                    }
                }
                if (zeroRun >= 0) {
                    t.segment().asSlice(zeroRun * ps, (b.pageCount() - zeroRun) * ps).fill((byte) 0);
                }
            }
        }
        progress.progress(total, total);
    }
}
