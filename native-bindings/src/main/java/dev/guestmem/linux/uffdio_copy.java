package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct uffdio_copy: UFFDIO_COPY's argument; copy receives the bytes copied or a negated errno.
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class uffdio_copy {
    /** The C {@code sizeof(struct uffdio_copy)} on x86_64. */
    public static final long SIZEOF = 40;

    private uffdio_copy() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_LONG_LONG.withName("dst"),
        Linux.C_LONG_LONG.withName("src"),
        Linux.C_LONG_LONG.withName("len"),
        Linux.C_LONG_LONG.withName("mode"),
        Linux.C_LONG_LONG.withName("copy")).withName("uffdio_copy");

    /**
     * Returns the layout of {@code struct uffdio_copy}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct uffdio_copy)}.
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

    private static final OfLong dst$LAYOUT = (OfLong) $LAYOUT.select(groupElement("dst"));

    /**
     * Returns the layout of field {@code dst}.
     *
     * @return the layout
     */
    public static OfLong dst$layout() {
        return dst$LAYOUT;
    }

    private static final long dst$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code dst}.
     *
     * @return the offset
     */
    public static long dst$offset() {
        return dst$OFFSET;
    }

    /**
     * Reads field {@code dst}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long dst(MemorySegment struct) {
        return struct.get(dst$LAYOUT, dst$OFFSET);
    }

    /**
     * Writes field {@code dst}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void dst(MemorySegment struct, long fieldValue) {
        struct.set(dst$LAYOUT, dst$OFFSET, fieldValue);
    }

    private static final OfLong src$LAYOUT = (OfLong) $LAYOUT.select(groupElement("src"));

    /**
     * Returns the layout of field {@code src}.
     *
     * @return the layout
     */
    public static OfLong src$layout() {
        return src$LAYOUT;
    }

    private static final long src$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code src}.
     *
     * @return the offset
     */
    public static long src$offset() {
        return src$OFFSET;
    }

    /**
     * Reads field {@code src}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long src(MemorySegment struct) {
        return struct.get(src$LAYOUT, src$OFFSET);
    }

    /**
     * Writes field {@code src}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void src(MemorySegment struct, long fieldValue) {
        struct.set(src$LAYOUT, src$OFFSET, fieldValue);
    }

    private static final OfLong len$LAYOUT = (OfLong) $LAYOUT.select(groupElement("len"));

    /**
     * Returns the layout of field {@code len}.
     *
     * @return the layout
     */
    public static OfLong len$layout() {
        return len$LAYOUT;
    }

    private static final long len$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code len}.
     *
     * @return the offset
     */
    public static long len$offset() {
        return len$OFFSET;
    }

    /**
     * Reads field {@code len}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long len(MemorySegment struct) {
        return struct.get(len$LAYOUT, len$OFFSET);
    }

    /**
     * Writes field {@code len}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void len(MemorySegment struct, long fieldValue) {
        struct.set(len$LAYOUT, len$OFFSET, fieldValue);
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

    private static final long mode$OFFSET = 24;

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

    private static final OfLong copy$LAYOUT = (OfLong) $LAYOUT.select(groupElement("copy"));

    /**
     * Returns the layout of field {@code copy}.
     *
     * @return the layout
     */
    public static OfLong copy$layout() {
        return copy$LAYOUT;
    }

    private static final long copy$OFFSET = 32;

    /**
     * Returns the byte offset of field {@code copy}.
     *
     * @return the offset
     */
    public static long copy$offset() {
        return copy$OFFSET;
    }

    /**
     * Reads field {@code copy}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long copy(MemorySegment struct) {
        return struct.get(copy$LAYOUT, copy$OFFSET);
    }

    /**
     * Writes field {@code copy}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void copy(MemorySegment struct, long fieldValue) {
        struct.set(copy$LAYOUT, copy$OFFSET, fieldValue);
    }
}
