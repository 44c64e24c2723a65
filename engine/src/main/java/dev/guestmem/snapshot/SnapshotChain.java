package dev.guestmem.snapshot;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Objects;

/**
 * A full snapshot and the incremental ones applied on top of it, oldest first: resolves each page
 * of a block to the newest file that holds it.
 *
 * <p>Thread safety: immutable; safe for concurrent readers while the files stay open.
 */
public final class SnapshotChain {
    private final List<SnapshotFile> files;

    /**
     * Checks the chain: the first file is full, each later one is incremental with the previous
     * file's id as its base, and every file has the same blocks (names, sizes, page sizes).
     *
     * @param files the files, oldest first; not closed by the chain
     * @throws SnapshotException if the chain is broken (the message names the first bad link)
     */
    public SnapshotChain(List<SnapshotFile> files) {
        this.files = List.copyOf(Objects.requireNonNull(files, "files"));
        if (this.files.isEmpty()) {
            throw new SnapshotException("an empty snapshot chain");
        }
        SnapshotFile base = this.files.getFirst();
        if (base.incremental()) {
            throw new SnapshotException(base.path() + " is incremental: a chain starts with a full snapshot");
        }
        for (int i = 1; i < this.files.size(); i++) {
            SnapshotFile prev = this.files.get(i - 1);
            SnapshotFile f = this.files.get(i);
            if (!f.incremental() || f.baseId() != prev.id()) {
                throw new SnapshotException(String.format("%s (base %016x) does not apply on top of %s (id %016x)",
                        f.path(), f.baseId(), prev.path(), prev.id()));
            }
            if (f.blocks().size() != base.blocks().size()) {
                throw new SnapshotException(f.path() + " has " + f.blocks().size() + " blocks, the base " + base.blocks().size());
            }
            for (SnapshotFile.BlockInfo b : base.blocks()) {
                SnapshotFile.BlockInfo o = f.block(b.name());
                if (o == null || o.usedLength() != b.usedLength() || o.pageSize() != b.pageSize()) {
                    throw new SnapshotException(f.path() + ": block '" + b.name() + "' is " + o + ", in the base " + b);
                }
            }
        }
    }

    /**
     * A chain of one full snapshot.
     *
     * @param file the snapshot
     * @return the chain
     */
    public static SnapshotChain of(SnapshotFile file) {
        return new SnapshotChain(List.of(file));
    }

    /** @return the files, oldest first */
    public List<SnapshotFile> files() {
        return files;
    }

    /** @return the blocks of the chain (those of the full snapshot) */
    public List<SnapshotFile.BlockInfo> blocks() {
        return files.getFirst().blocks();
    }

    /**
     * Finds a page's bytes.
     *
     * @param name the block's name
     * @param page the page's index
     * @return the newest stored copy of the page, or null if its newest state is all zeros
     * @throws SnapshotException if the chain has no such block
     */
    public MemorySegment page(String name, long page) {
        for (int i = files.size() - 1; i >= 0; i--) {
            SnapshotFile f = files.get(i);
            SnapshotFile.BlockInfo b = f.block(name);
            if (b == null) {
                throw new SnapshotException("no block '" + name + "' in " + f.path());
            }
            long loc = f.location(b.index(), page);
            if (loc == SnapshotFormat.ZERO) {
                return null;
            }
            if (loc != SnapshotFormat.ABSENT) {
                return f.mapping().asSlice(loc, b.pageSize());
            }
        }
        throw new AssertionError("a full snapshot has every page"); // checked by SnapshotFile.open
    }

    /**
     * Finds which file holds a page's newest state.
     *
     * @param name the block's name
     * @param page the page's index
     * @return the index in {@link #files()} of the newest file where the page is not absent
     */
    public int newestFileOf(String name, long page) {
        for (int i = files.size() - 1; i > 0; i--) {
            SnapshotFile f = files.get(i);
            if (f.location(f.block(name).index(), page) != SnapshotFormat.ABSENT) {
                return i;
            }
        }
        return 0;
    }
}
