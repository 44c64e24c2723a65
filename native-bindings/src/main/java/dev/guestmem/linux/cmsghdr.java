package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfInt;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct cmsghdr: header of one control message; data follows at Linux.CMSG_LEN(0).
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class cmsghdr {
    /** The C {@code sizeof(struct cmsghdr)} on x86_64. */
    public static final long SIZEOF = 16;

    private cmsghdr() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_LONG.withName("cmsg_len"),
        Linux.C_INT.withName("cmsg_level"),
        Linux.C_INT.withName("cmsg_type")).withName("cmsghdr");

    /**
     * Returns the layout of {@code struct cmsghdr}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct cmsghdr)}.
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

    private static final OfLong cmsg_len$LAYOUT = (OfLong) $LAYOUT.select(groupElement("cmsg_len"));

    /**
     * Returns the layout of field {@code cmsg_len}.
     *
     * @return the layout
     */
    public static OfLong cmsg_len$layout() {
        return cmsg_len$LAYOUT;
    }

    private static final long cmsg_len$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code cmsg_len}.
     *
     * @return the offset
     */
    public static long cmsg_len$offset() {
        return cmsg_len$OFFSET;
    }

    /**
     * Reads field {@code cmsg_len}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long cmsg_len(MemorySegment struct) {
        return struct.get(cmsg_len$LAYOUT, cmsg_len$OFFSET);
    }

    /**
     * Writes field {@code cmsg_len}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void cmsg_len(MemorySegment struct, long fieldValue) {
        struct.set(cmsg_len$LAYOUT, cmsg_len$OFFSET, fieldValue);
    }

    private static final OfInt cmsg_level$LAYOUT = (OfInt) $LAYOUT.select(groupElement("cmsg_level"));

    /**
     * Returns the layout of field {@code cmsg_level}.
     *
     * @return the layout
     */
    public static OfInt cmsg_level$layout() {
        return cmsg_level$LAYOUT;
    }

    private static final long cmsg_level$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code cmsg_level}.
     *
     * @return the offset
     */
    public static long cmsg_level$offset() {
        return cmsg_level$OFFSET;
    }

    /**
     * Reads field {@code cmsg_level}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int cmsg_level(MemorySegment struct) {
        return struct.get(cmsg_level$LAYOUT, cmsg_level$OFFSET);
    }

    /**
     * Writes field {@code cmsg_level}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void cmsg_level(MemorySegment struct, int fieldValue) {
        struct.set(cmsg_level$LAYOUT, cmsg_level$OFFSET, fieldValue);
    }

    private static final OfInt cmsg_type$LAYOUT = (OfInt) $LAYOUT.select(groupElement("cmsg_type"));

    /**
     * Returns the layout of field {@code cmsg_type}.
     *
     * @return the layout
     */
    public static OfInt cmsg_type$layout() {
        return cmsg_type$LAYOUT;
    }

    private static final long cmsg_type$OFFSET = 12;

    /**
     * Returns the byte offset of field {@code cmsg_type}.
     *
     * @return the offset
     */
    public static long cmsg_type$offset() {
        return cmsg_type$OFFSET;
    }

    /**
     * Reads field {@code cmsg_type}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int cmsg_type(MemorySegment struct) {
        return struct.get(cmsg_type$LAYOUT, cmsg_type$OFFSET);
    }

    /**
     * Writes field {@code cmsg_type}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void cmsg_type(MemorySegment struct, int fieldValue) {
        struct.set(cmsg_type$LAYOUT, cmsg_type$OFFSET, fieldValue);
    }
}
