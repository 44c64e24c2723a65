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
        // Reserve lazily (MAP_NORESERVE): a 4 GiB guest costs nothing until it is touched.
        this.segment = mmapAnonymous(size).reinterpret(size, arena, seg -> munmap(seg, size));
    }

    private static final java.lang.foreign.Linker LINKER = java.lang.foreign.Linker.nativeLinker();
    private static final java.lang.invoke.MethodHandle MMAP = LINKER.downcallHandle(
            LINKER.defaultLookup().find("mmap").orElseThrow(),
            java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.ADDRESS,
                    java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_LONG,
                    java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_LONG));
    private static final java.lang.invoke.MethodHandle MUNMAP = LINKER.downcallHandle(
            LINKER.defaultLookup().find("munmap").orElseThrow(),
            java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT,
                    java.lang.foreign.ValueLayout.ADDRESS, java.lang.foreign.ValueLayout.JAVA_LONG));

    private static MemorySegment mmapAnonymous(long size) {
        try {
            // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE
            MemorySegment p = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, size, 3, 0x02 | 0x20 | 0x4000, -1, 0L);
            if (p.address() == -1L) {
                throw new IllegalStateException("mmap of " + size + " bytes failed");
            }
            return p;
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    private static void munmap(MemorySegment seg, long size) {
        try {
            int rc = (int) MUNMAP.invokeExact(seg, size);
            assert rc == 0;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
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
