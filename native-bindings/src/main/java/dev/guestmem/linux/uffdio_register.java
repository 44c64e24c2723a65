package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct uffdio_register: UFFDIO_REGISTER's argument; ioctls comes back as the bit set {@code 1L
 * << _UFFDIO_*} allowed on the range.
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class uffdio_register {
    /** The C {@code sizeof(struct uffdio_register)} on x86_64. */
    public static final long SIZEOF = 32;

    private uffdio_register() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        uffdio_range.layout().withName("range"),
        Linux.C_LONG_LONG.withName("mode"),
        Linux.C_LONG_LONG.withName("ioctls")).withName("uffdio_register");

    /**
     * Returns the layout of {@code struct uffdio_register}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct uffdio_register)}.
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

    private static final GroupLayout range$LAYOUT = (GroupLayout) $LAYOUT.select(groupElement("range"));

    /**
     * Returns the layout of field {@code range}.
     *
     * @return the layout
     */
    public static GroupLayout range$layout() {
        return range$LAYOUT;
    }

    private static final long range$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code range}.
     *
     * @return the offset
     */
    public static long range$offset() {
        return range$OFFSET;
    }

    /**
     * Returns field {@code range} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment range(MemorySegment struct) {
        return struct.asSlice(range$OFFSET, range$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code range}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void range(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, range$OFFSET, range$LAYOUT.byteSize());
    }

    private static final OfLong mode$LAYOUT = (OfLong) $LAYOUT.select(groupElement("mode"));

    /**
     * Returns the layout of field {@code mode}.
     *
     * @return the layout
     */
    public static OfLong mode$layout() {
        return mode$LAYOUT;
    }

    private static final long mode$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code mode}.
     *
     * @return the offset
     */
    public static long mode$offset() {
        return mode$OFFSET;
    }

    /**
     * Reads field {@code mode}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long mode(MemorySegment struct) {
        return struct.get(mode$LAYOUT, mode$OFFSET);
    }

    /**
     * Writes field {@code mode}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void mode(MemorySegment struct, long fieldValue) {
        struct.set(mode$LAYOUT, mode$OFFSET, fieldValue);
    }

    private static final OfLong ioctls$LAYOUT = (OfLong) $LAYOUT.select(groupElement("ioctls"));

    /**
     * Returns the layout of field {@code ioctls}.
     *
     * @return the layout
     */
    public static OfLong ioctls$layout() {
        return ioctls$LAYOUT;
    }

    private static final long ioctls$OFFSET = 24;

    /**
     * Returns the byte offset of field {@code ioctls}.
     *
     * @return the offset
     */
    public static long ioctls$offset() {
        return ioctls$OFFSET;
    }

    /**
     * Reads field {@code ioctls}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long ioctls(MemorySegment struct) {
        return struct.get(ioctls$LAYOUT, ioctls$OFFSET);
    }

    /**
     * Writes field {@code ioctls}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void ioctls(MemorySegment struct, long fieldValue) {
        struct.set(ioctls$LAYOUT, ioctls$OFFSET, fieldValue);
    }
}
