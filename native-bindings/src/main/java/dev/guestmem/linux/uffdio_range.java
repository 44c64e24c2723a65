package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct uffdio_range: a start address and length.
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class uffdio_range {
    /** The C {@code sizeof(struct uffdio_range)} on x86_64. */
    public static final long SIZEOF = 16;

    private uffdio_range() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_LONG_LONG.withName("start"),
        Linux.C_LONG_LONG.withName("len")).withName("uffdio_range");

    /**
     * Returns the layout of {@code struct uffdio_range}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct uffdio_range)}.
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

    private static final OfLong start$LAYOUT = (OfLong) $LAYOUT.select(groupElement("start"));

    /**
     * Returns the layout of field {@code start}.
     *
     * @return the layout
     */
    public static OfLong start$layout() {
        return start$LAYOUT;
    }

    private static final long start$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code start}.
     *
     * @return the offset
     */
    public static long start$offset() {
        return start$OFFSET;
    }

    /**
     * Reads field {@code start}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long start(MemorySegment struct) {
        return struct.get(start$LAYOUT, start$OFFSET);
    }

    /**
     * Writes field {@code start}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void start(MemorySegment struct, long fieldValue) {
        struct.set(start$LAYOUT, start$OFFSET, fieldValue);
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

    private static final long len$OFFSET = 8;

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
}
