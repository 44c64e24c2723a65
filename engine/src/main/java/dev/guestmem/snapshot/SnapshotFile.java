package dev.guestmem.snapshot;

import dev.guestmem.internal.SigbusFence;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * A snapshot file opened for reading: the whole file is mapped read-only, the header and table are
 * checked (magic, version, lengths, both checksums, every page location in range) on
 * {@link #open(Path)}, and pages are read straight from the mapping.
 *
 * <p>Thread safety: safe for concurrent readers (the mapping is in a shared arena and never
 * written). {@link #close()} unmaps; it must not race with readers.
 */
public final class SnapshotFile implements AutoCloseable {
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One block's entry in the table.
     *
     * @param index position in the table
     * @param name the block's name
     * @param usedLength its size in bytes
     * @param pageSize its page size
     * @param pageCount {@code usedLength / pageSize}
     * @param storedPages pages whose bytes are in the file
     * @param entriesOffset file offset of its page entries
     */
    public record BlockInfo(int index, String name, long usedLength, long pageSize, long pageCount,
            long storedPages, long entriesOffset) {
    }

    /** Bytes checksummed per heap copy. */
    private static final int CRC_CHUNK = 64 << 10;

    private final Path path;
    private final Arena arena;
    private final MemorySegment map;
    private final long id;
    private final long baseId;
    private final boolean incremental;
    private final long dataOffset;
    private final long tableOffset;
    private final List<BlockInfo> blocks;
    private final Map<String, BlockInfo> byName;
    /** The header as it was when the file was opened (its identity: ids, length, table checksum). */
    private final byte[] header;

    private SnapshotFile(Path path, Arena arena, MemorySegment map) {
        this.path = path;
        this.arena = arena;
        this.map = map;
        long size = map.byteSize();
        if (size < SnapshotFormat.HEADER_SIZE) {
            throw corrupt("file is " + size + " bytes, shorter than the " + SnapshotFormat.HEADER_SIZE + "-byte header");
        }
        this.header = new byte[SnapshotFormat.HEADER_SIZE];
        SigbusFence.toArray(map, 0, header, 0, header.length);
        if (u64(map, SnapshotFormat.H_MAGIC) != SnapshotFormat.MAGIC) {
            throw corrupt(String.format("bad magic 0x%016x (expected 0x%016x): not a snapshot or never completed",
                    u64(map, SnapshotFormat.H_MAGIC), SnapshotFormat.MAGIC));
        }
        int headerCrc = crc(map.asSlice(0, SnapshotFormat.H_HEADER_CRC));
        if (headerCrc != u32(map, SnapshotFormat.H_HEADER_CRC)) {
            throw corrupt(String.format("header checksum 0x%08x, computed 0x%08x", u32(map, SnapshotFormat.H_HEADER_CRC), headerCrc));
        }
        int version = u32(map, SnapshotFormat.H_VERSION);
        if (version != SnapshotFormat.VERSION) {
            throw corrupt("format version " + version + ", this code reads " + SnapshotFormat.VERSION);
        }
        int flags = u32(map, SnapshotFormat.H_FLAGS);
        this.incremental = (flags & SnapshotFormat.FLAG_INCREMENTAL) != 0;
        this.id = u64(map, SnapshotFormat.H_ID);
        this.baseId = u64(map, SnapshotFormat.H_BASE);
        long fileLen = u64(map, SnapshotFormat.H_FILE_LEN);
        if (fileLen != size) {
            throw corrupt("header says " + fileLen + " bytes, file has " + size);
        }
        this.dataOffset = u64(map, SnapshotFormat.H_DATA_OFF);
        this.tableOffset = u64(map, SnapshotFormat.H_TABLE_OFF);
        long tableLen = u64(map, SnapshotFormat.H_TABLE_LEN);
        if (dataOffset != SnapshotFormat.DATA_ALIGN || tableOffset < dataOffset || tableLen < 0
                || tableOffset + tableLen != size) {
            throw corrupt("bad layout: data at " + dataOffset + ", table at " + tableOffset + " length " + tableLen);
        }
        // The header checksum stops at byte 76: the reserved zeros after it are checked here.
        for (long off = SnapshotFormat.H_RESERVED_ZEROS; off < dataOffset; off += 8) {
            if (u64(map, off) != 0) {
                throw corrupt("reserved bytes [" + off + ", " + (off + 8) + ") are not zero");
            }
        }
        MemorySegment table = map.asSlice(tableOffset, tableLen);
        int tableCrc = crc(table);
        if (tableCrc != u32(map, SnapshotFormat.H_TABLE_CRC)) {
            throw corrupt(String.format("table checksum 0x%08x, computed 0x%08x", u32(map, SnapshotFormat.H_TABLE_CRC), tableCrc));
        }
        int count = u32(map, SnapshotFormat.H_BLOCKS);
        List<BlockInfo> list = new ArrayList<>();
        Map<String, BlockInfo> names = new HashMap<>();
        long off = 0;
        for (int i = 0; i < count; i++) {
            if (off > tableLen - 4) {
                throw corrupt("block " + i + ": the table ends before its entry");
            }
            int nameLen = u32(table, off);
            if (nameLen <= 0 || nameLen > SnapshotFormat.MAX_NAME_BYTES || off + 4 + nameLen > tableLen) {
                throw corrupt("block " + i + ": bad name length " + nameLen);
            }
            byte[] nameBytes = new byte[nameLen];
            SigbusFence.toArray(table, off + 4, nameBytes, 0, nameLen);
            String name = new String(nameBytes, StandardCharsets.UTF_8);
            off += (4 + nameLen + 7) & ~7L;
            if (off > tableLen - 40) {
                throw corrupt("block '" + name + "': the table ends inside its entry");
            }
            BlockInfo b = new BlockInfo(i, name, u64(table, off), u64(table, off + 8), u64(table, off + 16),
                    u64(table, off + 24), u64(table, off + 32));
            off += 40;
            if (!consistent(b, tableOffset, size)) {
                throw corrupt("block '" + name + "': inconsistent entry " + b);
            }
            if (names.put(name, b) != null) {
                throw corrupt("block name '" + name + "' appears twice");
            }
            list.add(b);
        }
        this.blocks = Collections.unmodifiableList(list);
        this.byName = names;
        for (BlockInfo b : list) {
            long stored = 0;
            for (long p = 0; p < b.pageCount(); p++) {
                long loc = location(b.index(), p);
                if (loc == SnapshotFormat.ABSENT && !incremental) {
                    throw corrupt("block '" + b.name() + "' page " + p + " absent in a full snapshot");
                }
                if (loc != SnapshotFormat.ZERO && loc != SnapshotFormat.ABSENT) {
                    // A stored page: aligned, inside the data area (compared without overflow).
                    if (loc % SnapshotFormat.DATA_ALIGN != 0 || loc < dataOffset || loc > tableOffset - b.pageSize()) {
                        throw corrupt("block '" + b.name() + "' page " + p + " at bad offset " + loc);
                    }
                    stored++;
                }
            }
            if (stored != b.storedPages()) {
                throw corrupt("block '" + b.name() + "' says " + b.storedPages() + " stored pages, has " + stored);
            }
        }
    }

    /**
     * Opens and checks a snapshot file.
     *
     * @param path the file
     * @return the open snapshot; close it to unmap
     * @throws SnapshotException if it cannot be read or fails a check (the message says which)
     */
    public static SnapshotFile open(Path path) {
        Objects.requireNonNull(path, "path");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return new SnapshotFile(path, arena, map);
        } catch (IOException e) {
            arena.close();
            throw new SnapshotException("cannot read snapshot " + path + ": " + e, e);
        } catch (InternalError e) { // SIGBUS reading the mapping
            arena.close();
            throw unreadable(path, "its header and table", e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * The file's header as it was when it was opened: its identity (random id, base id, length,
     * table checksum, header checksum). The mapping is of the file as it is now; a file rewritten
     * in place since shows a different header there, and whoever must serve exactly this file (a
     * lazy restore's page server) compares against this copy.
     *
     * @return a copy of the first {@link SnapshotFormat#HEADER_SIZE} bytes, as opened
     */
    public byte[] openedHeader() {
        return header.clone();
    }

    /** @return the file's path */
    public Path path() {
        return path;
    }

    /** @return this snapshot's id */
    public long id() {
        return id;
    }

    /** @return the id of the snapshot this one applies on top of, 0 for a full snapshot */
    public long baseId() {
        return baseId;
    }

    /** @return true for an incremental snapshot */
    public boolean incremental() {
        return incremental;
    }

    /** @return the blocks, in table order */
    public List<BlockInfo> blocks() {
        return blocks;
    }

    /**
     * Looks a block up by name.
     *
     * @param name the block's name
     * @return its entry, or null if the snapshot has no such block
     */
    public BlockInfo block(String name) {
        return byName.get(name);
    }

    /** @return the whole file, mapped read-only */
    public MemorySegment mapping() {
        return map;
    }

    /**
     * Returns where a page is.
     *
     * @param block the block's index
     * @param page the page's index in the block
     * @return {@link SnapshotFormat#ZERO}, {@link SnapshotFormat#ABSENT}, or the file offset of its bytes
     */
    public long location(int block, long page) {
        BlockInfo b = blocks.get(block);
        Objects.checkIndex(page, b.pageCount());
        try {
            return u64(map, b.entriesOffset() + page * SnapshotFormat.ENTRY_SIZE);
        } catch (InternalError e) { // SIGBUS: the file was cut under the mapping, the table (at its end) first
            throw unreadable(path, "the table entry of block " + block + " page " + page, e);
        }
    }

    /**
     * Returns a page's stored checksum.
     *
     * @param block the block's index
     * @param page the page's index in the block
     * @return CRC32C of the page's bytes (0 for zero and absent pages)
     */
    public int checksum(int block, long page) {
        BlockInfo b = blocks.get(block);
        Objects.checkIndex(page, b.pageCount());
        try {
            return u32(map, b.entriesOffset() + page * SnapshotFormat.ENTRY_SIZE + 8);
        } catch (InternalError e) { // SIGBUS, as in location()
            throw unreadable(path, "the table entry of block " + block + " page " + page, e);
        }
    }

    /**
     * Returns a stored page's bytes.
     *
     * @param block the block's index
     * @param page the page's index in the block
     * @return a read-only slice of the mapping, or null for a zero or absent page
     */
    public MemorySegment pageData(int block, long page) {
        long loc = location(block, page);
        return loc > SnapshotFormat.ABSENT ? map.asSlice(loc, blocks.get(block).pageSize()) : null;
    }

    /**
     * Checks a stored page against its checksum.
     *
     * @param block the block's index
     * @param page the page's index in the block
     * @return true if the page is not stored or its bytes match
     */
    public boolean verify(int block, long page) {
        try {
            MemorySegment data = pageData(block, page);
            return data == null || crc(data) == checksum(block, page);
        } catch (InternalError e) { // SIGBUS reading the mapping
            throw unreadable(path, "block " + block + " page " + page, e);
        }
    }

    /** Unmaps the file. Pages returned by {@link #pageData} must not be used afterwards. */
    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return String.format("SnapshotFile[%s id=%016x base=%016x %d blocks]", path, id, baseId, blocks.size());
    }

    /**
     * CRC32C of the bytes, read through a heap copy: a SIGBUS (a truncated file, a hole that a full
     * tmpfs cannot fill) inside the JDK's CRC32C stub kills the JVM, while in a copy it is an
     * {@code InternalError} the callers turn into a {@link SnapshotException}.
     */
    static int crc(MemorySegment seg) {
        CRC32C c = new CRC32C();
        byte[] chunk = new byte[(int) Math.min(seg.byteSize(), CRC_CHUNK)];
        for (long off = 0; off < seg.byteSize(); off += chunk.length) {
            int n = (int) Math.min(chunk.length, seg.byteSize() - off);
            SigbusFence.toArray(seg, off, chunk, 0, n); // a real call: the fault surfaces here
            c.update(chunk, 0, n);
        }
        return (int) c.getValue();
    }

    /**
     * A little-endian 64-bit field of the file, read through the fence: the mapping can fault at any
     * time (another process may cut the file), and the fault must surface in the caller's
     * {@code try}, not at a later safepoint of an inlined loop.
     */
    private static long u64(MemorySegment s, long off) {
        return SigbusFence.get(s, off, 8, false);
    }

    /** A little-endian 32-bit field, as {@link #u64}. */
    private static int u32(MemorySegment s, long off) {
        return (int) SigbusFence.get(s, off, 4, false);
    }

    /** A SIGBUS reading the mapping of {@code path}, as the exception the snapshot code throws. */
    static SnapshotException unreadable(Path path, String what, InternalError fault) {
        return new SnapshotException("snapshot " + path + ": reading " + what + " faulted (SIGBUS: the file was"
                + " truncated, or a hole in it cannot be read on a full file system)", fault);
    }

    /**
     * Whether a block entry's numbers hold together, every product and sum checked without overflow
     * (a crafted entry must not wrap past the checks into an out-of-bounds read).
     */
    private static boolean consistent(BlockInfo b, long tableOffset, long size) {
        long ps = b.pageSize();
        long pc = b.pageCount();
        long eo = b.entriesOffset();
        return ps >= SnapshotFormat.MIN_PAGE_SIZE && Long.bitCount(ps) == 1 && pc >= 0 && b.usedLength() >= 0
                && pc <= Long.MAX_VALUE / ps && pc * ps == b.usedLength()
                && eo >= tableOffset && eo <= size && pc <= (size - eo) / SnapshotFormat.ENTRY_SIZE;
    }

    private SnapshotException corrupt(String what) {
        return new SnapshotException("snapshot " + path + " is corrupt: " + what);
    }
}
