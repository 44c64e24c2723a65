package dev.guestmem.snapshot;

import dev.guestmem.internal.SigbusFence;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * Writes RAM blocks to a snapshot file ({@link SnapshotFormat}): full snapshots, and incremental
 * ones holding only the pages a {@link DirtyPages} names, to be applied on top of a base.
 *
 * <p>The file is written to {@code PATH.tmp} and renamed over {@code PATH} once complete and
 * forced to disk, so a crash never leaves a half-written snapshot under the final name. Zero pages
 * are not stored. Each page is read once, into a staging buffer, where it is tested for zero and
 * checksummed; up to 1 MiB of consecutive stored pages leave the buffer in one write.
 *
 * <p><b>Thread safety.</b> The static methods may be called from any thread; the blocks' memory
 * should not change while it is saved (pause the guest), or the snapshot holds a mix of old and new
 * pages (each page as it was at one moment, and its checksum matches the bytes stored).
 */
public final class SnapshotWriter {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final long MAX_RUN_BYTES = 1L << 20;

    private SnapshotWriter() {
    }

    /**
     * Writes a full snapshot of the blocks.
     *
     * @param path the file to create or replace
     * @param blocks the blocks, names unique
     * @param progress told how far the save has got
     * @return the new snapshot's id
     * @throws SnapshotException on an I/O error, a page that faults when read, or duplicate block
     *     names (nothing is left under {@code path} then)
     */
    public static long write(Path path, List<SnapshotBlock> blocks, ProgressListener progress) {
        return writeFile(path, blocks, null, false, 0, progress);
    }

    /**
     * Writes a full snapshot in which each block's pages that its {@link DirtyPages} does not name
     * are recorded as zero pages without being read (a block missing from {@code stored} is saved
     * whole). This is how a snapshot leaves out discarded RAM, as QEMU's migration does
     * ({@code ramblock_dirty_bitmap_clear_discarded_pages}): its contents are undefined and reading
     * it may populate it again. See {@code dev.guestmem.discard.DiscardedRam#populatedPages}.
     *
     * @param path the file to create or replace
     * @param blocks the blocks, names unique
     * @param stored the pages to read and store, per block name
     * @param progress told how far the save has got
     * @return the new snapshot's id
     * @throws SnapshotException on an I/O error, a page that faults when read, or duplicate block
     *     names (nothing is left under {@code path} then)
     */
    public static long write(Path path, List<SnapshotBlock> blocks, Map<String, DirtyPages> stored,
            ProgressListener progress) {
        Objects.requireNonNull(stored, "stored");
        return writeFile(path, blocks, stored, false, 0, progress);
    }

    /**
     * Writes an incremental snapshot: for each block, only the pages its {@link DirtyPages} names
     * (zero pages among them marked zero, the others absent).
     *
     * @param path the file to create or replace
     * @param baseId the id of the snapshot this one applies on top of (a full one or the previous
     *     increment)
     * @param blocks the blocks, with the same names and sizes as in the base
     * @param dirty the dirty pages of each block by name; a block missing here has no dirty page
     * @param progress told how far the save has got
     * @return the new snapshot's id
     * @throws SnapshotException on an I/O error, a zero base id or duplicate block names
     */
    public static long writeIncremental(Path path, long baseId, List<SnapshotBlock> blocks,
            Map<String, DirtyPages> dirty, ProgressListener progress) {
        Objects.requireNonNull(dirty, "dirty");
        if (baseId == 0) {
            throw new SnapshotException("an incremental snapshot needs the nonzero id of its base");
        }
        return writeFile(path, blocks, dirty, true, baseId, progress);
    }

