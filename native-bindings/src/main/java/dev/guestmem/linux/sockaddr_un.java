package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout.OfShort;

/**
 * struct sockaddr_un: a Unix domain socket address (path up to 107 bytes plus NUL).
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class sockaddr_un {
    /** The C {@code sizeof(struct sockaddr_un)} on x86_64. */
    public static final long SIZEOF = 110;

    private sockaddr_un() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_SHORT.withName("sun_family"),
        MemoryLayout.sequenceLayout(108, Linux.C_CHAR).withName("sun_path")).withName("sockaddr_un");

    /**
     * Returns the layout of {@code struct sockaddr_un}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct sockaddr_un)}.
     *
     * @return the size in bytes
     */
    public static long sizeof() {
        return $LAYOUT.byteSize();
    }

    /**
     * Allocates one zero-filled struct.
     *
     * @param allocator where to allocate it
     * @return the new segment, {@link #sizeof()} bytes
     */
    public static MemorySegment allocate(SegmentAllocator allocator) {
        return allocator.allocate($LAYOUT);
    }

    /**
     * Allocates an array of structs.
     *
     * @param count number of elements
     * @param allocator where to allocate it
     * @return the new segment
     */
    public static MemorySegment allocateArray(long count, SegmentAllocator allocator) {
        return allocator.allocate(MemoryLayout.sequenceLayout(count, $LAYOUT));
    }

    /**
     * Returns element {@code index} of an array of structs.
     *
     * @param array the array segment
     * @param index the element index
     * @return a slice of {@link #sizeof()} bytes
     */
    public static MemorySegment asSlice(MemorySegment array, long index) {
        return array.asSlice($LAYOUT.byteSize() * index, $LAYOUT.byteSize());
    }

    /**
     * Views native memory at an address as one struct.
     *
     * @param addr a segment (usually zero-length) holding the address
     * @return a segment of {@link #sizeof()} bytes, global scope
     */
    public static MemorySegment reinterpret(MemorySegment addr) {
        return addr.reinterpret($LAYOUT.byteSize());
    }

    private static final OfShort sun_family$LAYOUT = (OfShort) $LAYOUT.select(groupElement("sun_family"));

    /**
     * Returns the layout of field {@code sun_family}.
     *
     * @return the layout
     */
    public static OfShort sun_family$layout() {
        return sun_family$LAYOUT;
    }

    private static final long sun_family$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code sun_family}.
     *
     * @return the offset
     */
    public static long sun_family$offset() {
        return sun_family$OFFSET;
    }

    /**
     * Reads field {@code sun_family}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static short sun_family(MemorySegment struct) {
        return struct.get(sun_family$LAYOUT, sun_family$OFFSET);
    }

    /**
     * Writes field {@code sun_family}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void sun_family(MemorySegment struct, short fieldValue) {
        struct.set(sun_family$LAYOUT, sun_family$OFFSET, fieldValue);
    }

    private static final SequenceLayout sun_path$LAYOUT = (SequenceLayout) $LAYOUT.select(groupElement("sun_path"));

    /**
     * Returns the layout of field {@code sun_path}.
     *
     * @return the layout
     */
    public static SequenceLayout sun_path$layout() {
        return sun_path$LAYOUT;
    }

    private static final long sun_path$OFFSET = 2;

    /**
     * Returns the byte offset of field {@code sun_path}.
     *
     * @return the offset
     */
    public static long sun_path$offset() {
        return sun_path$OFFSET;
    }

    /**
     * Returns field {@code sun_path} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment sun_path(MemorySegment struct) {
        return struct.asSlice(sun_path$OFFSET, sun_path$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code sun_path}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void sun_path(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, sun_path$OFFSET, sun_path$LAYOUT.byteSize());
    }
}
