package dev.guestmem.snapshot;

import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One block of RAM as the snapshot code sees it: a name (QEMU's {@code RAMBlock.idstr}), the host
 * memory and the page size the block is mapped with. A {@link RamBlock} is turned into one with
 * {@link #of(RamBlock)}, which also names the block itself: a lazy restore then holds the block
 * {@linkplain RamBlock#holdFaultProne(String) fault-prone} while its pages can be poisoned, so the
 * engine's access paths fence them. A bare segment ({@code new SnapshotBlock(name, segment,
 * pageSize)}) works for saving and restoring, but no address space learns that it can fault.
 *
 * <p>Thread safety: immutable; the memory it names is not, and the caller must keep writers away
 * from it while it is saved or restored (or accept a torn snapshot, as QEMU does without a pause).
 *
 * @param name the block's name, unique in a snapshot, 1 to 255 UTF-8 bytes
 * @param segment the block's host memory, {@code usedLength} bytes, a multiple of {@code pageSize}
 * @param pageSize the block's page size, a power of two of at least 4096
 * @param ramBlock the block the segment belongs to, or null for a bare segment
 */
public record SnapshotBlock(String name, MemorySegment segment, long pageSize, RamBlock ramBlock) {
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
        if (ramBlock != null && (segment.address() != ramBlock.hostAddress()
                || segment.byteSize() > ramBlock.maxLength())) {
            throw new IllegalArgumentException("block '" + name + "': the segment at 0x" + Long.toHexString(segment.address())
                    + " is not the memory of RAM block '" + ramBlock.idstr() + "'");
        }
    }

    /**
     * A bare segment, not known to belong to a {@link RamBlock}.
     *
     * @param name the block's name
     * @param segment its host memory
     * @param pageSize its page size
     * @throws IllegalArgumentException as the canonical constructor
     */
    public SnapshotBlock(String name, MemorySegment segment, long pageSize) {
        this(name, segment, pageSize, null);
    }

    /**
     * The block as a snapshot sees it: its {@code idstr}, its memory in use and its page size.
     *
     * @param block a RAM block whose used length is a multiple of its page size
     * @return the snapshot block, naming {@code block}
     * @throws IllegalArgumentException if the used length is not a multiple of the page size, or the
     *     name is not 1 to 255 UTF-8 bytes
     * @throws IllegalStateException if the block is released
     */
    public static SnapshotBlock of(RamBlock block) {
        if (block.isReleased()) {
            throw new IllegalStateException("RAM block '" + block.idstr() + "' is released");
        }
        return new SnapshotBlock(block.idstr(), block.segment(), block.pageSize(), block);
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
