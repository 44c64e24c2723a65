package dev.guestmem.snapshot;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One block of RAM as the snapshot code sees it: a name (QEMU's {@code RAMBlock.idstr}), the host
 * memory and the page size the block is mapped with. A {@code RamBlock} is turned into one with
 * {@code new SnapshotBlock(block.idstr(), block.segment(), pageSize)}.
 *
 * <p>Thread safety: immutable; the memory it names is not, and the caller must keep writers away
 * from it while it is saved or restored (or accept a torn snapshot, as QEMU does without a pause).
 *
 * @param name the block's name, unique in a snapshot, 1 to 255 UTF-8 bytes
 * @param segment the block's host memory, {@code usedLength} bytes, a multiple of {@code pageSize}
 * @param pageSize the block's page size, a power of two of at least 4096
 */
public record SnapshotBlock(String name, MemorySegment segment, long pageSize) {
    /**
     * Checks the arguments.
     *
     * @throws IllegalArgumentException if the name is empty or longer than 255 bytes, the page size
     *     is not a power of two of at least 4096, or the segment's size is not a multiple of it
     */
    public SnapshotBlock {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(segment, "segment");
        int nameBytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (nameBytes == 0 || nameBytes > SnapshotFormat.MAX_NAME_BYTES) {
            throw new IllegalArgumentException("block name must be 1.." + SnapshotFormat.MAX_NAME_BYTES
                    + " UTF-8 bytes: '" + name + "' has " + nameBytes);
        }
        if (pageSize < SnapshotFormat.MIN_PAGE_SIZE || Long.bitCount(pageSize) != 1) {
            throw new IllegalArgumentException("page size of block '" + name + "' must be a power of two >= "
                    + SnapshotFormat.MIN_PAGE_SIZE + ": " + pageSize);
        }
        if (segment.byteSize() % pageSize != 0) {
            throw new IllegalArgumentException("block '" + name + "' is " + segment.byteSize()
                    + " bytes, not a multiple of its page size " + pageSize);
        }
    }

    /** @return the block's size in bytes */
    public long usedLength() {
        return segment.byteSize();
    }

    /** @return the number of pages in the block */
    public long pageCount() {
        return segment.byteSize() / pageSize;
    }
}
