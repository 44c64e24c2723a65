package dev.guestmem.snapshot;

/**
 * The guestmem RAM snapshot file format, version 1. All integers are little-endian.
 *
 * <pre>
 * offset 0: header, {@value #HEADER_SIZE} bytes
 *    0  u8[8] magic "GMSNAP\0\1"
 *    8  u32   version (1)
 *   12  u32   flags: bit 0 = incremental (pages not written since the base are absent)
 *   16  u64   snapshot id (random, nonzero)
 *   24  u64   base id: the id of the snapshot this one applies on top of, 0 for a full one
 *   32  u32   block count
 *   36  u32   reserved (0)
 *   40  u64   table offset
 *   48  u64   table length
 *   56  u64   data offset ({@value #DATA_ALIGN})
 *   64  u64   file length
 *   72  u32   CRC32C of the table
 *   76  u32   CRC32C of header bytes 0..75
 *   80  zeros up to {@value #HEADER_SIZE}, and on to the data offset (not checksummed: a reader
 *       refuses a file where they are not zero)
 * data offset: page data, each stored page at a multiple of {@value #DATA_ALIGN}, so the file can be
 *   mapped and a page handed to UFFDIO_COPY straight from the mapping
 * table offset: the block table, then every block's page entries
 *   per block: u32 name length, UTF-8 name, zeros to a multiple of 8,
 *              u64 used length, u64 page size, u64 page count, u64 stored pages,
 *              u64 absolute offset of its page entries
 *   per page ({@value #ENTRY_SIZE} bytes): u64 location, u32 CRC32C of the page, u32 reserved (0)
 *     location {@value #ZERO} = the page is all zeros (not stored; CRC 0)
 *     location {@value #ABSENT} = not in this (incremental) snapshot: take it from the base
 *     otherwise the file offset of the page's bytes
 * </pre>
 * The table comes after the data so a writer streams pages once; the header is written last, so a
 * file cut short by a crash has a zero or stale header and is refused.
 *
 * <p>Thread safety: constants only.
 */
public final class SnapshotFormat {
    private SnapshotFormat() {
    }

    /** The magic, as a little-endian u64 of the bytes "GMSNAP\0\1". */
    public static final long MAGIC = 0x0100_5041_4e53_4d47L;
    /** The format version this code writes and reads. */
    public static final int VERSION = 1;
    /** Header flag: an incremental snapshot. */
    public static final int FLAG_INCREMENTAL = 1;
    /** Size of the header. */
    public static final int HEADER_SIZE = 128;
    /** Alignment of stored page data in the file, and the data offset. */
    public static final long DATA_ALIGN = 4096;
    /** Size of one page entry in the table. */
    public static final int ENTRY_SIZE = 16;
    /** Page location meaning "all zeros, not stored". */
    public static final long ZERO = 0;
    /** Page location meaning "absent from this incremental snapshot". */
    public static final long ABSENT = 1;
    /** Longest block name, in UTF-8 bytes. */
    public static final int MAX_NAME_BYTES = 255;
    /** Smallest page size. */
    public static final long MIN_PAGE_SIZE = 4096;
    /** Bytes of guest RAM between two progress reports. */
    public static final long PROGRESS_STEP = 64L << 20;

    /** Header field offsets. */
    static final int H_MAGIC = 0, H_VERSION = 8, H_FLAGS = 12, H_ID = 16, H_BASE = 24, H_BLOCKS = 32,
            H_TABLE_OFF = 40, H_TABLE_LEN = 48, H_DATA_OFF = 56, H_FILE_LEN = 64, H_TABLE_CRC = 72,
            H_HEADER_CRC = 76;
    /** Where the zeros start that fill the header and the gap up to the data offset (not checksummed). */
    static final int H_RESERVED_ZEROS = 80;
}
