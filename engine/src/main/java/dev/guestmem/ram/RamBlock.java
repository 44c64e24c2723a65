package dev.guestmem.ram;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Guest RAM: host memory behind RAM, ROM and ROM-device regions, as QEMU's {@code RAMBlock}.
 * Placeholder (anonymous memory only) until the RAM-block package lands.
 */
public final class RamBlock {
    private final String idstr;
    private final long usedLength;
    private final Arena arena;
    private final MemorySegment segment;
    private long offset;

    private RamBlock(String idstr, long size) {
        this.idstr = idstr;
        this.usedLength = size;
        this.arena = Arena.ofShared();
        this.segment = arena.allocate(size, 4096);
    }

    /**
     * Allocates anonymous RAM.
     *
     * @param idstr block name
     * @param size size in bytes
     * @return the block
     */
    public static RamBlock anonymous(String idstr, long size) {
        return new RamBlock(idstr, size);
    }

    /** @return the block's name */
    public String idstr() {
        return idstr;
    }

    /** @return bytes in use */
    public long usedLength() {
        return usedLength;
    }

    /** @return the host memory */
    public MemorySegment segment() {
        return segment;
    }

    /** @return offset in the ram-address space */
    public long offset() {
        return offset;
    }
}