    private static long writeFile(Path path, List<SnapshotBlock> blocks, Map<String, DirtyPages> dirty,
            boolean incremental, long baseId, ProgressListener progress) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(blocks, "blocks");
        Objects.requireNonNull(progress, "progress");
        Set<String> names = new HashSet<>();
        long total = 0;
        for (SnapshotBlock b : blocks) {
            if (!names.add(b.name())) {
                throw new SnapshotException("block name '" + b.name() + "' appears twice");
            }
            total += b.usedLength();
        }
        long id;
        do {
            id = RANDOM.nextLong();
        } while (id == 0 || id == baseId);
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ);
                Arena arena = Arena.ofConfined()) {
            ch.write(ByteBuffer.allocate((int) SnapshotFormat.DATA_ALIGN), 0); // header placeholder: zeros
            long dataOff = SnapshotFormat.DATA_ALIGN;
            long[][] locations = new long[blocks.size()][];
            int[][] crcs = new int[blocks.size()][];
            long[] stored = new long[blocks.size()];
            long done = 0;
            long nextReport = SnapshotFormat.PROGRESS_STEP;
            CRC32C crc = new CRC32C();
            Staging staging = new Staging(ch, arena.allocate(MAX_RUN_BYTES, SnapshotFormat.DATA_ALIGN),
                    arena.allocate(MAX_RUN_BYTES));
            for (int bi = 0; bi < blocks.size(); bi++) {
                SnapshotBlock b = blocks.get(bi);
                long ps = b.pageSize();
                long pages = b.pageCount();
                long[] loc = new long[Math.toIntExact(pages)];
                int[] sums = new int[loc.length];
                DirtyPages d = dirty == null ? DirtyPages.all(pages)
                        : dirty.getOrDefault(b.name(), incremental ? DirtyPages.none() : DirtyPages.all(pages));
                if (incremental) {
                    java.util.Arrays.fill(loc, SnapshotFormat.ABSENT);
                }
                long p = d.nextDirty(0);
                while (p >= 0) {
                    if (p >= pages) {
                        throw new SnapshotException("dirty page " + p + " beyond block '" + b.name() + "' of " + pages + " pages");
                    }
                    // One read of the page, into the staging buffer: the zero test, the checksum and
                    // the bytes written all come from that copy, so they agree even while the guest runs.
                    crc.reset();
                    if (stage(staging, b, p, dataOff, crc)) {
                        loc[(int) p] = dataOff;
                        sums[(int) p] = (int) crc.getValue();
                        dataOff += alignUp(ps);
                        stored[bi]++;
                    } else {
                        loc[(int) p] = SnapshotFormat.ZERO;
                        sums[(int) p] = 0;
                    }
                    done += ps;
                    if (done >= nextReport) {
                        progress.progress(done, total);
                        nextReport = done + SnapshotFormat.PROGRESS_STEP;
                    }
                    long next = d.nextDirty(p + 1);
                    if (next >= 0 && next <= p) {
                        throw new SnapshotException("dirty page iterator went backwards: " + next + " after " + p);
                    }
                    p = next;
                }
                locations[bi] = loc;
                crcs[bi] = sums;
            }
            staging.flush();
            // the table
            long tableOff = dataOff;
            long recordsLen = 0;
            byte[][] nameBytes = new byte[blocks.size()][];
            for (int bi = 0; bi < blocks.size(); bi++) {
                nameBytes[bi] = blocks.get(bi).name().getBytes(StandardCharsets.UTF_8);
                recordsLen += recordSize(nameBytes[bi].length);
            }
            long entriesLen = 0;
            for (long[] loc : locations) {
                entriesLen += (long) loc.length * SnapshotFormat.ENTRY_SIZE;
            }
            long tableLen = recordsLen + entriesLen;
            MemorySegment table = arena.allocate(tableLen, 8);
            long off = 0;
            long entryOff = tableOff + recordsLen;
            for (int bi = 0; bi < blocks.size(); bi++) {
                SnapshotBlock b = blocks.get(bi);
                table.set(SnapshotFile.U32, off, nameBytes[bi].length);
                MemorySegment.copy(nameBytes[bi], 0, table, ValueLayout.JAVA_BYTE, off + 4, nameBytes[bi].length);
                off += (4 + nameBytes[bi].length + 7) & ~7L;
                table.set(SnapshotFile.U64, off, b.usedLength());
                table.set(SnapshotFile.U64, off + 8, b.pageSize());
                table.set(SnapshotFile.U64, off + 16, b.pageCount());
                table.set(SnapshotFile.U64, off + 24, stored[bi]);
                table.set(SnapshotFile.U64, off + 32, entryOff);
                off += 40;
                entryOff += (long) locations[bi].length * SnapshotFormat.ENTRY_SIZE;
            }
            for (int bi = 0; bi < blocks.size(); bi++) {
                long[] loc = locations[bi];
                for (int p = 0; p < loc.length; p++) {
                    table.set(SnapshotFile.U64, off, loc[p]);
                    table.set(SnapshotFile.U32, off + 8, crcs[bi][p]);
                    off += SnapshotFormat.ENTRY_SIZE;
                }
            }
            writeFully(ch, table.asByteBuffer(), tableOff);
            ch.truncate(tableOff + tableLen); // a huge page found zero after it was written may lie past the table
            crc.reset();
            crc.update(table.asByteBuffer());
            int tableCrc = (int) crc.getValue();
            // the header, last
            ByteBuffer h = ByteBuffer.allocate(SnapshotFormat.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            h.putLong(SnapshotFormat.H_MAGIC, SnapshotFormat.MAGIC);
            h.putInt(SnapshotFormat.H_VERSION, SnapshotFormat.VERSION);
            h.putInt(SnapshotFormat.H_FLAGS, incremental ? SnapshotFormat.FLAG_INCREMENTAL : 0);
            h.putLong(SnapshotFormat.H_ID, id);
            h.putLong(SnapshotFormat.H_BASE, baseId);
            h.putInt(SnapshotFormat.H_BLOCKS, blocks.size());
            h.putLong(SnapshotFormat.H_TABLE_OFF, tableOff);
            h.putLong(SnapshotFormat.H_TABLE_LEN, tableLen);
            h.putLong(SnapshotFormat.H_DATA_OFF, SnapshotFormat.DATA_ALIGN);
            h.putLong(SnapshotFormat.H_FILE_LEN, tableOff + tableLen);
            h.putInt(SnapshotFormat.H_TABLE_CRC, tableCrc);
            crc.reset();
            crc.update(h.array(), 0, SnapshotFormat.H_HEADER_CRC);
            h.putInt(SnapshotFormat.H_HEADER_CRC, (int) crc.getValue());
            ch.force(false); // data and table durable before the header makes them valid
            writeFully(ch, h, 0);
            ch.force(true);
            progress.progress(total, total);
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof SnapshotException se) {
                throw se;
            }
            throw new SnapshotException("writing snapshot " + path + " failed: " + e, e);
        }
        try {
            Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new SnapshotException("renaming " + tmp + " to " + path + " failed", e);
        }
        return id;
    }

    /**
     * {@link Staging#stage} of page {@code p}; a SIGBUS reading it breaks its RAM block and fails the
     * save with a {@link SnapshotException}. The copy out of
     * guest memory is a {@link SigbusFence} call: inlined, a compiled copy's fault is an asynchronous
     * {@code InternalError} that HotSpot throws at the next safepoint poll, which can be after this
     * {@code try} (CI saw one escape {@code SnapshotWriter.write} once).
     */
    private static boolean stage(Staging staging, SnapshotBlock b, long p, long dataOff, CRC32C crc) throws IOException {
        long ps = b.pageSize();
        try {
            return staging.stage(b.segment(), p * ps, ps, dataOff, crc);
        } catch (InternalError sigbus) {
            if (b.ramBlock() != null) {
                b.ramBlock().reportFault(p * ps, ps, sigbus);
            }
            throw new SnapshotException("block '" + b.name() + "' page " + p + ": reading it faulted (SIGBUS: its file"
                    + " truncated, or a hole that a full file system cannot fill)", sigbus);
        }
    }

    private static long recordSize(int nameLen) {
        return ((4 + nameLen + 7) & ~7L) + 40;
    }

    private static long alignUp(long n) {
        return (n + SnapshotFormat.DATA_ALIGN - 1) & -SnapshotFormat.DATA_ALIGN;
    }

    /**
     * Pages on their way to the file: each is copied once from guest memory into one buffer, tested
     * for zero and checksummed there, and consecutive stored pages leave in one write. A page bigger
     * than the buffer (a huge page) goes through it in pieces, written as they are read; if it turns
     * out all zero its bytes are left behind as garbage that later pages or the table overwrite.
     */
    private static final class Staging {
        private final FileChannel ch;
        private final MemorySegment buf;
        private final MemorySegment zeros;
        private long used;
        private long fileOff;

        Staging(FileChannel ch, MemorySegment buf, MemorySegment zeros) {
            this.ch = ch;
            this.buf = buf;
            this.zeros = zeros;
        }

        /**
         * Copies the page at {@code segOff} of {@code seg} and stages it for file offset
         * {@code dataOff} (the next free one) unless it is all zero; {@code crc} gets its bytes.
         *
         * @return whether the page is stored (not zero)
         */
        boolean stage(MemorySegment seg, long segOff, long ps, long dataOff, CRC32C crc) throws IOException {
            if (ps > buf.byteSize()) {
                flush();
                boolean zero = true;
                for (long c = 0; c < ps; c += buf.byteSize()) {
                    long n = Math.min(buf.byteSize(), ps - c);
                    MemorySegment piece = buf.asSlice(0, n);
                    SigbusFence.copy(seg, segOff + c, piece, 0, n); // a real call: see stage()
                    zero &= isZero(piece);
                    crc.update(piece.asByteBuffer());
                    writeFully(ch, piece.asByteBuffer(), dataOff + c);
                }
                return !zero;
            }
            long slot = alignUp(ps);
            if (used + slot > buf.byteSize()) {
                flush();
            }
            MemorySegment page = buf.asSlice(used, ps);
            SigbusFence.copy(seg, segOff, page, 0, ps);
            if (isZero(page)) {
                return false;
            }
            crc.update(page.asByteBuffer());
            if (used == 0) {
                fileOff = dataOff;
            }
            used += slot;
            return true;
        }

        void flush() throws IOException {
            if (used > 0) {
                writeFully(ch, buf.asSlice(0, used).asByteBuffer(), fileOff);
                used = 0;
            }
        }

        private boolean isZero(MemorySegment s) { // the JDK's vectorised compare against zeros
            return MemorySegment.mismatch(s, 0, s.byteSize(), zeros, 0, s.byteSize()) == -1;
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }
}
