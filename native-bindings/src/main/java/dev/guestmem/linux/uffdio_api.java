package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct uffdio_api: the UFFDIO_API handshake (requested api and features in, available features
 * and ioctls out).
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class uffdio_api {
    /** The C {@code sizeof(struct uffdio_api)} on x86_64. */
    public static final long SIZEOF = 24;

    private uffdio_api() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_LONG_LONG.withName("api"),
        Linux.C_LONG_LONG.withName("features"),
        Linux.C_LONG_LONG.withName("ioctls")).withName("uffdio_api");

    /**
     * Returns the layout of {@code struct uffdio_api}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct uffdio_api)}.
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

    private static final OfLong api$LAYOUT = (OfLong) $LAYOUT.select(groupElement("api"));

    /**
     * Returns the layout of field {@code api}.
     *
     * @return the layout
     */
    public static OfLong api$layout() {
        return api$LAYOUT;
    }

    private static final long api$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code api}.
     *
     * @return the offset
     */
    public static long api$offset() {
        return api$OFFSET;
    }

    /**
     * Reads field {@code api}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long api(MemorySegment struct) {
        return struct.get(api$LAYOUT, api$OFFSET);
    }

    /**
     * Writes field {@code api}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void api(MemorySegment struct, long fieldValue) {
        struct.set(api$LAYOUT, api$OFFSET, fieldValue);
    }

    private static final OfLong features$LAYOUT = (OfLong) $LAYOUT.select(groupElement("features"));

    /**
     * Returns the layout of field {@code features}.
     *
     * @return the layout
     */
    public static OfLong features$layout() {
        return features$LAYOUT;
    }

    private static final long features$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code features}.
     *
     * @return the offset
     */
    public static long features$offset() {
        return features$OFFSET;
    }

    /**
     * Reads field {@code features}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long features(MemorySegment struct) {
        return struct.get(features$LAYOUT, features$OFFSET);
    }

    /**
     * Writes field {@code features}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void features(MemorySegment struct, long fieldValue) {
        struct.set(features$LAYOUT, features$OFFSET, fieldValue);
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

    private static final long ioctls$OFFSET = 16;

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
