package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfInt;
import java.lang.foreign.ValueLayout.OfShort;

/**
 * struct pollfd: one entry of poll's array.
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class pollfd {
    /** The C {@code sizeof(struct pollfd)} on x86_64. */
    public static final long SIZEOF = 8;

    private pollfd() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_INT.withName("fd"),
        Linux.C_SHORT.withName("events"),
        Linux.C_SHORT.withName("revents")).withName("pollfd");

    /**
     * Returns the layout of {@code struct pollfd}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct pollfd)}.
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

    private static final OfInt fd$LAYOUT = (OfInt) $LAYOUT.select(groupElement("fd"));

    /**
     * Returns the layout of field {@code fd}.
     *
     * @return the layout
     */
    public static OfInt fd$layout() {
        return fd$LAYOUT;
    }

    private static final long fd$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code fd}.
     *
     * @return the offset
     */
    public static long fd$offset() {
        return fd$OFFSET;
    }

    /**
     * Reads field {@code fd}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int fd(MemorySegment struct) {
        return struct.get(fd$LAYOUT, fd$OFFSET);
    }

    /**
     * Writes field {@code fd}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void fd(MemorySegment struct, int fieldValue) {
        struct.set(fd$LAYOUT, fd$OFFSET, fieldValue);
    }

    private static final OfShort events$LAYOUT = (OfShort) $LAYOUT.select(groupElement("events"));

    /**
     * Returns the layout of field {@code events}.
     *
     * @return the layout
     */
    public static OfShort events$layout() {
        return events$LAYOUT;
    }

    private static final long events$OFFSET = 4;

    /**
     * Returns the byte offset of field {@code events}.
     *
     * @return the offset
     */
    public static long events$offset() {
        return events$OFFSET;
    }

    /**
     * Reads field {@code events}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static short events(MemorySegment struct) {
        return struct.get(events$LAYOUT, events$OFFSET);
    }

    /**
     * Writes field {@code events}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void events(MemorySegment struct, short fieldValue) {
        struct.set(events$LAYOUT, events$OFFSET, fieldValue);
    }

    private static final OfShort revents$LAYOUT = (OfShort) $LAYOUT.select(groupElement("revents"));

    /**
     * Returns the layout of field {@code revents}.
     *
     * @return the layout
     */
    public static OfShort revents$layout() {
        return revents$LAYOUT;
    }

    private static final long revents$OFFSET = 6;

    /**
     * Returns the byte offset of field {@code revents}.
     *
     * @return the offset
     */
    public static long revents$offset() {
        return revents$OFFSET;
    }

    /**
     * Reads field {@code revents}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static short revents(MemorySegment struct) {
        return struct.get(revents$LAYOUT, revents$OFFSET);
    }

    /**
     * Writes field {@code revents}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void revents(MemorySegment struct, short fieldValue) {
        struct.set(revents$LAYOUT, revents$OFFSET, fieldValue);
    }
}
